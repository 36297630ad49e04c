"""A real Alertmanager for tests, configured in a temporary directory.

Typical use::

    with WebhookRecorder() as hook, Alertmanager(webhook_url=hook.url) as am:
        am.post_alerts([{"labels": {"alertname": "DriftlineTest", "severity": "warning"}}])
        hook.wait_for(lambda payloads: len(payloads) >= 1)

Clustering is off (``--cluster.listen-address=``), so nothing listens beyond
127.0.0.1, and the route waits only ``group_wait`` before the first delivery.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.support._service import ConfiguredServer
from tests.support.ports import LOOPBACK
from tests.support.prometheus import fetch_json

__all__ = ["Alertmanager"]


class Alertmanager(ConfiguredServer):
    """Alertmanager started with a generated config; stopped by pid on ``stop()``/``__exit__``.

    With ``webhook_url`` every alert group is POSTed there (``send_resolved`` on);
    without it the receiver has no integrations and alerts are only stored.
    ``address`` (``127.0.0.1:PORT``) is the form ``Prometheus(alertmanager=...)`` takes.
    """

    name = "alertmanager"
    config_file = "alertmanager.yml"

    def __init__(
        self,
        *,
        webhook_url: str | None = None,
        group_by: Sequence[str] = ("alertname",),
        group_wait: str = "0s",
        group_interval: str = "1s",
        repeat_interval: str = "1h",
        resolve_timeout: str = "5m",
        binary: str = "prometheus-alertmanager",
        startup_timeout: float = 30.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        super().__init__(binary=binary, startup_timeout=startup_timeout, extra_args=extra_args)
        self.webhook_url = webhook_url
        self.group_by = list(group_by)
        self.group_wait = group_wait
        self.group_interval = group_interval
        self.repeat_interval = repeat_interval
        self.resolve_timeout = resolve_timeout

    def config(self) -> dict[str, Any]:
        """The configuration written to ``alertmanager.yml`` (JSON is valid YAML)."""
        receiver: dict[str, Any] = {"name": "test"}
        if self.webhook_url is not None:
            receiver["webhook_configs"] = [{"url": self.webhook_url, "send_resolved": True}]
        return {
            "global": {"resolve_timeout": self.resolve_timeout},
            "route": {
                "receiver": "test",
                "group_by": self.group_by,
                "group_wait": self.group_wait,
                "group_interval": self.group_interval,
                "repeat_interval": self.repeat_interval,
            },
            "receivers": [receiver],
        }

    def argv(self, workdir: Path, port: int) -> list[str]:
        """The binary with the config, storage under ``workdir`` and clustering off."""
        return [
            self.binary,
            f"--config.file={self.config_path}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address={LOOPBACK}:{port}",
            "--cluster.listen-address=",
            *self.extra_args,
        ]

    # -- HTTP API v2 -----------------------------------------------------------

    def alerts(self, *, active: bool | None = None, filters: Sequence[str] = ()) -> list[Any]:
        """Alerts from ``GET /api/v2/alerts``; ``filters`` are matchers like ``'model="churn"'``."""
        params: list[tuple[str, str]] = [("filter", matcher) for matcher in filters]
        if active is not None:
            params.append(("active", str(active).lower()))
        query = urllib.parse.urlencode(params)
        result: list[Any] = fetch_json(f"{self.url}/api/v2/alerts" + (f"?{query}" if query else ""))
        return result

    def post_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        """``POST /api/v2/alerts``: each alert needs ``labels``; ``annotations``,
        ``startsAt``, ``endsAt`` and ``generatorURL`` are optional."""
        fetch_json(f"{self.url}/api/v2/alerts", method="POST", body=[dict(a) for a in alerts])

    def wait_for_alerts(
        self, predicate: Callable[[list[Any]], bool] = bool, timeout: float = 30.0
    ) -> list[Any]:
        """Poll ``alerts()`` until ``predicate(alerts)`` holds (default: any); return them."""
        deadline = time.monotonic() + timeout
        while True:
            alerts = self.alerts()
            if predicate(alerts):
                return alerts
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"Alertmanager condition not met within {timeout:g}s; alerts: {alerts!r}"
                )
            time.sleep(0.2)
