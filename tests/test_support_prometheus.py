"""The Prometheus test harness: a real server scraping a real prometheus-client exposition.

Prometheus scrapes a new target about five seconds after it starts (its scrape
manager reloads on a fixed 5 s tick), so one server is shared by the module.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from tests.support.alertmanager import Alertmanager
from tests.support.ports import LOOPBACK
from tests.support.procs import assert_no_process, pid_alive
from tests.support.prometheus import Prometheus
from tests.support.webhook import WebhookRecorder

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
RULES = """\
groups:
  - name: harness
    rules:
      - alert: HarnessRequestsSeen
        expr: harness_requests_total > 0
        labels: {severity: info}
"""

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def exposition() -> Iterator[str]:
    """Serve a test-local registry, negotiating OpenMetrics by Accept header, on 127.0.0.1."""
    registry = CollectorRegistry()
    histogram = Histogram("harness_request_duration_seconds", "Request time.", registry=registry)
    histogram.observe(0.2, exemplar={"trace_id": TRACE_ID})
    Counter("harness_requests", "Requests.", registry=registry).inc(3)
    server, thread = start_http_server(0, addr=LOOPBACK, registry=registry)
    try:
        yield f"{LOOPBACK}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def webhook() -> Iterator[WebhookRecorder]:
    """A webhook recorder for the module's Alertmanager."""
    with WebhookRecorder() as hook:
        yield hook


@pytest.fixture(scope="module")
def prometheus(
    exposition: str, webhook: WebhookRecorder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    """One Prometheus scraping the exposition every second, with one alert rule and an
    Alertmanager that delivers to the webhook recorder."""
    rules = tmp_path_factory.mktemp("rules") / "rules.yml"
    rules.write_text(RULES, encoding="utf-8")
    with (
        Alertmanager(webhook_url=webhook.url) as am,
        Prometheus(targets=[exposition], rule_files=[rules], alertmanager=am.address) as prom,
    ):
        prom.wait_for_targets_up()
        yield prom


def test_scraped_counter_is_queryable(prometheus: Prometheus) -> None:
    """A counter served by prometheus-client comes back from an instant query."""
    result = prometheus.wait_for("harness_requests_total")
    assert float(result[0]["value"][1]) == 3.0


def test_exemplar_trace_id_is_stored(prometheus: Prometheus) -> None:
    """The trace id attached as an exemplar is returned by /api/v1/query_exemplars."""
    prometheus.wait_for("harness_request_duration_seconds_count")
    series = prometheus.query_exemplars("harness_request_duration_seconds_bucket")
    trace_ids = {e["labels"]["trace_id"] for s in series for e in s["exemplars"]}
    assert trace_ids == {TRACE_ID}


def test_rule_file_alert_fires(prometheus: Prometheus) -> None:
    """An alert rule from rule_files reaches the firing state and is listed by alerts()."""
    alert = prometheus.wait_for_alert("HarnessRequestsSeen")
    assert alert["labels"]["severity"] == "info"


def test_firing_alert_reaches_alertmanager_webhook(
    prometheus: Prometheus, webhook: WebhookRecorder
) -> None:
    """A firing rule travels Prometheus -> Alertmanager -> webhook with its labels."""
    prometheus.wait_for_alert("HarnessRequestsSeen")
    webhook.wait_for(lambda payloads: bool(payloads))
    [alert] = webhook.alerts()[:1]
    assert (alert["labels"]["alertname"], alert["labels"]["severity"]) == (
        "HarnessRequestsSeen",
        "info",
    )


def test_stop_leaves_no_process(exposition: str) -> None:
    """Leaving the context manager stops the Prometheus process by pid."""
    with Prometheus(targets=[exposition]) as prom:
        pid = prom.pid
        assert pid_alive(pid)
    assert_no_process(pid)
