"""An example model service: FastAPI with a driftline-monitored churn model.

Endpoints: ``POST /predict`` (JSON body of the three features), ``GET /metrics``
(Prometheus, with exemplars in the OpenMetrics format), ``GET /healthz``.
driftline reads its settings from ``DRIFTLINE_*`` variables (``DRIFTLINE_SIDECAR_URL``,
``DRIFTLINE_OTLP_ENDPOINT``, ``DRIFTLINE_SERVICE_NAME``); the model version from
``MODEL_VERSION``.
"""

from __future__ import annotations

import os

import driftline
from fastapi import FastAPI
from pydantic import BaseModel, Field

try:  # run as a package (tests) or from its own directory (the container)
    from examples.fastapi_service.model import churn_probability
except ImportError:  # pragma: no cover - the container layout
    from model import churn_probability  # type: ignore[no-redef]

MODEL_VERSION = os.environ.get("MODEL_VERSION", "1.0.0")


class Customer(BaseModel):
    """The features of one customer."""

    tenure_months: float = Field(ge=0)
    monthly_spend: float = Field(ge=0)
    plan: str


@driftline.monitor(model="churn", version=MODEL_VERSION, info={"example": "fastapi_service"})
def predict_churn(features: dict[str, object]) -> float:
    """The churn probability of one customer, monitored by driftline."""
    return churn_probability(
        float(features["tenure_months"]),  # type: ignore[arg-type]
        float(features["monthly_spend"]),  # type: ignore[arg-type]
        str(features["plan"]),
    )


app = FastAPI(title="driftline example: churn")
app.mount("/metrics", driftline.make_asgi_app())


@app.post("/predict")
def predict(customer: Customer) -> dict[str, object]:
    """Predict churn for one customer; the answer carries the prediction id for feedback."""
    probability = predict_churn(customer.model_dump())
    return {
        "model": "churn",
        "version": MODEL_VERSION,
        "churn_probability": probability,
        "prediction_id": driftline.last_prediction_id(),
    }


@app.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}
