"""The sidecar's FastAPI application: ingest, the JSON API, health, readiness and ``/metrics``.

``POST /v1/records`` reads the raw body itself (size-bounded, gzip-aware) and decodes it
with `driftline_sidecar.ingest`; its schema is still documented in ``/openapi.json``.
Every answer is JSON (``/metrics`` aside), so no input is ever reflected as markup.
"""

from __future__ import annotations

import gc
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse as _PlainJSONResponse
from fastapi.responses import Response
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from driftline_sidecar import ingest
from driftline_sidecar.alerting import Alerter
from driftline_sidecar.config import SidecarConfig
from driftline_sidecar.metrics import SidecarMetrics
from driftline_sidecar.outcomes import decode_outcomes
from driftline_sidecar.service import SidecarService
from driftline_sidecar.version_alerts import observe_comparison

__all__ = ["create_app"]

_log = logging.getLogger("driftline.sidecar")


class JSONResponse(_PlainJSONResponse):
    """JSON with ``<``, ``>`` and ``&`` written as ``\\u003c``...: echoed input is never markup."""

    def render(self, content: Any) -> bytes:
        """Return the JSON bytes; those characters occur only inside strings, so this is safe."""
        raw = super().render(content)
        return raw.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
_Handler = Callable[[Request], Awaitable[Response]]

_ENDPOINTS = (
    "/v1/records",
    "/v1/outcomes",
    "/v1/models",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
)


def create_app(
    config: SidecarConfig,
    *,
    registry: CollectorRegistry | None = None,
    service: SidecarService | None = None,
) -> FastAPI:
    """Return the sidecar application; loading the reference profiles may raise ConfigError."""
    if service is None:
        metrics = SidecarMetrics(registry if registry is not None else CollectorRegistry())
        service = SidecarService(config, metrics)
    metrics = service.metrics
    state = service
    alerter = Alerter(config.alerting, metrics.registry)
    service.add_listener(alerter.observe)
    service.add_comparison_listener(
        lambda comparison, now: observe_comparison(alerter, comparison, config.versions, now=now)
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.restore_snapshot()
        alerter.start()
        state.start()
        # What startup loaded (modules, profiles, fitted references) lives as long as the
        # app: frozen, a full collection, which ingest's stream of containers triggers,
        # no longer walks those ~100,000 objects (about 0.3 s each time on a busy machine).
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            state.stop()
            alerter.close(timeout=5.0)

    app = FastAPI(
        title="driftline sidecar",
        version="1",
        summary="Receives captured predictions, evaluates drift against reference profiles.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        default_response_class=JSONResponse,
    )
    app.state.service = service
    app.state.alerter = alerter
    app.add_middleware(_CountRequests, metrics=metrics)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, "path", str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        field = ".".join(str(part) for part in first.get("loc", ("request",)))
        return _error(400, field, str(first.get("msg", "invalid request")))

    @_post(
        app,
        "/v1/records",
        _RECORDS_OPENAPI,
        "Receive captured records (protocol v1, docs/protocol.md).",
    )
    async def post_records(request: Request) -> Response:
        def count(status: int) -> None:
            metrics.records_rejected.labels(_BODY_REASONS.get(status, "malformed")).inc()

        return await _answer(_ingest(request, config, service), "records", count)

    @_post(
        app,
        "/v1/outcomes",
        _OUTCOMES_OPENAPI,
        "Receive outcomes (ground truth) to join to predictions (docs/protocol.md).",
    )
    async def post_outcomes(request: Request) -> Response:
        return await _answer(_outcomes(request, config, service), "outcomes", None)

    @app.get(
        "/v1/compare/{model}",
        summary="Version comparison of a model: shadow pairs, prediction drift, performance.",
        responses={404: {"description": "unknown model"}},
    )
    async def get_compare(model: str) -> Response:
        if not service.versions.known(model) and not any(m.model == model for m in config.models):
            return _error(404, "path", "unknown model")
        return JSONResponse(service.versions.latest(model).to_dict())

    @app.get("/v1/models", summary="Every model version the sidecar knows.")
    async def get_models() -> dict[str, Any]:
        return {"models": service.models()}

    @app.get(
        "/v1/drift/{model}/{version}",
        summary="The latest drift evaluation of a model version.",
        responses={404: {"description": "unknown model version, or not evaluated yet"}},
    )
    async def get_drift(model: str, version: str) -> Response:
        summary = service.latest(model, version)
        if summary is None:
            reason = (
                "not evaluated yet: the window has fewer than min_samples records"
                if service.known(model, version)
                else "unknown model version"
            )
            return _error(404, "path", reason)
        return JSONResponse(summary.document)

    @app.get("/healthz", summary="200 while the process serves requests.")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        summary="200 once the reference profiles are loaded and the evaluator runs, else 503.",
        responses={503: {"description": "starting or stopping"}},
    )
    async def readyz() -> Response:
        if service.ready:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "not ready"}, status_code=503)

    @app.get(
        "/metrics",
        summary="Prometheus exposition (OpenMetrics when asked in Accept).",
        response_class=Response,
        responses={200: {"description": "the metrics", "content": _METRICS_CONTENT}},
    )
    async def get_metrics(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(metrics.registry), media_type=content_type)

    return app


def _post(
    app: FastAPI, path: str, openapi: dict[str, Any], summary: str
) -> Callable[[_Handler], _Handler]:
    """Register a POST endpoint that reads its own body: 202, schema from ``openapi``."""
    return app.post(
        path,
        status_code=202,
        summary=summary,
        openapi_extra=openapi,
        response_model=None,
    )


_BODY_REASONS = {401: "unauthorized", 413: "too_large", 415: "unsupported_media_type", 422: "limit"}


async def _answer(
    handling: Awaitable[Response], what: str, count: Callable[[int], None] | None
) -> Response:
    """The handler's answer; a refused body as its error (``count`` sees its status)."""
    try:
        return await handling
    except ingest.IngestError as exc:
        if count is not None:
            count(exc.status)
        return JSONResponse(exc.to_dict(), status_code=exc.status)
    except Exception as exc:  # a last resort: bad input never gets a 500
        _log.exception("driftline sidecar: unexpected error while reading %s", what)
        if count is not None:
            count(400)
        return _error(400, "body", f"could not process the body: {type(exc).__name__}")


async def _payload(
    request: Request, config: SidecarConfig, service: SidecarService
) -> tuple[bytes, str] | None:
    """The body as sent and its encoding, after the checks both POST endpoints share.

    None while not ready. In order: the token (401), media type and encoding (415),
    readiness and size (413); each refusal raises IngestError. The caller inflates the
    body with `ingest.decompress` on its worker thread (400, or 413 inflated).
    """
    _authorize(request, config.token)
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise ingest.IngestError(415, "Content-Type", "expected application/json")
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity", "gzip"):
        raise ingest.IngestError(415, "Content-Encoding", "only gzip or identity is accepted")
    if not service.ready:
        return None
    return await _read_body(request, config.max_body_bytes), encoding


def _not_ready() -> JSONResponse:
    return _error(503, "service", "the sidecar is starting or stopping; retry")


async def _ingest(request: Request, config: SidecarConfig, service: SidecarService) -> Response:
    payload = await _payload(request, config, service)
    if payload is None:
        return _not_ready()
    # Inflating, decoding and windowing are CPU work on every record: off the event loop
    # in one trip to a worker thread, so /healthz, /readyz and /metrics keep answering
    # while a large body is processed.
    return await run_in_threadpool(_accept, *payload, config, service)


def _accept(raw: bytes, encoding: str, config: SidecarConfig, service: SidecarService) -> Response:
    """Inflate and decode a records body, window its valid batches; answer 202 or an error."""
    metrics = service.metrics
    payload = ingest.decompress(raw, encoding, config.max_body_bytes)
    body = ingest.decode(payload, config.limits, service.kind)
    accepted = 0
    errors = list(body.errors)
    for batch, index in zip(body.batches, _valid_indexes(body), strict=True):
        try:
            accepted += service.accept(batch, f"batches[{index}].version").records
        except ingest.IngestError as exc:
            errors.append(ingest.BatchError(index, exc.status, exc.field, exc.reason, batch.n))
    errors.sort(key=lambda error: error.index)
    for error in errors:
        reason = "invalid_batch" if error.status == 400 else "batch_limit"
        metrics.records_rejected.labels(reason).inc(error.records)
    if errors and accepted == 0 and len(errors) == len(body.batches) + len(body.errors):
        first = errors[0]
        return _error(first.status, first.field, first.reason)
    return JSONResponse(
        {
            "accepted": accepted,
            "rejected": sum(error.records for error in errors),
            "errors": [error.to_dict() for error in errors],
        },
        status_code=202,
    )


async def _outcomes(request: Request, config: SidecarConfig, service: SidecarService) -> Response:
    payload = await _payload(request, config, service)
    if payload is None:
        return _not_ready()
    return await run_in_threadpool(_join_outcomes, *payload, config, service)


def _join_outcomes(
    raw: bytes, encoding: str, config: SidecarConfig, service: SidecarService
) -> Response:
    """Inflate and decode an outcomes body, join it to the stored predictions; answer 202."""
    payload = ingest.decompress(raw, encoding, config.max_body_bytes)
    body = decode_outcomes(payload, config.limits)
    counts = service.record_outcomes(body)
    return JSONResponse({"accepted": len(body.ids), **counts}, status_code=202)


def _valid_indexes(body: ingest.DecodedBody) -> list[int]:
    bad = {error.index for error in body.errors}
    total = len(body.batches) + len(body.errors)
    return [index for index in range(total) if index not in bad]


def _authorize(request: Request, token: str | None) -> None:
    if token is None:
        return
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented:
        raise ingest.IngestError(401, "Authorization", "a bearer token is required")
    if not hmac.compare_digest(presented.strip().encode(), token.encode()):
        raise ingest.IngestError(401, "Authorization", "the bearer token is not valid")


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ingest.IngestError(413, "body", f"the body is over {limit} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ingest.IngestError(413, "body", f"the body is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _error(status: int, field: str, reason: str) -> JSONResponse:
    return JSONResponse({"error": {"field": field, "reason": reason}}, status_code=status)


class _CountRequests:
    """Counts answers by endpoint template and status (unknown paths count as ``other``)."""

    def __init__(self, app: ASGIApp, metrics: SidecarMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        endpoint = _endpoint(str(scope.get("path", "")))
        counted = False

        async def counting_send(message: Message) -> None:
            nonlocal counted
            if message["type"] == "http.response.start" and not counted:
                # Counted before the answer leaves, so a client that reads it sees it counted.
                counted = True
                self.metrics.requests.labels(endpoint, str(message["status"])).inc()
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            if not counted:
                self.metrics.requests.labels(endpoint, "500").inc()


def _endpoint(path: str) -> str:
    if path in _ENDPOINTS:
        return path
    if path.startswith("/v1/compare/"):
        return "/v1/compare/{model}"
    if path.startswith("/v1/drift/"):
        return "/v1/drift/{model}/{version}"
    return "other"


_COLUMNS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": {
        "type": "array",
        "items": {"type": ["number", "string", "boolean", "null"]},
    },
}


def _object(properties: dict[str, Any], *required: str) -> dict[str, Any]:
    """A JSON Schema object of ``properties``, the ``required`` ones required."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _envelope(field: str, content: dict[str, Any]) -> dict[str, Any]:
    """The schema of a protocol v1 body: ``v``, ``sent_at``, ``service`` and ``field``."""
    version = {"type": "integer", "enum": [1]}
    properties = {"v": version, "sent_at": {"type": "number"}, "service": {"type": "string"}}
    return _object({**properties, field: content}, "v", field)


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _operation(body: dict[str, Any], accepted: str, answer: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI of a POST endpoint: its body, its 202 answer and the shared refusals."""
    refusals = {
        str(status): {"description": description, "content": _json(_ERROR_SCHEMA)}
        for status, description in (
            (400, "malformed body, or no valid batch"),
            (401, "missing or wrong bearer token"),
            (413, "body over max_body_bytes (compressed or decompressed)"),
            (415, "content type other than application/json, or encoding other than gzip"),
            (422, "a limit broken (batches, records, columns, name length, model versions)"),
            (503, "the sidecar is starting or stopping"),
        )
    }
    return {
        "requestBody": {"required": True, "content": _json(body)},
        "responses": {"202": {"description": accepted, "content": _json(answer)}, **refusals},
    }


_RECORDS_SCHEMA = _envelope(
    "batches",
    {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["model", "version", "ids", "timestamps"],
            "properties": {
                "model": {"type": "string", "minLength": 1, "maxLength": 128},
                "version": {"type": "string", "minLength": 1, "maxLength": 128},
                "role": {"type": "string", "enum": ["champion", "challenger"]},
                "ids": {"type": "array", "items": {"type": "string"}},
                "timestamps": {"type": "array", "items": {"type": "number"}},
                "trace_ids": {"type": "array", "items": {"type": ["string", "null"]}},
                "features": _COLUMNS_SCHEMA,
                "predictions": _COLUMNS_SCHEMA,
            },
        },
    },
)
_ERROR_SCHEMA = _object(
    {"error": _object({"field": {"type": "string"}, "reason": {"type": "string"}})}
)
_RECORDS_OPENAPI = _operation(
    _RECORDS_SCHEMA,
    "accepted (possibly in part: invalid batches are listed in errors)",
    _object(
        {
            "accepted": {"type": "integer"},
            "rejected": {"type": "integer"},
            "errors": {"type": "array", "items": {"type": "object"}},
        }
    ),
)
_METRICS_CONTENT: dict[str, Any] = {
    media_type: {"schema": {"type": "string"}}
    for media_type in ("text/plain", "application/openmetrics-text")
}
_OUTCOMES_SCHEMA = _envelope(
    "outcomes",
    _object(
        {
            "ids": {"type": "array", "items": {"type": "string"}},
            "actuals": {"type": "array", "items": {"type": ["number", "string", "boolean"]}},
            "timestamps": {"type": "array", "items": {"type": "number"}},
        },
        "ids",
        "actuals",
    ),
)
_OUTCOMES_OPENAPI = _operation(
    _OUTCOMES_SCHEMA,
    "accepted: counts of the outcomes by what became of them",
    {"type": "object", "additionalProperties": {"type": "integer"}},
)
