"""/metrics helpers: OpenMetrics (with exemplars) when asked, text otherwise."""

from __future__ import annotations

import asyncio
import io
import urllib.request
from typing import Any
from wsgiref.util import setup_testing_defaults

import driftline
from prometheus_client import CollectorRegistry

from .conftest import Traced

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


@driftline.monitor(model="m", version="1")
def predict(features: dict[str, float]) -> float:
    """A model that always answers 0.5."""
    return 0.5


def _get(port: int, accept: str | None) -> tuple[str, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
    if accept is not None:
        request.add_header("Accept", accept)
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.headers["Content-Type"], response.read().decode()


def test_standalone_server_serves_openmetrics_with_exemplars(traced: Traced) -> None:
    """The standalone server answers OpenMetrics, with the exemplar, when the scraper asks."""
    registry = CollectorRegistry()
    driftline.configure(
        registry=registry, tracer_provider=traced.provider, log_output=io.StringIO()
    )
    predict({"x": 1.0})
    server = driftline.start_metrics_server(port=0, addr="127.0.0.1")
    try:
        content_type, body = _get(server.port, OPENMETRICS)
    finally:
        server.close()
    assert content_type.startswith("application/openmetrics-text")
    assert '# {trace_id="' in body


def test_standalone_server_serves_text_by_default(registry: CollectorRegistry) -> None:
    """Without an OpenMetrics Accept header the answer is the classic text format."""
    driftline.configure(registry=registry, trace_sample_rate=0, log_output=io.StringIO())
    predict({"x": 1.0})
    server = driftline.start_metrics_server(port=0, addr="127.0.0.1", registry=registry)
    try:
        content_type, body = _get(server.port, None)
    finally:
        server.close()
    assert content_type.startswith("text/plain")
    assert 'driftline_requests_total{model="m",outcome="success",version="1"} 1.0' in body


def test_wsgi_app_negotiates(registry: CollectorRegistry) -> None:
    """The WSGI app answers OpenMetrics to an OpenMetrics Accept header."""
    driftline.configure(registry=registry, trace_sample_rate=0, log_output=io.StringIO())
    app = driftline.make_wsgi_app()
    started: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        started.append(dict(headers)["Content-Type"])

    environ: dict[str, Any] = {"HTTP_ACCEPT": OPENMETRICS, "PATH_INFO": "/metrics"}
    setup_testing_defaults(environ)
    body = b"".join(app(environ, start_response))
    assert started[0].startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")


def test_asgi_app_negotiates(registry: CollectorRegistry) -> None:
    """The ASGI app answers OpenMetrics to an OpenMetrics Accept header."""
    app = driftline.make_asgi_app(registry)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/metrics",
        "query_string": b"",
        "headers": [(b"accept", OPENMETRICS.encode())],
    }
    asyncio.run(app(scope, receive, send))
    headers = dict(sent[0]["headers"])
    assert headers[b"Content-Type"].startswith(b"application/openmetrics-text")
