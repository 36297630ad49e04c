"""Features and predictions from every supported input; failures are counted, never raised."""

from __future__ import annotations

import dataclasses

import driftline
import numpy as np
import pandas as pd
import pydantic
import pytest
from driftline._extract import ExtractionError, features_of, prediction_of
from driftline.testing import Telemetry
from prometheus_client import CollectorRegistry


@dataclasses.dataclass
class Row:
    """A dataclass input."""

    age: float
    plan: str


class RowModel(pydantic.BaseModel):
    """A pydantic input."""

    age: float
    plan: str


@pytest.mark.parametrize(
    "source",
    [
        {"age": 41.0, "plan": "pro"},
        Row(41.0, "pro"),
        RowModel(age=41.0, plan="pro"),
        pd.Series({"age": 41.0, "plan": "pro"}),
    ],
    ids=["dict", "dataclass", "pydantic", "series"],
)
def test_features_from_records(source: object) -> None:
    """Mappings, dataclasses, pydantic models and pandas rows give the same features."""
    assert features_of(source) == {"age": 41.0, "plan": "pro"}


def test_features_from_numpy_row() -> None:
    """A numpy row is named by feature_names."""
    assert features_of(np.array([1.0, 2.0]), ("a", "b")) == {"a": 1.0, "b": 2.0}


def test_numpy_row_without_names_fails() -> None:
    """A numpy row without feature_names cannot be read."""
    with pytest.raises(ExtractionError, match="feature_names"):
        features_of(np.array([1.0, 2.0]))


def test_features_are_a_copy() -> None:
    """Changing the input after the call does not change the extracted features."""
    source = {"age": 41.0}
    features = features_of(source)
    source["age"] = 0.0
    assert features == {"age": 41.0}


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (0.25, {"value": 0.25}),
        (3, {"value": 3}),
        (np.float32(0.5), {"value": 0.5}),
        (np.int64(2), {"value": 2}),
        ("churn", {"value": "churn"}),
        (True, {"value": True}),
        ({"p": 0.1, "label": "a"}, {"p": 0.1, "label": "a"}),
    ],
    ids=["float", "int", "np-float", "np-int", "label", "bool", "dict"],
)
def test_predictions(result: object, expected: dict[str, object]) -> None:
    """Numbers, numpy scalars, labels and dicts of named outputs are read as documented."""
    assert prediction_of(result) == expected


def test_unreadable_prediction_fails() -> None:
    """A list is not a single prediction."""
    with pytest.raises(ExtractionError):
        prediction_of([0.1, 0.9])


def test_user_callables_choose_features_and_prediction(telemetry: Telemetry) -> None:
    """features= and prediction= callables decide what is captured."""

    @driftline.monitor(
        model="m",
        version="1",
        features=lambda user_id, row: row,
        prediction=lambda result: {"score": result[0]},
    )
    def predict(user_id: str, row: dict[str, float]) -> tuple[float, str]:
        return 0.3, "debug"

    predict("u1", {"x": 1.0})
    assert [(r.features, r.predictions) for r in telemetry.records] == [
        ({"x": 1.0}, {"score": 0.3})
    ]


def test_extraction_failure_returns_prediction_and_counts(telemetry: Telemetry) -> None:
    """Unreadable features still return the prediction; the record is dropped and counted."""

    @driftline.monitor(model="m", version="1")
    def predict(features: object) -> float:
        return 0.5

    assert predict(object()) == 0.5
    assert (telemetry.records, telemetry.dropped) == ([], {"extraction_error": 1})


def test_extraction_failure_warns_once(
    telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    """Repeated extraction failures log one warning, not one per call."""

    @driftline.monitor(model="m", version="1")
    def predict(features: object) -> float:
        return 0.5

    for _ in range(5):
        predict(object())
    warnings = [r for r in caplog.records if r.name == "driftline" and "cannot read" in r.message]
    assert len(warnings) == 1


def test_unreadable_prediction_without_capture_counts_metric_error() -> None:
    """Without capture, an unreadable prediction counts as a metric telemetry error."""
    registry = CollectorRegistry()
    driftline.configure(registry=registry, trace_sample_rate=0, log_sample_rate=0)

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> object:
        return object()

    predict({"x": 1.0})
    assert registry.get_sample_value("driftline_telemetry_errors_total", {"signal": "metric"}) == 1
