"""driftline's SDK metrics checked by promtool and scraped by a real Prometheus with exemplars.

One Prometheus serves the whole module (its first scrape comes about 5 s after
it starts); it scrapes a ``start_metrics_server`` on 127.0.0.1 that serves a
registry of the module's own, so each test configures driftline with that
registry and uses a model name of its own.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import driftline
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry, generate_latest

from tests.support.http_sink import HttpSink
from tests.support.otlp_receiver import OtlpReceiver
from tests.support.ports import LOOPBACK
from tests.support.prometheus import Prometheus

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def scraped_registry() -> CollectorRegistry:
    """The registry the module's metrics server serves to Prometheus."""
    return CollectorRegistry()


@pytest.fixture(scope="module")
def prometheus(scraped_registry: CollectorRegistry) -> Iterator[Prometheus]:
    """A real Prometheus scraping driftline's metrics server every second, stopped by pid."""
    server = driftline.start_metrics_server(port=0, addr=LOOPBACK, registry=scraped_registry)
    try:
        with Prometheus(targets=[f"{LOOPBACK}:{server.port}"], scrape_interval="1s") as prom:
            yield prom
    finally:
        server.close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    """One OTLP/HTTP receiver for the module."""
    with OtlpReceiver() as server:
        yield server


def promtool_check(exposition: bytes) -> subprocess.CompletedProcess[str]:
    """Run ``promtool check metrics`` on ``exposition`` fed on stdin."""
    return subprocess.run(
        ["promtool", "check", "metrics"],
        input=exposition.decode("utf-8"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _full_exposition(sink: HttpSink) -> bytes:
    """Every driftline metric family with samples: calls of each kind, capture on."""
    registry = CollectorRegistry()
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    driftline.configure(
        service_name="promtool-api",
        registry=registry,
        tracer_provider=provider,
        sidecar_url=sink.url,
    )

    @driftline.monitor(
        model="churn", version="2.3.0", info={"git_commit": "1a2b3c", "training.data-hash": "ab12"}
    )
    def score(features: dict[str, float]) -> float:
        if features["tenure"] < 0:
            raise ValueError("negative tenure")
        return 0.8

    @driftline.monitor(model="plan", version="1.0.0")
    def classify(features: dict[str, float]) -> str:
        return "pro"

    @driftline.monitor(model="plan", version="1.0.0", batch=True)
    def classify_batch(rows: list[dict[str, float]]) -> list[str]:
        return ["basic" for _ in rows]

    score({"tenure": 3.0})
    with pytest.raises(ValueError, match="negative tenure"):
        score({"tenure": -1.0})
    classify({"tenure": 3.0})
    classify_batch([{"tenure": 1.0}, {"tenure": 2.0}])
    assert driftline.flush(5.0)
    provider.shutdown()
    return generate_latest(registry)


def test_promtool_reports_a_bad_exposition() -> None:
    """The check can fail: promtool flags a counter without the _total suffix."""
    result = promtool_check(
        b"# HELP bad_counter A counter.\n# TYPE bad_counter counter\nbad_counter 1\n"
    )
    assert (result.returncode != 0, "_total" in result.stdout + result.stderr) == (True, True)


def test_sdk_exposition_passes_promtool() -> None:
    """The SDK's full text exposition passes promtool check metrics with no lint output."""
    with HttpSink() as sink:
        exposition = _full_exposition(sink)
    result = promtool_check(exposition)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_checked_exposition_has_every_documented_family() -> None:
    """The exposition given to promtool holds every SDK metric of docs/telemetry.md.

    prometheus-client's own ``*_created`` gauges (start times of its metrics) are left out.
    """
    with HttpSink() as sink:
        text = _full_exposition(sink).decode("utf-8")
    families = {
        line.split()[2]
        for line in text.splitlines()
        if line.startswith("# TYPE driftline_") and not line.split()[2].endswith("_created")
    }
    assert families == _documented_sdk_families() - _SHADOW_ONLY


# Families that exist only once a monitored function has a shadow challenger.
_SHADOW_ONLY = {
    "driftline_shadow_calls_total",
    "driftline_shadow_duration_seconds",
    "driftline_shadow_skipped_total",
}


def _documented_sdk_families() -> set[str]:
    """The metric names of the "SDK metrics" table of docs/telemetry.md."""
    text = (Path(__file__).parents[2] / "docs" / "telemetry.md").read_text(encoding="utf-8")
    section = text.split("## SDK metrics", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(driftline_\w+)` \|", section, flags=re.MULTILINE))


def test_prometheus_scrapes_the_request_counts(
    prometheus: Prometheus, scraped_registry: CollectorRegistry
) -> None:
    """Prometheus reads the success and error counts of decorated calls from the scrape."""
    driftline.configure(registry=scraped_registry, trace_sample_rate=0.0)

    @driftline.monitor(model="counted", version="1")
    def predict(features: dict[str, float]) -> float:
        if features["x"] < 0:
            raise ValueError("negative")
        return features["x"]

    for x in (1.0, 2.0, 3.0):
        predict({"x": x})
    with pytest.raises(ValueError, match="negative"):
        predict({"x": -1.0})
    # The error came last, so a scrape that shows it saw every call.
    result = prometheus.wait_for(
        'driftline_requests_total{model="counted"}',
        lambda r: any(s["metric"]["outcome"] == "error" and s["value"][1] == "1" for s in r),
    )
    assert {r["metric"]["outcome"]: r["value"][1] for r in result} == {
        "success": "3",
        "error": "1",
    }


def test_prometheus_scrapes_model_info_labels(
    prometheus: Prometheus, scraped_registry: CollectorRegistry
) -> None:
    """driftline_model_info reaches Prometheus with the service and the info labels."""
    driftline.configure(registry=scraped_registry, service_name="info-api", trace_sample_rate=0.0)

    @driftline.monitor(model="described", version="7", info={"git_commit": "1a2b3c"})
    def predict(features: dict[str, float]) -> float:
        return 1.0

    predict({"x": 1.0})
    result = prometheus.wait_for('driftline_model_info{model="described"}')
    labels = {k: v for k, v in result[0]["metric"].items() if k not in ("instance", "job")}
    assert labels == {
        "__name__": "driftline_model_info",
        "model": "described",
        "version": "7",
        "service": "info-api",
        "git_commit": "1a2b3c",
    }


def test_latency_exemplar_names_the_exported_trace(
    prometheus: Prometheus, scraped_registry: CollectorRegistry, receiver: OtlpReceiver
) -> None:
    """The latency exemplar Prometheus stores carries the trace id of the span sent over OTLP."""
    receiver.clear()
    driftline.configure(registry=scraped_registry, otlp_endpoint=receiver.url)

    @driftline.monitor(model="exemplary", version="1")
    def predict(features: dict[str, float]) -> float:
        return 0.5

    predict({"x": 1.0})
    assert driftline.flush(5.0)
    spans = [s for s in receiver.wait_for_spans(1) if s["name"] == "driftline.predict exemplary"]
    selector = 'driftline_request_duration_seconds_bucket{model="exemplary"}'
    prometheus.wait_for(f"sum({selector})", lambda r: bool(r) and r[0]["value"][1] != "0")
    found = prometheus.query_exemplars(selector)
    trace_ids = {e["labels"]["trace_id"] for series in found for e in series["exemplars"]}
    assert trace_ids == {spans[0]["trace_id"]}
