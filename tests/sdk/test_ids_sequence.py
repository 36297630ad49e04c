"""Prediction ids: the lock-free sequence behind them, its layout and its wrap."""

from __future__ import annotations

import itertools
import uuid

import pytest
from driftline import _ids
from driftline._ids import new_id, new_ids


def test_ids_of_one_process_share_their_random_bits() -> None:
    """Two ids of one process differ only in time and sequence, not in the random bits."""
    first, second = new_id(), new_ids(1)[0]
    assert first[15:24] == second[15:24]


def test_sequence_is_the_last_48_bits() -> None:
    """Consecutive ids carry consecutive sequence numbers in their last 48 bits."""
    first, second = (uuid.UUID(i).int & ((1 << 48) - 1) for i in (new_id(), new_id()))
    assert second - first == 1


def test_exhausted_sequence_wraps_and_keeps_the_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the sequence passes 2**48 - 1, later ids are still valid UUIDv7 and still larger."""
    monkeypatch.setattr(_ids, "numbers", itertools.count(_ids._SEQUENCE_MAX - 1))
    ids = [new_id() for _ in range(4)] + new_ids(3)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert {uuid.UUID(i).version for i in ids} == {7}
