"""Sliding windows: bounded by record count and by age, with bounded columns."""

from __future__ import annotations

import numpy as np
from driftline_sidecar.ingest import Column
from driftline_sidecar.window import Window


def _numbers(*values: float) -> Column:
    return Column("numeric", np.array(values, dtype=np.float64))


def _labels(*values: str | None) -> Column:
    array = np.empty(len(values), dtype=object)
    array[:] = list(values)
    return Column("categorical", array)


def _times(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64)


def test_window_keeps_the_most_recent_records_by_count() -> None:
    """Past capacity, the oldest records leave first and order is kept."""
    window = Window(3)
    window.append(_times(1, 2), {"x": _numbers(1, 2)})
    window.append(_times(3, 4), {"x": _numbers(3, 4)})
    assert window.columns()["x"].values.tolist() == [2.0, 3.0, 4.0]


def test_batch_larger_than_capacity_keeps_its_tail() -> None:
    """A single batch over capacity keeps only its last records."""
    window = Window(2)
    window.append(_times(1, 2, 3), {"x": _numbers(1, 2, 3)})
    assert window.columns()["x"].values.tolist() == [2.0, 3.0]


def test_window_counts_every_received_record() -> None:
    """``received`` counts records ever appended, not just those kept."""
    window = Window(2)
    window.append(_times(1, 2, 3), {"x": _numbers(1, 2, 3)})
    assert (len(window), window.received) == (2, 3)


def test_window_expires_records_by_age() -> None:
    """Records older than max_age at ``now`` leave the window."""
    window = Window(10, max_age=5.0)
    window.append(_times(100, 103, 106), {"x": _numbers(1, 2, 3)})
    window.expire(now=107.5)
    assert window.columns()["x"].values.tolist() == [2.0, 3.0]


def test_window_without_max_age_never_expires() -> None:
    """Without max_age, age does not remove records."""
    window = Window(10)
    window.append(_times(1), {"x": _numbers(1)})
    assert window.expire(now=1e12) == 0


def test_missing_column_in_a_batch_is_filled_with_missing() -> None:
    """A column absent from a later batch gets NaN (numeric) or None (categorical) there."""
    window = Window(4)
    window.append(_times(1), {"x": _numbers(1), "plan": _labels("a")})
    window.append(_times(2), {})
    columns = window.columns()
    assert (
        bool(np.isnan(columns["x"].values[1])),
        columns["plan"].values.tolist(),
    ) == (True, [("a"), None])


def test_new_column_beyond_the_cap_is_ignored() -> None:
    """Once max_columns columns exist, a new column is not kept and is counted."""
    window = Window(4, max_columns=1)
    ignored = window.append(_times(1), {"x": _numbers(1), "y": _numbers(2)})
    assert (ignored, list(window.columns())) == (1, ["x"])


def test_fixed_kinds_keep_only_reference_columns() -> None:
    """A window built with kinds keeps only those columns."""
    window = Window(4, kinds={"x": "numeric"})
    ignored = window.append(_times(1), {"x": _numbers(1), "extra": _numbers(2)})
    assert (ignored, list(window.columns())) == (1, ["x"])


def test_type_mismatches_are_counted_in_the_window() -> None:
    """Type-mismatch flags travel with their records and leave with them."""
    window = Window(2)
    flagged = Column("numeric", np.array([np.nan, 1.0]), np.array([True, False]))
    window.append(_times(1, 2), {"x": flagged})
    before = window.type_mismatches()["x"]
    window.append(_times(3), {"x": _numbers(3)})
    assert (before, window.type_mismatches()["x"]) == (1, 0)


def test_restore_reproduces_the_state() -> None:
    """A window restored from another's state has the same records in the same order."""
    window = Window(3)
    window.append(
        _times(1, 2, 3, 4), {"x": _numbers(1, 2, 3, 4), "p": _labels("a", "b", None, "d")}
    )
    copy = Window(3)
    copy.restore(window.state())
    assert (window.received, copy.columns()["p"].values.tolist()) == (
        copy.received,
        window.columns()["p"].values.tolist(),
    )


def test_window_matches_the_tail_of_everything_appended() -> None:
    """After many batches of random sizes the window equals the last `capacity` records sent."""
    rng = np.random.default_rng(3)
    window = Window(37)
    sent: list[float] = []
    for _ in range(200):
        n = int(rng.integers(0, 60))
        values = rng.normal(size=n)
        sent.extend(values.tolist())
        window.append(np.arange(n, dtype=np.float64), {"x": Column("numeric", values)})
    assert window.columns()["x"].values.tolist() == sent[-37:]


def test_numbers_in_a_categorical_window_column_become_labels() -> None:
    """Without a profile, numbers arriving in a column first seen as categorical become labels."""
    window = Window(4)
    window.append(_times(1), {"zip": _labels("a")})
    window.append(_times(2, 3), {"zip": _numbers(3.0, np.nan)})
    assert window.columns()["zip"].values.tolist() == ["a", "3", None]


def test_categorical_codes_decode_to_the_window_values() -> None:
    """A categorical column's codes, decoded, are its values in arrival order."""
    window = Window(4)
    window.append(_times(1, 2, 3), {"c": _labels("a", None, "b")})
    window.columns()
    window.append(_times(4, 5, 6), {"c": _labels("b", "zz", "a")})
    column = window.columns()["c"]
    assert column.codes is not None
    assert column.codes.decoded().tolist() == column.values.tolist() == ["b", "b", "zz", "a"]


def test_numeric_columns_have_no_codes() -> None:
    """Only categorical columns carry codes; the engine gets numeric values as they are."""
    window = Window(4)
    window.append(_times(1), {"x": _numbers(1.0)})
    column = window.columns()["x"]
    assert (column.codes, column.for_engine.tolist()) == (None, [1.0])


def test_label_table_stays_bounded_with_a_new_label_per_record() -> None:
    """Labels that left the ring are dropped from the table, and the codes still decode."""
    window = Window(5)
    for start in range(0, 200, 3):
        labels = [f"id{i}" for i in range(start, start + 3)]
        window.append(_times(*range(start, start + 3)), {"c": _labels(*labels)})
        window.columns()
    codes = window.columns()["c"].codes
    assert codes is not None
    assert len(codes.labels) <= 2 * 5
    assert codes.decoded().tolist() == [f"id{i}" for i in range(196, 201)]


def test_restored_window_codes_decode_to_the_restored_values() -> None:
    """After a restore, codes are rebuilt for the restored records."""
    window = Window(3)
    window.append(_times(1, 2, 3), {"c": _labels("a", "b", None)})
    window.columns()
    copy = Window(3)
    copy.append(_times(1), {"c": _labels("old")})
    copy.restore(window.state())
    codes = copy.columns()["c"].codes
    assert codes is not None
    assert codes.decoded().tolist() == ["a", "b", None]
