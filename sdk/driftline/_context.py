"""The prediction id of the running call, and of the call that just returned.

One context variable holds a *cell* per decorated call, ``[key, start, prev,
done]``: ``key`` is the id's sequence number (formatted on first read, then
cached as the string) or, for a batch, the tuple of its rows' ids; ``start`` the
``perf_counter`` reading the id is formatted with; ``prev`` the cell the
variable held when the call began; ``done`` whether the call has returned.

A call sets the variable once, when it starts, and only marks its cell done
when it returns: one ``ContextVar.set`` per call instead of a set, a reset and a
second variable's set. Both answers follow from the chain of cells:

- the running call is the first cell on the chain that is not done;
- the last finished call is the outermost cell of the first run of done cells,
  because an enclosing call always returns after the calls nested in it.

A finished cell drops its link to cells that had already finished when it
began, so the chain is never longer than the nesting of calls: nothing
accumulates over sequential calls. Done is set on the cell, which a copied
context (a task started inside the call) shares: there, once the call has
returned, it is no longer current and counts as the last finished call.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Any, Final

from ._ids import format_id

__all__ = [
    "DONE",
    "STATE",
    "current_prediction_id",
    "current_prediction_ids",
    "enter",
    "id_of",
    "last_prediction_id",
    "last_prediction_ids",
    "leave",
    "restore",
    "running_from",
    "use_ids",
]

KEY: Final = 0
START: Final = 1
PREV: Final = 2
DONE: Final = 3

Cell = list[Any]
"""``[key, start, prev, done]``; see the module docstring."""

STATE: ContextVar[Cell | None] = ContextVar("driftline_prediction", default=None)


def id_of(cell: Cell) -> str | tuple[str, ...]:
    """Return the cell's id (formatting and caching it on first use), or a batch's ids."""
    key = cell[KEY]
    if type(key) is int:
        key = cell[KEY] = format_id(key, cell[START])
    return key  # type: ignore[no-any-return]


def running_from(cell: Cell | None) -> Cell | None:
    """Return the first cell on the chain from ``cell`` whose call has not returned."""
    while cell is not None and cell[DONE]:
        cell = cell[PREV]
    return cell


def enter(ids: str | tuple[str, ...]) -> Cell:
    """Make ``ids`` current in this context (a batch call, a challenger); return the cell."""
    cell: Cell = [ids, 0.0, STATE.get(), False]
    STATE.set(cell)
    return cell


def leave(cell: Cell) -> None:
    """Mark the call of ``cell`` returned, and forget the cells that were already done."""
    cell[DONE] = True
    prev = cell[PREV]
    if prev is not None and prev[DONE]:
        cell[PREV] = running_from(prev)


def _last(cell: Cell | None) -> Cell | None:
    """Return the cell of the last call that returned in this context, else None."""
    while cell is not None:
        if cell[DONE]:
            prev = cell[PREV]
            while prev is not None and prev[DONE]:
                cell, prev = prev, prev[PREV]
            return cell
        cell = cell[PREV]
    return None


def current_prediction_id() -> str | None:
    """Return the id of the decorated (non-batch) call running now, else None."""
    cell = running_from(STATE.get())
    if cell is None:
        return None
    value = id_of(cell)
    return value if isinstance(value, str) else None


def current_prediction_ids() -> tuple[str, ...]:
    """Return the ids of the decorated call running now: one for a plain call, one per batch row."""
    cell = running_from(STATE.get())
    if cell is None:
        return ()
    value = id_of(cell)
    return (value,) if isinstance(value, str) else value


def last_prediction_id() -> str | None:
    """Return the id of the last plain decorated call that finished in this context, else None."""
    cell = _last(STATE.get())
    if cell is None:
        return None
    value = id_of(cell)
    return value if isinstance(value, str) else None


def last_prediction_ids() -> tuple[str, ...]:
    """Return the ids of the last decorated call (plain or batch) that finished in this context."""
    cell = _last(STATE.get())
    if cell is None:
        return ()
    value = id_of(cell)
    return (value,) if isinstance(value, str) else value


def use_ids(ids: str | tuple[str, ...]) -> Token[Cell | None]:
    """Make ``ids`` current, as a running call's, until ``restore``; return the token for it.

    For code that runs on behalf of a call it is not, such as a challenger run
    under its champion's ids: nothing is marked done, so the last id is unchanged.
    """
    return STATE.set([ids, 0.0, STATE.get(), False])


def restore(token: Token[Cell | None]) -> None:
    """Make current again what was current before the matching ``use_ids``."""
    STATE.reset(token)
