"""The prediction store: repeated and resent ids, shadow pairs, eviction, plan before apply."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from driftline_sidecar.ingest import Column
from driftline_sidecar.predictions import PairGroup, PredictionStore, RecordBatch

NOW = 1_800_000_000.0


def records(values: list[float], *, role: str = "champion", at: float = NOW) -> RecordBatch:
    """A batch of model churn (version 1 for the champion, 2 for the challenger)."""
    version = "1" if role == "champion" else "2"
    timestamps = np.full(len(values), at)
    return RecordBatch(
        "churn", version, role, timestamps, {"value": Column("numeric", np.array(values))}
    )


def joined_values(store: PredictionStore, key: str) -> list[Any]:
    """The output of every record an outcome for ``key`` joins (champion first)."""
    status, joined = store.join(key, 1.0, NOW)
    assert status == "joined"
    assert joined is not None
    return [record.output("value") for record in joined.records]


def pairs_by_id(
    groups: tuple[PairGroup, ...], champion_ids: list[str]
) -> dict[str, tuple[float, float]]:
    """The (champion, challenger) values of each pair, by the champion record's id."""
    found = {}
    for group in groups:
        a = group.champion.outputs["value"].values[group.champion_rows]
        b = group.challenger.outputs["value"].values[group.challenger_rows]
        for row, x, y in zip(group.champion_rows.tolist(), a.tolist(), b.tolist(), strict=True):
            found[champion_ids[row]] = (x, y)
    return found


def test_an_id_repeated_in_a_batch_keeps_its_first_record() -> None:
    """The first record of an id repeated within one batch is the one stored."""
    store = PredictionStore(10, 3600)
    store.add(records([1.0, 2.0, 3.0]), ("a", "b", "a"), NOW)
    assert (joined_values(store, "a"), joined_values(store, "b"), len(store)) == ([1.0], [2.0], 2)


def test_a_resent_batch_changes_nothing() -> None:
    """A batch sent again (same ids, same role) completes no pair and keeps the first records."""
    store = PredictionStore(10, 3600)
    store.add(records([1.0, 2.0]), ("a", "b"), NOW)
    pairs = store.add(records([5.0, 6.0]), ("a", "b"), NOW)
    assert (pairs, joined_values(store, "a"), len(store)) == ((), [1.0], 2)


def test_a_challenger_batch_completes_pairs_aligned_by_id() -> None:
    """Challenger records in another order pair with the champion record of the same id."""
    store = PredictionStore(10, 3600)
    store.add(records([1.0, 2.0, 3.0]), ("a", "b", "c"), NOW)
    groups = store.add(records([30.0, 10.0], role="challenger"), ("c", "a"), NOW)
    assert pairs_by_id(groups, ["a", "b", "c"]) == {"a": (1.0, 10.0), "c": (3.0, 30.0)}


def test_pairs_against_several_champion_batches_come_in_one_group_each() -> None:
    """A challenger batch pairing with two champion batches gets one group per batch."""
    store = PredictionStore(10, 3600)
    first, second = records([1.0, 2.0]), records([3.0])
    store.add(first, ("a", "b"), NOW)
    store.add(second, ("c",), NOW)
    groups = store.add(records([30.0, 20.0, 10.0], role="challenger"), ("c", "b", "a"), NOW)
    found = [
        (g.champion is first, g.champion_rows.tolist(), g.challenger_rows.tolist()) for g in groups
    ]
    assert found == [(True, [1, 0], [1, 2]), (False, [0], [0])]


def test_a_champion_after_its_challenger_is_the_champion_of_the_pair() -> None:
    """When the challenger's record comes first, the later champion record is still the champion."""
    store = PredictionStore(10, 3600)
    store.add(records([10.0], role="challenger"), ("a",), NOW)
    (group,) = store.add(records([1.0]), ("a",), NOW)
    assert (group.champion.role, group.challenger.role) == ("champion", "challenger")


def test_a_third_record_of_a_paired_id_is_ignored() -> None:
    """Once an id has both records, a further one completes no pair and changes no join."""
    store = PredictionStore(10, 3600)
    store.add(records([1.0]), ("a",), NOW)
    store.add(records([10.0], role="challenger"), ("a",), NOW)
    pairs = store.add(records([99.0], role="challenger"), ("a",), NOW)
    assert (pairs, joined_values(store, "a")) == ((), [1.0, 10.0])


def test_an_id_repeated_in_a_challenger_batch_pairs_once() -> None:
    """A challenger batch repeating a stored id makes one pair, from its first record."""
    store = PredictionStore(10, 3600)
    store.add(records([1.0]), ("a",), NOW)
    (group,) = store.add(records([10.0, 20.0], role="challenger"), ("a", "a"), NOW)
    assert group.challenger_rows.tolist() == [0]


def test_plan_changes_nothing() -> None:
    """Planning a batch leaves the store as it was until the plan is applied."""
    store = PredictionStore(10, 3600)
    placement = store.plan(records([1.0]), ("a",))
    assert (len(store), store.join("a", 1.0, NOW)[0]) == (0, "unknown")
    assert placement is not None


def test_plan_refuses_ids_that_do_not_match_the_records() -> None:
    """More ids than records is a ValueError from plan, before anything changes."""
    store = PredictionStore(10, 3600)
    with pytest.raises(ValueError, match="3 ids for 2 records"):
        store.plan(records([1.0, 2.0]), ("a", "b", "c"))


def test_records_of_an_evicted_id_are_ignored() -> None:
    """An id pushed out by newer ids is not stored again when its record is resent."""
    store = PredictionStore(1, 3600)
    store.add(records([1.0]), ("a",), NOW)
    store.add(records([2.0]), ("b",), NOW)
    store.add(records([1.0]), ("a",), NOW)
    assert (len(store), store.join("a", 1.0, NOW)[0]) == (1, "late")


def test_capacity_eviction_takes_the_oldest_ids_and_their_pairs() -> None:
    """Beyond max_entries the oldest ids leave, with their challenger records; newer ids stay."""
    store = PredictionStore(2, 3600)
    store.add(records([1.0, 2.0]), ("a", "b"), NOW)
    store.add(records([10.0, 20.0], role="challenger"), ("a", "b"), NOW)
    store.add(records([3.0]), ("c",), NOW)
    statuses = [store.join(key, 1.0, NOW)[0] for key in ("a", "b")]
    assert (
        statuses,
        joined_values(store, "c"),
        store.evictions,
    ) == (["late", "joined"], [3.0], {"capacity": 1, "horizon": 0})


def test_eviction_drops_batches_whose_ids_are_all_gone() -> None:
    """Many small batches pushed through a small store leave every id joinable to its own value."""
    store = PredictionStore(3, 3600)
    for i in range(200):
        key = f"id-{i}"
        store.add(records([float(i)]), (key,), NOW)
        store.add(records([float(-i)], role="challenger"), (key,), NOW)
    assert (joined_values(store, "id-199"), len(store)) == ([199.0, -199.0], 3)


def test_a_prediction_older_than_the_horizon_leaves() -> None:
    """Ids whose prediction is older than the horizon are evicted for the horizon."""
    store = PredictionStore(10, 60)
    store.add(records([1.0], at=NOW - 120), ("old",), NOW)
    store.add(records([2.0]), ("new",), NOW)
    assert (len(store), store.evictions) == (1, {"capacity": 0, "horizon": 1})


def test_a_second_outcome_for_an_evicted_id_is_a_duplicate() -> None:
    """An evicted id's first outcome is late and its second a duplicate."""
    store = PredictionStore(1, 3600)
    store.add(records([1.0]), ("a",), NOW)
    store.add(records([2.0]), ("b",), NOW)
    statuses = [store.join("a", 1.0, NOW)[0] for _ in range(2)]
    assert statuses == ["late", "duplicate"]


def test_an_id_evicted_long_ago_is_forgotten() -> None:
    """Once more than max_entries ids were evicted after it, an id's outcome is unknown."""
    store = PredictionStore(1, 3600)
    for key in ("a", "b", "c"):
        store.add(records([1.0]), (key,), NOW)
    assert [store.join(key, 1.0, NOW)[0] for key in ("a", "b", "c")] == [
        "unknown",
        "late",
        "joined",
    ]
