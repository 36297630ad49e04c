"""Types of the optional C extension built from ``_speedups.c``."""

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

class Pending:
    """Doubles appended one at a time, taken in bulk (``_metrics.ModelStats``)."""

    def __init__(self) -> None: ...
    def append(self, value: float, /) -> None: ...
    def take(self, n: int, /) -> bytes: ...
    def __len__(self) -> int: ...

class Plan:
    """What a ``Wrapper`` needs to run one binding's calls in C (``_call.plan_for``)."""

    def __init__(
        self,
        *,
        ids: dict[str, Any],
        started: Any,
        state: ContextVar[Any],
        perf_counter: Callable[[], float],
        random: Callable[[], float],
        durations: Any,
        values: Any,
        fold_at: int,
        fold: Callable[[], None],
        queue: Any,
        submit_call: Callable[..., None] | None,
        call_tag: int,
        model: str,
        version: str,
        role: str,
        capture_rate: float,
        index: int,
        log_rate: float,
        log: Callable[[list[Any], float], None],
        finish: Callable[..., None],
        fail: Callable[..., None],
        running_from: Callable[[Any], Any],
        telemetry_error: Callable[[str], None],
    ) -> None: ...

class Wrapper:
    """A decorated sync function (``_wrappers.wrap``)."""

    def __init__(
        self,
        fn: Callable[..., Any],
        monitor: Any,
        fallback: Callable[..., Any],
        runtime: dict[str, Any],
    ) -> None: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...

def perf_counter() -> float:
    """The clock the C path reads: ``time.perf_counter``'s."""

class IdFormat:
    """Prediction ids formatted in C (``_ids.format_id``)."""

    def __init__(self) -> None: ...
    def format(self, number: int, start: float, /) -> str: ...
    def reset(self, anchor_ms: int, anchor_perf: float, middle: str, /) -> None: ...
