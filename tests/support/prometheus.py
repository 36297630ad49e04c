"""A real Prometheus 2.x server for tests, configured in a temporary directory.

Typical use::

    with Prometheus(targets=[f"127.0.0.1:{port}"], rule_files=[rules]) as prom:
        prom.wait_for_targets_up()
        prom.wait_for('driftline_requests_total{model="churn"}')
        exemplars = prom.query_exemplars("driftline_request_duration_seconds_bucket")

Exemplar storage is on, and Prometheus asks every target for OpenMetrics first
(its scrape Accept header), so a prometheus-client exposition that negotiates by
Accept header delivers exemplars.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tests.support._service import ConfiguredServer
from tests.support.ports import LOOPBACK

__all__ = ["Prometheus", "PrometheusAPIError", "fetch_json"]


class PrometheusAPIError(RuntimeError):
    """The HTTP API answered with an error (status, errorType and error are in the message)."""


def fetch_json(url: str, *, method: str = "GET", body: Any = None, timeout: float = 10.0) -> Any:
    """Send one HTTP request with an optional JSON body and return the decoded JSON answer.

    An HTTP error raises PrometheusAPIError carrying the status and the response body.
    """
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", errors="replace")
        raise PrometheusAPIError(f"{method} {url}: HTTP {exc.code}: {detail}") from exc
    return json.loads(raw) if raw.strip() else None


class Prometheus(ConfiguredServer):
    """Prometheus started with a generated config; stopped by pid on ``stop()``/``__exit__``.

    ``targets`` are ``host:port`` strings scraped at ``metrics_path`` every
    ``scrape_interval`` under job ``job_name``; ``rule_files`` are evaluated every
    ``evaluation_interval``; ``alertmanager`` is an optional ``host:port`` that
    firing alerts are sent to. Lifecycle endpoints are on, so ``reload()`` works.
    """

    name = "prometheus"
    config_file = "prometheus.yml"

    def __init__(
        self,
        *,
        targets: Sequence[str] = (),
        job_name: str = "driftline",
        metrics_path: str = "/metrics",
        scrape_interval: str = "1s",
        evaluation_interval: str = "1s",
        rule_files: Sequence[str | Path] = (),
        alertmanager: str | None = None,
        binary: str = "prometheus",
        startup_timeout: float = 30.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        super().__init__(binary=binary, startup_timeout=startup_timeout, extra_args=extra_args)
        self.scrape_targets = list(targets)
        self.job_name = job_name
        self.metrics_path = metrics_path
        self.scrape_interval = scrape_interval
        self.evaluation_interval = evaluation_interval
        self.rule_files = [Path(path).resolve() for path in rule_files]
        self.alertmanager = alertmanager

    def config(self) -> dict[str, Any]:
        """The configuration written to ``prometheus.yml`` (JSON is valid YAML)."""
        config: dict[str, Any] = {
            "global": {
                "scrape_interval": self.scrape_interval,
                "evaluation_interval": self.evaluation_interval,
            },
            "rule_files": [str(path) for path in self.rule_files],
            "scrape_configs": [
                {
                    "job_name": self.job_name,
                    "metrics_path": self.metrics_path,
                    "scrape_interval": self.scrape_interval,
                    "static_configs": [{"targets": self.scrape_targets}],
                }
            ],
        }
        if self.alertmanager is not None:
            config["alerting"] = {
                "alertmanagers": [{"static_configs": [{"targets": [self.alertmanager]}]}]
            }
        return config

    def argv(self, workdir: Path, port: int) -> list[str]:
        """The binary with the config, TSDB under ``workdir``, exemplars and lifecycle on."""
        return [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address={LOOPBACK}:{port}",
            "--enable-feature=exemplar-storage",
            "--web.enable-lifecycle",
            *self.extra_args,
        ]

    def reload(self) -> None:
        """Ask the server to re-read its config and rule files (``POST /-/reload``)."""
        request = urllib.request.Request(self.url + "/-/reload", data=b"", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10.0):
                pass
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", errors="replace")
            raise PrometheusAPIError(f"reload failed: HTTP {exc.code}: {detail}") from exc

    # -- HTTP API --------------------------------------------------------------

    def api(self, path: str, **params: str | float) -> Any:
        """GET ``/api/v1/<path>`` and return its ``data``; raise PrometheusAPIError on error."""
        query = urllib.parse.urlencode({key: str(value) for key, value in params.items()})
        url = f"{self.url}/api/v1/{path}" + (f"?{query}" if query else "")
        answer = fetch_json(url)
        if answer.get("status") != "success":
            raise PrometheusAPIError(f"{url}: {answer}")
        return answer["data"]

    def query(self, expr: str, at: float | None = None) -> list[Any]:
        """Instant query; for a vector, a list of ``{"metric": {...}, "value": [ts, "v"]}``."""
        params: dict[str, str | float] = {"query": expr}
        if at is not None:
            params["time"] = at
        result: list[Any] = self.api("query", **params)["result"]
        return result

    def query_value(self, expr: str) -> float | None:
        """The value of the first sample of an instant vector query, or None when empty."""
        result = self.query(expr)
        if not result:
            return None
        return float(result[0]["value"][1])

    def query_exemplars(
        self, expr: str, start: float | None = None, end: float | None = None
    ) -> list[Any]:
        """Exemplars for the series selected by ``expr`` in [start, end] (default: last hour).

        Each item is ``{"seriesLabels": {...}, "exemplars": [{"labels": {"trace_id": ...},
        "value": "0.2", "timestamp": 1.7e9}]}``.
        """
        now = time.time()
        result: list[Any] = self.api(
            "query_exemplars",
            query=expr,
            start=now - 3600 if start is None else start,
            end=now + 60 if end is None else end,
        )
        return result

    def wait_for(
        self,
        expr: str,
        predicate: Callable[[list[Any]], bool] = bool,
        timeout: float = 30.0,
    ) -> list[Any]:
        """Poll ``query(expr)`` until ``predicate(result)`` holds (default: non-empty); return it.

        Raises TimeoutError with the last result and the server log's tail.
        """
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(expr)
            if predicate(result):
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{expr!r} did not satisfy the condition within {timeout:g}s; "
                    f"last result: {result!r}; targets: {self._target_summary()}"
                )
            time.sleep(0.2)

    def targets(self) -> list[Any]:
        """Active scrape targets: ``scrapeUrl``, ``health`` ("up"/"down"), ``lastError``."""
        active: list[Any] = self.api("targets")["activeTargets"]
        return active

    def wait_for_targets_up(self, timeout: float = 30.0) -> list[Any]:
        """Block until every configured target has been scraped successfully; return them."""
        deadline = time.monotonic() + timeout
        while True:
            active = self.targets()
            if len(active) >= len(self.scrape_targets) and all(t["health"] == "up" for t in active):
                return active
            if time.monotonic() >= deadline:
                raise TimeoutError(f"targets not up within {timeout:g}s: {self._target_summary()}")
            time.sleep(0.2)

    def alerts(self) -> list[Any]:
        """Alerts from ``/api/v1/alerts``: ``labels``, ``annotations``, ``state``, ``value``."""
        alerts: list[Any] = self.api("alerts")["alerts"]
        return alerts

    def wait_for_alert(
        self, alertname: str, state: str = "firing", timeout: float = 30.0
    ) -> dict[str, Any]:
        """Block until an alert named ``alertname`` is in ``state``; return it."""
        deadline = time.monotonic() + timeout
        while True:
            for alert in self.alerts():
                if alert["labels"].get("alertname") == alertname and alert["state"] == state:
                    found: dict[str, Any] = alert
                    return found
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"alert {alertname} not {state} within {timeout:g}s; alerts: {self.alerts()}"
                )
            time.sleep(0.2)

    def rules(self) -> list[Any]:
        """Loaded rule groups from ``/api/v1/rules``, each with its ``rules`` and their health."""
        groups: list[Any] = self.api("rules")["groups"]
        return groups

    def _target_summary(self) -> list[tuple[str, str, str]]:
        try:
            return [(t["scrapeUrl"], t["health"], t["lastError"]) for t in self.targets()]
        except (PrometheusAPIError, OSError) as exc:
            return [("?", "?", str(exc))]
