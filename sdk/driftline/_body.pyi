"""Types of the optional C extension built from ``_body.c``."""

from collections.abc import Callable, Sequence

def encode_batch(
    service: str,
    sent_at: float,
    entries: Sequence[object],
    wall: float,
    perf: float,
    format_id: Callable[[int, float], str],
    /,
) -> bytes | None: ...
def encode_exchange(
    service: str,
    sent_at: float,
    entries: Sequence[object],
    wall: float,
    perf: float,
    format_id: Callable[[int, float], str],
    fd: int,
    head: bytes,
    timeout: float,
    limit: int,
    wake: int = -1,
    linger: float = 0.0,
    /,
) -> tuple[bytes, bytes, int, float, float] | None: ...
