"""``CaptureSettings`` and ``CaptureSink``: how capture is bounded and sent, what a sink offers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from ipaddress import ip_address
from typing import Final, Protocol
from urllib.parse import urlsplit

import numpy as np

from ._wire import JsonScalar

__all__ = ["COMPRESSIONS", "DROP_REASONS", "SEND_OUTCOMES", "CaptureSettings", "CaptureSink"]

COMPRESSIONS: Final = ("auto", "gzip", "none")
"""Values of ``capture_compression``: ``auto`` gzips unless the sidecar is on a loopback address."""

DROP_REASONS: Final = (
    "queue_full",
    "extraction_error",
    "encode_error",
    "rejected",
    "retries_exhausted",
    "shutdown",
)
"""Every value of the ``reason`` label of ``driftline_capture_records_dropped_total``."""

SEND_OUTCOMES: Final = ("success", "client_error", "server_error", "connection_error")
"""Every value of the ``outcome`` label of ``driftline_capture_send_duration_seconds``."""


@dataclass(frozen=True)
class CaptureSettings:
    """How the capture queue is bounded and how its shipper talks to the sidecar."""

    url: str
    """The sidecar's base URL; bodies go to ``{url}/v1/records``."""
    service_name: str
    token: str | None = None
    """Sent as ``Authorization: Bearer <token>`` when set."""
    queue_size: int = 10_000
    """The most records held in memory; more are dropped as ``queue_full``."""
    batch_size: int = 500
    """The most records in one request body; a full batch wakes the shipper."""
    flush_interval: float = 1.0
    """Seconds between sends of a partial batch."""
    compression: str = "auto"
    """``gzip``, ``none``, or ``auto``: gzip unless the sidecar's host is a loopback address."""
    timeout: float = 2.0
    """Seconds for one POST (connect, send and answer)."""
    max_retries: int = 5
    """Retries of a body after a 5xx or connection error before ``retries_exhausted``."""
    exit_timeout: float = 2.0
    """Seconds the interpreter-exit flush may take."""
    retry_backoff: float = 0.1
    """The first retry's delay in seconds; it doubles per retry, with jitter."""
    retry_backoff_max: float = 5.0
    """The longest delay between two retries, in seconds."""

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url: expected http(s)://host[:port][/path], got {self.url!r}")
        if self.compression not in COMPRESSIONS:
            raise ValueError(
                f"compression: must be one of {', '.join(COMPRESSIONS)}, got {self.compression!r}"
            )
        for name in ("queue_size", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: must be at least 1, got {getattr(self, name)}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries: must be at least 0, got {self.max_retries}")
        for name in ("flush_interval", "timeout", "retry_backoff", "retry_backoff_max"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be a positive number, got {getattr(self, name)}")
        if not self.exit_timeout >= 0:
            raise ValueError(f"exit_timeout: must be 0 or more, got {self.exit_timeout}")

    @property
    def gzip(self) -> bool:
        """Whether large bodies are gzipped: on a loopback address compression only costs CPU.

        Compressing is done on the shipper thread; its zlib calls release and
        retake the GIL once per output block, and each time the model's thread
        can end up waiting for the GIL. Next to the model, the bytes saved buy nothing.
        """
        if self.compression != "auto":
            return self.compression == "gzip"
        return not is_loopback(urlsplit(self.url).hostname or "")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` names and loopback IP addresses (127.0.0.0/8, ::1, ::ffff:127.x)."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ip_address(name)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


class CaptureSink(Protocol):
    """Where the decorator sends captured records: the real ``CaptureQueue`` or a test double."""

    def submit_row(
        self,
        model: str,
        version: str,
        role: str,
        prediction_id: str,
        timestamp: float,
        trace_id: str | None,
        features: Mapping[str, object],
        predictions: Mapping[str, object],
    ) -> None:
        """Queue one record; never raises, never blocks."""

    def submit_call(
        self,
        model: str,
        version: str,
        role: str,
        number: int,
        start: float,
        trace_id: str | None,
        features: Mapping[str, object],
        predictions: Mapping[str, object] | float,
    ) -> None:
        """Queue one record whose id is ``_ids.format_id(number, start)`` and whose timestamp is
        the wall-clock time of the ``perf_counter`` reading ``start``; a float prediction is the
        output ``value``. Never raises or blocks."""

    def submit_columns(
        self,
        model: str,
        version: str,
        role: str,
        prediction_ids: Sequence[str],
        timestamp: float,
        trace_id: str | None,
        features: Mapping[str, Sequence[object] | np.ndarray],
        predictions: Mapping[str, Sequence[object] | np.ndarray],
    ) -> None:
        """Queue ``len(prediction_ids)`` records given as columns; never raises, never blocks."""

    def record_dropped(self, reason: str, count: int = 1) -> None:
        """Count records lost before they reached the queue."""

    def submit_outcome(self, prediction_id: str, actual: JsonScalar, timestamp: float) -> None:
        """Queue one validated outcome for ``/v1/outcomes``; never raises, never blocks."""

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued before the call was sent or dropped; False on timeout."""

    def close(self, timeout: float) -> None:
        """Flush within ``timeout``, then stop; what is left is dropped as ``shutdown``."""
