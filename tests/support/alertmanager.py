"""A real Alertmanager for tests, configured in a temporary directory.

Typical use::

    with WebhookRecorder() as hook, Alertmanager(webhook_url=hook.url) as am:
        am.post_alerts([{"labels": {"alertname": "DriftlineTest", "severity": "warning"}}])
        hook.wait_for(lambda payloads: len(payloads) >= 1)

Clustering is off (``--cluster.listen-address=``), so nothing listens beyond
127.0.0.1, and the route waits only ``group_wait`` before the first delivery.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.support.ports import LOOPBACK
from tests.support.procs import ManagedProcess, start_on_free_port
from tests.support.prometheus import fetch_json

__all__ = ["Alertmanager"]


class Alertmanager:
    """Alertmanager started with a generated config; stopped by pid on ``stop()``/``__exit__``.

    With ``webhook_url`` every alert group is POSTed there (``send_resolved`` on);
    without it the receiver has no integrations and alerts are only stored.
    """

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
        self.webhook_url = webhook_url
        self.group_by = list(group_by)
        self.group_wait = group_wait
        self.group_interval = group_interval
        self.repeat_interval = repeat_interval
        self.resolve_timeout = resolve_timeout
        self.binary = binary
        self.startup_timeout = startup_timeout
        self.extra_args = list(extra_args)
        self._workdir: Path | None = None
        self._process: ManagedProcess | None = None
        self._port: int | None = None

    def __enter__(self) -> Alertmanager:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- lifecycle -------------------------------------------------------------

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

    def start(self) -> None:
        """Write the config, start the binary on a free port and wait for ``/-/ready``."""
        if self._process is not None:
            raise RuntimeError("Alertmanager already started")
        workdir = Path(tempfile.mkdtemp(prefix="driftline-alertmanager-"))
        self._workdir = workdir
        self.config_path.write_text(json.dumps(self.config(), indent=2), encoding="utf-8")

        def argv(port: int) -> list[str]:
            return [
                self.binary,
                f"--config.file={self.config_path}",
                f"--storage.path={workdir / 'data'}",
                f"--web.listen-address={LOOPBACK}:{port}",
                "--cluster.listen-address=",
                *self.extra_args,
            ]

        try:
            self._process, self._port = start_on_free_port(
                argv,
                ready_path="/-/ready",
                log_path=workdir / "alertmanager.log",
                name="alertmanager",
                cwd=workdir,
                timeout=self.startup_timeout,
            )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the process by pid (SIGTERM, then SIGKILL) and remove the temporary directory."""
        if self._process is not None:
            self._process.stop()
            self._process = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    @property
    def process(self) -> ManagedProcess:
        """The running process (``pid``, ``log_tail()``)."""
        if self._process is None:
            raise RuntimeError("Alertmanager is not running")
        return self._process

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    @property
    def port(self) -> int:
        """The HTTP port on 127.0.0.1."""
        if self._port is None:
            raise RuntimeError("Alertmanager is not running")
        return self._port

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``, the form ``Prometheus(alertmanager=...)`` takes."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        """Base URL, ``http://127.0.0.1:PORT``."""
        return f"http://{self.address}"

    @property
    def config_path(self) -> Path:
        """Where the generated configuration is written."""
        if self._workdir is None:
            raise RuntimeError("Alertmanager is not started")
        return self._workdir / "alertmanager.yml"

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log, for failure messages."""
        return self.process.log_tail(lines)

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
