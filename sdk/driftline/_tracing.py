"""Which tracer driftline uses, the optional OTLP/HTTP setup, and span attribute cleaning."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider, Tracer, TracerProvider
from opentelemetry.util.types import AttributeValue

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider

    from ._config import Settings

__all__ = ["TracerSource", "build_tracer_source", "clean_attribute_value", "flatten_attributes"]

_SCOPE = "driftline"
_RECHECK_SECONDS = 1.0
_MAX_STRING = 1024


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("driftline")
    except PackageNotFoundError:
        return "0"


def _is_real(provider: TracerProvider) -> bool:
    return not isinstance(provider, ProxyTracerProvider | NoOpTracerProvider)


class TracerSource:
    """The tracer of the current runtime, or None when driftline makes no spans.

    While it follows the global API and the app has not set a provider yet,
    ``pending`` is true and ``get(now)`` looks at the global provider again at
    most once a second, so a provider installed after ``configure()`` is used
    without any per-call lookup.
    """

    __slots__ = ("_next_check", "_version", "pending", "tracer")

    def __init__(self, tracer: Tracer | None, pending: bool) -> None:
        self.tracer = tracer
        self.pending = pending
        self._next_check = 0.0
        self._version = ""

    def get(self, now: float) -> Tracer | None:
        """Return the tracer, looking for a newly set global provider when one is due."""
        if self.pending and now >= self._next_check:
            self._next_check = now + _RECHECK_SECONDS
            provider = trace.get_tracer_provider()
            if _is_real(provider):
                self.tracer = provider.get_tracer(_SCOPE, self._version or _version())
                self.pending = False
        return self.tracer


def _otlp_provider(settings: Settings) -> SdkTracerProvider:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    assert settings.otlp_endpoint is not None
    endpoint = settings.otlp_endpoint
    if not endpoint.endswith("/v1/traces"):
        endpoint += "/v1/traces"
    provider = SdkTracerProvider(
        # Resource.create merges OTEL_RESOURCE_ATTRIBUTES; our service name wins.
        resource=Resource.create({SERVICE_NAME: settings.service_name}),
        sampler=ParentBased(TraceIdRatioBased(settings.trace_sample_rate)),
    )
    # Headers, timeout and compression come from the OTEL_EXPORTER_OTLP_* variables;
    # the batch processor reads OTEL_BSP_*.
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


def build_tracer_source(settings: Settings) -> tuple[TracerSource | None, SdkTracerProvider | None]:
    """Return the tracer source (None: tracing off) and the provider driftline owns, if any.

    Order: tracing off when ``trace_sample_rate`` is 0; the ``tracer_provider``
    given to configure(); the app's global provider when it has one; a new
    OTLP/HTTP provider when ``otlp_endpoint`` is set (not installed globally);
    else follow the global API, which costs nothing until the app sets a provider.
    """
    if settings.trace_sample_rate == 0.0:
        return None, None
    version = _version()
    if settings.tracer_provider is not None:
        return TracerSource(settings.tracer_provider.get_tracer(_SCOPE, version), False), None
    provider = trace.get_tracer_provider()
    if _is_real(provider):
        return TracerSource(provider.get_tracer(_SCOPE, version), False), None
    if settings.otlp_endpoint is not None:
        owned = _otlp_provider(settings)
        return TracerSource(owned.get_tracer(_SCOPE, version), False), owned
    source = TracerSource(None, True)
    source._version = version
    return source, None


def clean_attribute_value(value: object) -> AttributeValue | None:
    """Return ``value`` as a valid span attribute value, or None to leave it out; never raises."""
    try:
        if isinstance(value, bool | str):
            return value if not isinstance(value, str) else value[:_MAX_STRING]
        if isinstance(value, int):
            return int(value) if -(2**63) <= value < 2**63 else str(value)
        if isinstance(value, float):
            return float(value) if not math.isnan(value) else "NaN"
        item = getattr(value, "item", None)  # numpy scalars
        if callable(item) and getattr(value, "ndim", None) == 0:
            return clean_attribute_value(item())
    except Exception:
        return None
    return None


def flatten_attributes(prefix: str, values: Mapping[str, object]) -> dict[str, AttributeValue]:
    """Return ``{prefix + name: cleaned value}`` for every value that can be an attribute."""
    out: dict[str, AttributeValue] = {}
    for name, value in values.items():
        cleaned = clean_attribute_value(value)
        if cleaned is not None:
            out[prefix + str(name)] = cleaned
    return out
