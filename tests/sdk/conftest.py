"""Fixtures for the SDK tests: a private registry and tracer provider per test, and capture queues
shipping to a real HTTP sink.

A test module sets its queues' defaults by overriding the ``queue_options`` fixture.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from driftline import testing
from driftline._capture import CaptureQueue, CaptureSettings
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from tests.support.http_sink import HttpSink

MakeQueue = Callable[..., CaptureQueue]


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


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    """A running HTTP sink on 127.0.0.1, stopped after the test."""
    with HttpSink() as running:
        yield running


@pytest.fixture
def queue_options() -> dict[str, Any]:
    """Capture settings every queue of the module gets; a module overrides this fixture."""
    return {}


@pytest.fixture
def make_queue(
    sink: HttpSink, registry: CollectorRegistry, queue_options: dict[str, Any]
) -> Iterator[MakeQueue]:
    """Build queues pointed at the sink, started unless told otherwise; each closed afterwards.

    Settings: the sink's URL, service ``churn-api``, a 60 s flush interval (only
    ``flush()`` sends), then ``queue_options``, then the call's own overrides.
    """
    queues: list[CaptureQueue] = []

    def make(start: bool = True, **overrides: Any) -> CaptureQueue:
        options: dict[str, Any] = {"url": sink.url, "service_name": "churn-api"}
        options |= {"flush_interval": 60.0} | queue_options | overrides
        queue = CaptureQueue(CaptureSettings(**options), registry)
        queues.append(queue)
        if start:
            queue.start()
        return queue

    yield make
    sink.release()  # a queue stuck on a hanging sink closes at once
    for queue in queues:
        queue.close(1.0)
