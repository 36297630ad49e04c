"""Shadow pairs through the real capture queue to an HTTP sink, as the sidecar receives them."""

from __future__ import annotations

from collections.abc import Iterator

import driftline
import pytest
from driftline import Shadow
from prometheus_client import CollectorRegistry

from tests.support.http_sink import HttpSink


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    """A running HTTP sink on 127.0.0.1, stopped after the test."""
    with HttpSink() as running:
        yield running


@pytest.fixture
def configured(sink: HttpSink, registry: CollectorRegistry) -> Iterator[CollectorRegistry]:
    """driftline shipping to the sink (60 s interval: only flush sends); shut down after."""
    driftline.configure(
        service_name="churn-api",
        sidecar_url=sink.url,
        registry=registry,
        capture_flush_interval=60.0,
        log_sample_rate=0.0,
    )
    yield registry
    driftline.shutdown(1.0)


def test_a_shadow_pair_arrives_as_two_batches_with_one_id(
    sink: HttpSink, configured: CollectorRegistry
) -> None:
    """The champion's and challenger's records share the id, each in a batch of its role."""

    @driftline.monitor(
        model="churn", version="2.3.0", shadow=Shadow(lambda f: 0.91, version="2.4.0")
    )
    def predict(features: dict[str, float]) -> float:
        return 0.82

    predict({"tenure": 12.0})
    pid = driftline.last_prediction_id()
    assert driftline.flush(10.0)

    batches = [b for r in sink.requests for b in r.body["batches"]]
    assert sorted(
        (b["role"], b["version"], b["ids"], b["features"], b["predictions"]) for b in batches
    ) == [
        ("challenger", "2.4.0", [pid], {"tenure": [12.0]}, {"value": [0.91]}),
        ("champion", "2.3.0", [pid], {"tenure": [12.0]}, {"value": [0.82]}),
    ]


def test_a_shadowed_batch_call_arrives_as_column_pairs(
    sink: HttpSink, configured: CollectorRegistry
) -> None:
    """Every row of a shadowed batch call is sent by both roles under the row's id."""

    @driftline.monitor(
        model="churn",
        version="2.3.0",
        batch=True,
        shadow=Shadow(lambda rows: [1 for _ in rows], version="2.4.0"),
    )
    def predict(rows: list[dict[str, float]]) -> list[int]:
        return [0 for _ in rows]

    predict([{"x": 1.0}, {"x": 2.0}, {"x": 3.0}])
    ids = list(driftline.last_prediction_ids())
    assert driftline.flush(10.0)

    batches = {b["role"]: b for r in sink.requests for b in r.body["batches"]}
    assert (batches["champion"]["ids"], batches["challenger"]["ids"]) == (ids, ids)
    assert (batches["champion"]["predictions"], batches["challenger"]["predictions"]) == (
        {"value": [0, 0, 0]},
        {"value": [1, 1, 1]},
    )
