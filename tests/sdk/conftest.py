"""Fixtures for the SDK tests: a private registry and tracer provider per test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from driftline import testing
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry


@dataclass(frozen=True)
class Traced:
    """A private tracer provider that keeps every finished span in memory."""

    provider: TracerProvider
    exporter: InMemorySpanExporter


@pytest.fixture
def registry() -> CollectorRegistry:
    """Return a registry of the test's own."""
    return CollectorRegistry()


@pytest.fixture
def traced() -> Iterator[Traced]:
    """Return a private, always-sampling tracer provider with an in-memory exporter."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield Traced(provider, exporter)
    provider.shutdown()


@pytest.fixture
def telemetry() -> Iterator[testing.Telemetry]:
    """Run the test inside ``driftline.testing.capture_telemetry()``."""
    with testing.capture_telemetry() as captured:
        yield captured
