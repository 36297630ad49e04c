"""A model service for the stack test: driftline-decorated models behind a small HTTP API.

Run as ``python -m tests.integration._model_service --port P --sidecar-url URL``. It
configures driftline (capture to ``--sidecar-url``), serves the SDK metrics with
``driftline.start_metrics_server`` on a free 127.0.0.1 port, and answers:

- ``GET /healthz``: ``{"metrics_port": N}``;
- ``POST /predict`` ``{"model", "version", "rows": [features, ...], "fail": bool,
  "sleep": seconds, "challenger": version or null, "outcomes": bool}``: one decorated
  call per row (each raises when ``fail``, sleeps ``sleep`` first; with ``challenger``,
  a challenger of that version runs in shadow mode next to every call; with
  ``outcomes``, each successful call's ground truth is sent with
  ``driftline.record_outcome``); answers ``{"calls": n}`` once the champion's calls are
  done, or 500 ``{"error": ...}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import driftline

__all__ = ["score"]

Predict = Callable[..., dict[str, object]]


def _probability(features: Mapping[str, Any]) -> float:
    z = (float(features["tenure_months"]) - 24.0) / 6.0 + (
        float(features["monthly_spend"]) - 50.0
    ) / 20.0
    return 1.0 / (1.0 + math.exp(-z))


def _outputs(probability: float) -> dict[str, object]:
    return {"probability": probability, "label": "churn" if probability > 0.5 else "stay"}


def score(features: Mapping[str, Any]) -> dict[str, object]:
    """The churn model: a probability rising with tenure and spend, and its label."""
    return _outputs(_probability(features))


def _model(
    features: Mapping[str, Any], *, fail: bool = False, sleep: float = 0.0
) -> dict[str, object]:
    if sleep:
        time.sleep(sleep)
    if fail:
        raise ValueError("the model failed, as the test asked")
    return score(features)


def _challenger(features: Mapping[str, Any], **_: object) -> dict[str, object]:
    """A challenger that scores a little higher than the champion."""
    return _outputs(min(1.0, _probability(features) + 0.05))


# The true outcome of each prediction, drawn from its probability (the model is calibrated).
_outcomes = random.Random(0)


class _Models:
    """One decorated function per model version (and challenger), built on first use."""

    def __init__(self) -> None:
        self._functions: dict[tuple[str, str, str | None], Predict] = {}

    def get(self, model: str, version: str, challenger: str | None) -> Predict:
        key = (model, version, challenger)
        if key not in self._functions:
            shadow = (
                None if challenger is None else driftline.Shadow(_challenger, version=challenger)
            )
            decorate = driftline.monitor(model=model, version=version, shadow=shadow)
            self._functions[key] = decorate(_model)
        return self._functions[key]


def _run(models: _Models, body: Mapping[str, Any]) -> int:
    """Call the model once per row of a ``/predict`` body; return the number of calls."""
    predict = models.get(body["model"], body["version"], body.get("challenger"))
    fail, sleep = bool(body.get("fail")), float(body.get("sleep", 0))
    for row in body["rows"]:
        try:
            predict(row, fail=fail, sleep=sleep)
        except ValueError:
            continue  # the model's own failure: driftline counts it as outcome="error"
        prediction_id = driftline.last_prediction_id()
        if body.get("outcomes") and prediction_id is not None:
            churned = _outcomes.random() < _probability(row)
            driftline.record_outcome(prediction_id, int(churned))
    return len(body["rows"])


def _handler(models: _Models, metrics_port: int) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer(200, {"metrics_port": metrics_port})

        def do_POST(self) -> None:
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                self._answer(200, {"calls": _run(models, body)})
            except Exception as exc:  # shown to the test, which fails with it
                self._answer(500, {"error": repr(exc)})

        def _answer(self, status: int, document: object) -> None:
            raw = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            """Stay quiet: the test reports failures with its own messages."""

    return Handler


def _quiet_logger() -> logging.Logger:
    """A logger that drops driftline's prediction lines (every failed call would log one)."""
    logger = logging.getLogger("model-service.predictions")
    logger.propagate = False
    logger.disabled = True
    return logger


def main() -> None:
    """Configure driftline, start the metrics server and serve the API until killed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sidecar-url", required=True)
    parser.add_argument("--service-name", default="churn-api")
    parser.add_argument("--capture-queue-size", type=int, default=10_000)
    parser.add_argument("--capture-timeout", type=float, default=2.0)
    args = parser.parse_args()
    driftline.configure(
        service_name=args.service_name,
        sidecar_url=args.sidecar_url,
        capture_flush_interval=0.1,
        capture_queue_size=args.capture_queue_size,
        capture_timeout=args.capture_timeout,
        log_sample_rate=0.0,
        log_output=_quiet_logger(),
    )
    metrics = driftline.start_metrics_server(port=0, addr="127.0.0.1")
    server = ThreadingHTTPServer(("127.0.0.1", args.port), _handler(_Models(), metrics.port))
    server.daemon_threads = True
    server.serve_forever(poll_interval=0.05)


if __name__ == "__main__":
    main()
