"""``/metrics`` for apps that have none: a standalone server, and ASGI and WSGI apps.

All three answer in the OpenMetrics format when the scraper asks for it (as
Prometheus does), which is the only format that carries exemplars; otherwise
in the classic text format. Without a ``registry`` they serve the registry of
the runtime current at each scrape, so a later ``configure()`` takes effect.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIServer

import prometheus_client
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from . import _runtime

__all__ = ["MetricsServer", "make_asgi_app", "make_wsgi_app", "start_metrics_server"]


class _CurrentRegistry(Collector):
    """A collector that reads the current runtime's registry at each scrape."""

    def collect(self) -> Iterator[Metric]:
        return iter(_runtime.current().registry.collect())

    def restricted_registry(self, names: Iterable[str]) -> Any:
        return _runtime.current().registry.restricted_registry(names)


def _source(registry: CollectorRegistry | None) -> Collector:
    return registry if registry is not None else _CurrentRegistry()


@dataclass(frozen=True)
class MetricsServer:
    """A running standalone ``/metrics`` server; ``close()`` stops it."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        """The port it listens on (useful after asking for port 0)."""
        return int(self.server.server_address[1])

    def close(self) -> None:
        """Stop serving and wait for the thread to end."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def start_metrics_server(
    port: int = 9464, addr: str = "0.0.0.0", registry: CollectorRegistry | None = None
) -> MetricsServer:
    """Serve metrics over HTTP on ``addr:port`` from a daemon thread and return the server.

    A wrapper of ``prometheus_client.start_http_server``; any path answers.
    """
    server, thread = prometheus_client.start_http_server(port, addr, registry=_source(registry))
    return MetricsServer(server, thread)


def make_asgi_app(registry: CollectorRegistry | None = None) -> Callable[..., Any]:
    """Return an ASGI app serving the metrics (mount it at ``/metrics``)."""
    return prometheus_client.make_asgi_app(_source(registry))


def make_wsgi_app(registry: CollectorRegistry | None = None) -> Callable[..., Any]:
    """Return a WSGI app serving the metrics (mount it at ``/metrics``)."""
    return prometheus_client.make_wsgi_app(_source(registry))
