"""The current and last prediction ids: one context cell per call (sdk/driftline/_context.py)."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import driftline
from driftline import _context
from driftline.testing import Telemetry


def _chain_length() -> int:
    cell, length = _context.STATE.get(), 0
    while cell is not None:
        cell, length = cell[_context.PREV], length + 1
    return length


def test_last_id_after_a_nested_call_is_the_outer_call(telemetry: Telemetry) -> None:
    """When an outer call returns after an inner one, the outer call is the last one."""
    ids: dict[str, str | None] = {}

    @driftline.monitor(model="inner", version="1")
    def inner(features: dict[str, float]) -> float:
        return 0.5

    @driftline.monitor(model="outer", version="1")
    def outer(features: dict[str, float]) -> float:
        inner(features)
        ids["inner"] = driftline.last_prediction_id()
        ids["outer"] = driftline.current_prediction_id()
        return 0.5

    outer({"x": 1.0})
    assert driftline.last_prediction_id() == ids["outer"] != ids["inner"]
    assert [r.prediction_id for r in telemetry.records] == [ids["inner"], ids["outer"]]


def test_inside_a_call_the_last_id_is_the_call_before_it(telemetry: Telemetry) -> None:
    """While a call runs, last_prediction_id() is the call that finished before it began."""
    seen: list[str | None] = []

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        seen.append(driftline.last_prediction_id())
        return 0.5

    def run() -> str | None:
        predict({"x": 1.0})
        first = driftline.last_prediction_id()
        predict({"x": 1.0})
        return first

    first = contextvars.Context().run(run)  # a fresh context: no earlier call in it
    assert seen == [None, first]


def test_no_current_id_after_the_call_returns(telemetry: Telemetry) -> None:
    """After a call returns there is no current id, only a last one."""

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        return 0.5

    predict({"x": 1.0})
    assert driftline.current_prediction_id() is None
    assert driftline.last_prediction_id() is not None
    assert driftline.last_prediction_id() == telemetry.records[0].prediction_id


def test_sequential_calls_keep_one_cell(telemetry: Telemetry) -> None:
    """After many sequential calls the context holds a single cell: nothing accumulates."""

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        return 0.5

    for _ in range(1_000):
        predict({"x": 1.0})
    assert _chain_length() == 1


def test_a_context_copied_inside_a_call_sees_it_end(telemetry: Telemetry) -> None:
    """In a context copied while a call ran, the call is current until it returns, then last."""
    copies: list[contextvars.Context] = []

    @driftline.monitor(model="m", version="1")
    def predict(features: dict[str, float]) -> float:
        copies.append(contextvars.copy_context())
        return 0.5

    predict({"x": 1.0})
    pid = driftline.last_prediction_id()
    seen = copies[0].run(
        lambda: (driftline.current_prediction_id(), driftline.last_prediction_id())
    )
    assert seen == (None, pid)


def test_concurrent_tasks_each_see_their_own_last_id(telemetry: Telemetry) -> None:
    """Two asyncio tasks interleaving decorated calls each read back their own call's id."""

    @driftline.monitor(model="m", version="1")
    async def predict(features: dict[str, float]) -> float:
        await asyncio.sleep(0.01)
        return 0.5

    async def task() -> tuple[str | None, str | None]:
        inside: list[str | None] = []

        @driftline.monitor(model="probe", version="1")
        async def probe(features: dict[str, float]) -> float:
            inside.append(driftline.current_prediction_id())
            return await predict(features)

        await probe({"x": 1.0})
        await asyncio.sleep(0.01)
        return inside[0], driftline.last_prediction_id()

    async def main() -> list[Any]:
        return list(await asyncio.gather(task(), task()))

    (inside_a, last_a), (inside_b, last_b) = asyncio.run(main())
    assert (last_a, last_b) == (inside_a, inside_b)
    assert inside_a != inside_b


def test_batch_ids_are_current_inside_and_last_after(telemetry: Telemetry) -> None:
    """A batch call's row ids are current inside it and last after it."""
    seen: list[tuple[str, ...]] = []

    @driftline.monitor(model="m", version="1", batch=True)
    def predict(rows: list[dict[str, float]]) -> list[float]:
        seen.append(driftline.current_prediction_ids())
        return [0.5] * len(rows)

    predict([{"x": 1.0}, {"x": 2.0}])
    assert len(seen[0]) == 2
    assert driftline.last_prediction_ids() == seen[0]
    assert driftline.last_prediction_id() is None  # a batch has no single id
