"""A real OTLP/HTTP trace receiver on 127.0.0.1 that decodes exported spans into plain dicts.

Typical use::

    with OtlpReceiver() as receiver:
        exporter = OTLPSpanExporter(endpoint=receiver.traces_url)
        ...
        spans = receiver.wait_for_spans(1)
        assert spans[0]["name"] == "predict churn"
"""

from __future__ import annotations

import gzip
import threading
import zlib
from http.server import BaseHTTPRequestHandler
from typing import Any, TypedDict

from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from tests.support._http import LoopbackHttpServer, wait_on

__all__ = ["OtlpReceiver", "SpanEvent", "SpanRecord", "decode_request"]

TRACES_PATH = "/v1/traces"


class SpanEvent(TypedDict):
    """One span event: its name, attributes and time."""

    name: str
    attributes: dict[str, Any]
    time_unix_nano: int


class SpanRecord(TypedDict):
    """One received span, ids as lowercase hex ("" when absent), enums by short name."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: str  # "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER" or "UNSPECIFIED"
    attributes: dict[str, Any]
    status_code: str  # "UNSET", "OK" or "ERROR"
    status_message: str
    events: list[SpanEvent]
    start_time_unix_nano: int
    end_time_unix_nano: int
    resource: dict[str, Any]
    scope: str


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return getattr(value, which)


def _attributes(pairs: Any) -> dict[str, Any]:
    items: list[KeyValue] = list(pairs)
    return {pair.key: _value(pair.value) for pair in items}


def _span(span: Span, resource: dict[str, Any], scope: str) -> SpanRecord:
    return SpanRecord(
        name=span.name,
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=span.parent_span_id.hex(),
        kind=Span.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_"),
        attributes=_attributes(span.attributes),
        status_code=Status.StatusCode.Name(span.status.code).removeprefix("STATUS_CODE_"),
        status_message=span.status.message,
        events=[
            SpanEvent(
                name=event.name,
                attributes=_attributes(event.attributes),
                time_unix_nano=event.time_unix_nano,
            )
            for event in span.events
        ],
        start_time_unix_nano=span.start_time_unix_nano,
        end_time_unix_nano=span.end_time_unix_nano,
        resource=resource,
        scope=scope,
    )


def decode_request(body: bytes) -> list[SpanRecord]:
    """Decode a serialized ExportTraceServiceRequest into span dicts, in message order."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans: list[SpanRecord] = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            spans.extend(
                _span(span, resource, scope_spans.scope.name) for span in scope_spans.spans
            )
    return spans


def _decompress(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding in ("", "identity"):
        return body
    raise ValueError(f"unsupported Content-Encoding {encoding!r}")


class OtlpReceiver(LoopbackHttpServer):
    """Threaded HTTP server accepting protobuf ``POST /v1/traces`` (gzip/deflate allowed).

    Answers 200 with an ExportTraceServiceResponse; 404 for other paths, 415 for
    other content types and 400 for bodies that do not decode. Rejections are kept
    in ``errors`` so a test can show why nothing arrived.
    """

    thread_name = "otlp-receiver"

    def __init__(self) -> None:
        super().__init__()
        self._spans: list[SpanRecord] = []
        self._errors: list[str] = []
        self._requests = 0
        self._changed = threading.Condition()

    @property
    def traces_url(self) -> str:
        """Full trace endpoint ``http://127.0.0.1:PORT/v1/traces`` for OTLPSpanExporter."""
        return self.url + TRACES_PATH

    @property
    def spans(self) -> list[SpanRecord]:
        """Every span received so far, in arrival order (a copy)."""
        with self._changed:
            return list(self._spans)

    @property
    def errors(self) -> list[str]:
        """Why requests were rejected, e.g. ``"404: unknown path /v1/logs"``."""
        with self._changed:
            return list(self._errors)

    @property
    def request_count(self) -> int:
        """Export requests accepted so far."""
        with self._changed:
            return self._requests

    def clear(self) -> None:
        """Forget received spans and errors."""
        with self._changed:
            self._spans.clear()
            self._errors.clear()
            self._requests = 0

    def wait_for_spans(self, n: int, timeout: float = 10.0) -> list[SpanRecord]:
        """Block until at least ``n`` spans arrived and return all of them, or TimeoutError."""
        return wait_on(
            self._changed,
            lambda: list(self._spans),
            lambda spans: len(spans) >= n,
            timeout,
            lambda spans: (
                f"{len(spans)} of {n} spans within {timeout:g}s; "
                f"names: {[s['name'] for s in spans]}; errors: {self._errors}"
            ),
        )

    def _add(self, spans: list[SpanRecord]) -> None:
        with self._changed:
            self._spans.extend(spans)
            self._requests += 1
            self._changed.notify_all()

    def _add_error(self, error: str) -> None:
        with self._changed:
            self._errors.append(error)
            self._changed.notify_all()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path.split("?", 1)[0] != TRACES_PATH:
                    self._reject(404, f"unknown path {self.path}")
                    return
                content_type = (self.headers.get("Content-Type") or "").split(";", 1)[0]
                if content_type.strip() != "application/x-protobuf":
                    self._reject(415, f"unsupported Content-Type {content_type!r}")
                    return
                try:
                    body = _decompress(raw, (self.headers.get("Content-Encoding") or "").strip())
                    spans = decode_request(body)
                except (ValueError, OSError, EOFError, zlib.error, DecodeError) as exc:
                    self._reject(400, f"undecodable body: {exc}")
                    return
                receiver._add(spans)
                payload = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _reject(self, status: int, reason: str) -> None:
                receiver._add_error(f"{status}: {reason}")
                data = reason.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                """Stay quiet: rejections are kept in ``OtlpReceiver.errors``."""

        return Handler
