"""The prediction id of the running call, and of the call that just returned."""

from __future__ import annotations

from contextvars import ContextVar

__all__ = [
    "CURRENT",
    "LAST",
    "current_prediction_id",
    "current_prediction_ids",
    "last_prediction_id",
    "last_prediction_ids",
]

# A plain call holds a str, a batch call the tuple of its rows' ids.
CURRENT: ContextVar[str | tuple[str, ...] | None] = ContextVar(
    "driftline_current_prediction", default=None
)
LAST: ContextVar[str | tuple[str, ...] | None] = ContextVar(
    "driftline_last_prediction", default=None
)


def current_prediction_id() -> str | None:
    """Return the id of the decorated (non-batch) call running now, else None."""
    value = CURRENT.get()
    return value if isinstance(value, str) else None


def current_prediction_ids() -> tuple[str, ...]:
    """Return the ids of the decorated call running now: one for a plain call, one per batch row."""
    value = CURRENT.get()
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else value


def last_prediction_id() -> str | None:
    """Return the id of the last plain decorated call that finished in this context, else None."""
    value = LAST.get()
    return value if isinstance(value, str) else None


def last_prediction_ids() -> tuple[str, ...]:
    """Return the ids of the last decorated call (plain or batch) that finished in this context."""
    value = LAST.get()
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else value
