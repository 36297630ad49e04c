"""Categorical columns handed over as integer codes count and score exactly like labels."""

from __future__ import annotations

import numpy as np
from driftline_sidecar.drift import CategoryCodes, DriftSettings, evaluate, fit_profile
from driftline_sidecar.drift._categorical import tally, tally_codes
from driftline_sidecar.profile import build_profile
from scipy import stats

LEVELS = ["a", "b", "c", "d"]


def _coded(values: list[str | None]) -> CategoryCodes:
    """Code ``values`` in first-seen order, as a window does."""
    table: dict[str | None, int] = {None: 0}
    codes = [table.setdefault(value, len(table)) for value in values]
    return CategoryCodes(np.array(codes, dtype=np.int32), tuple(table))


def _labels(rng: np.random.Generator, n: int, shares: list[float]) -> list[str | None]:
    values: list[str | None] = rng.choice(["a", "b", "c", "d", "new"], size=n, p=shares).tolist()
    for i in range(0, n, 11):
        values[i] = None
    return values


def test_codes_tally_as_their_decoded_labels() -> None:
    """Counting codes gives the counts and the missing count of counting the labels."""
    values = _labels(np.random.default_rng(1), 1_000, [0.3, 0.3, 0.2, 0.1, 0.1])
    coded = tally_codes(_coded(values))
    expected = tally(np.array(values, dtype=object))
    assert (dict(coded.counts), coded.missing) == (dict(expected.counts), expected.missing)


def test_labels_absent_from_the_codes_are_not_counted() -> None:
    """A label of the table that no value uses does not appear in the tally."""
    column = CategoryCodes(np.array([1, 1, 3], dtype=np.int32), (None, "a", "b", "c"))
    assert dict(tally_codes(column).counts) == {"a": 2, "c": 1}


def test_decoded_codes_are_the_labels() -> None:
    """``decoded`` returns the object array of labels, None where missing."""
    values = ["b", None, "a", "b"]
    assert _coded(values).decoded().tolist() == values


def test_coded_window_evaluates_exactly_as_labels() -> None:
    """An evaluation of coded columns equals that of the same labels, unseen ones included."""
    rng = np.random.default_rng(2)
    reference = {"c": rng.choice(LEVELS, size=5_000, p=[0.4, 0.3, 0.2, 0.1]).astype(object)}
    fitted = fit_profile(build_profile(reference, model="m", version="1"))
    values = _labels(rng, 2_000, [0.25, 0.25, 0.2, 0.2, 0.1])
    by_labels = evaluate(fitted, {"c": np.array(values, dtype=object)}, evaluated_at=1.0)
    by_codes = evaluate(fitted, {"c": _coded(values)}, evaluated_at=1.0)
    assert by_codes.to_dict() | {"duration_s": 0} == by_labels.to_dict() | {"duration_s": 0}


def test_coded_window_chi_square_matches_scipy() -> None:
    """The chi-square of a coded column equals ``scipy.stats.chi2_contingency``."""
    rng = np.random.default_rng(3)
    reference = {"c": rng.choice(LEVELS, size=5_000, p=[0.4, 0.3, 0.2, 0.1]).astype(object)}
    profile = build_profile(reference, model="m", version="1")
    values = rng.choice(LEVELS, size=3_000, p=[0.25, 0.25, 0.25, 0.25]).tolist()
    result = evaluate(fit_profile(profile), {"c": _coded(values)}, evaluated_at=1.0).column("c")
    column = profile.columns["c"]
    table = [list(column.category_counts), [values.count(c) for c in column.categories]]
    expected = stats.chi2_contingency(table, correction=False)
    assert (result.statistic, result.p_value) == (
        float(expected.statistic),
        float(expected.pvalue),
    )


def test_coded_labels_in_a_numeric_column_are_read_as_numbers() -> None:
    """A numeric column handed over as codes is decoded; labels that are not numbers are missing."""
    profile = build_profile({"x": np.linspace(0.0, 1.0, 500)}, model="m", version="1")
    column = CategoryCodes(np.array([1, 2, 0, 3], dtype=np.int32), (None, "0.5", "0.25", "x"))
    result = evaluate(
        fit_profile(profile, DriftSettings(min_samples=1)), {"x": column}, evaluated_at=1.0
    ).column("x")
    assert (result.n_window, result.quality["missing"]) == (2, 0.5)
