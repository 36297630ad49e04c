"""The engine: one evaluation over every column, with BH, decisions, quality and JSON output."""

from __future__ import annotations

import json

import numpy as np
import pytest
from driftline_sidecar.drift import ColumnSettings, DriftSettings, Severity, evaluate, fit_profile
from driftline_sidecar.profile import ReferenceProfile, build_profile
from scipy import stats

CATEGORIES = np.array(["a", "b", "c", "d"], dtype=object)
SHARES = [0.4, 0.3, 0.2, 0.1]


def _profile(rng: np.random.Generator, n: int = 5_000, numeric: int = 3) -> ReferenceProfile:
    data: dict[str, np.ndarray] = {f"x{i}": rng.normal(size=n) for i in range(numeric)}
    data["c"] = rng.choice(CATEGORIES, size=n, p=SHARES)
    data["score"] = rng.uniform(size=n)
    return build_profile(data, model="m", version="1", prediction_columns=["score"])


def _window(rng: np.random.Generator, n: int = 2_000, numeric: int = 3) -> dict[str, np.ndarray]:
    window: dict[str, np.ndarray] = {f"x{i}": rng.normal(size=n) for i in range(numeric)}
    window["c"] = rng.choice(CATEGORIES, size=n, p=SHARES)
    window["score"] = rng.uniform(size=n)
    return window


def test_known_shifts_are_flagged_and_nulls_are_not() -> None:
    """A 0.5 sd mean shift and a changed category mix drift; untouched columns do not."""
    rng = np.random.default_rng(10)
    fitted = fit_profile(_profile(rng))
    window = _window(rng)
    window["x0"] = window["x0"] + 0.5
    window["c"] = rng.choice(CATEGORIES, size=2_000, p=[0.1, 0.2, 0.3, 0.4])
    evaluation = evaluate(fitted, window, evaluated_at=1.0)
    assert {c.name for c in evaluation.columns if c.drifted} == {"x0", "c"}


def test_adjusted_p_values_are_bh_over_the_evaluation() -> None:
    """p_adjusted equals scipy's BH over every tested column's p-value."""
    rng = np.random.default_rng(11)
    evaluation = evaluate(fit_profile(_profile(rng)), _window(rng), evaluated_at=1.0)
    raw = [c.p_value for c in evaluation.columns]
    expected = stats.false_discovery_control(raw, method="bh")
    np.testing.assert_array_equal([c.p_adjusted for c in evaluation.columns], expected)


def test_drifted_prediction_is_critical() -> None:
    """A drifted prediction column is critical even with a moderate effect."""
    rng = np.random.default_rng(12)
    window = _window(rng)
    window["score"] = rng.uniform(0.1, 1.1, size=2_000)
    evaluation = evaluate(fit_profile(_profile(rng)), window, evaluated_at=1.0)
    score = evaluation.column("score")
    assert (score.role, score.drifted, score.severity) == ("prediction", True, Severity.CRITICAL)


def test_absent_column_is_reported_untested() -> None:
    """A column missing from the window has status absent, missing ratio 1 and no p-value."""
    rng = np.random.default_rng(13)
    window = _window(rng)
    del window["x1"]
    result = evaluate(fit_profile(_profile(rng)), window, evaluated_at=1.0).column("x1")
    assert (result.status, result.quality["missing"], result.p_value, result.drifted) == (
        "absent",
        1.0,
        None,
        False,
    )


def test_all_missing_column_is_not_tested() -> None:
    """An all-NaN numeric column has too few samples and a missing ratio of 1."""
    rng = np.random.default_rng(14)
    window = _window(rng)
    window["x2"] = np.full(2_000, np.nan)
    result = evaluate(fit_profile(_profile(rng)), window, evaluated_at=1.0).column("x2")
    assert (result.status, result.quality["missing"], result.n_window) == (
        "too_few_samples",
        1.0,
        0,
    )


def test_too_few_finite_values_are_not_tested() -> None:
    """Fewer finite values than min_samples leaves the column untested."""
    rng = np.random.default_rng(15)
    window = _window(rng, n=50)
    evaluation = evaluate(
        fit_profile(_profile(rng), DriftSettings(min_samples=100)), window, evaluated_at=1.0
    )
    assert {c.status for c in evaluation.columns} == {"too_few_samples"}


def test_quality_ratios_count_missing_non_finite_and_out_of_range() -> None:
    """Missing, infinite and out-of-range shares are measured over all window rows."""
    profile = build_profile({"x": np.linspace(0.0, 1.0, 1_000)}, model="m", version="1")
    window = {"x": np.array([np.nan, np.inf, 2.0, -1.0] + [0.5] * 6)}
    result = evaluate(fit_profile(profile, DriftSettings(min_samples=1)), window, evaluated_at=1.0)
    assert dict(result.column("x").quality) == {
        "missing": 0.1,
        "non_finite": 0.1,
        "out_of_range": 0.2,
    }


def test_unseen_categories_are_measured_and_listed() -> None:
    """Labels the reference never saw are counted in quality and named in the result."""
    profile = build_profile({"c": np.array(["a", "b"] * 50, dtype=object)}, model="m", version="1")
    window = {"c": np.array(["a"] * 6 + ["zz"] * 3 + [None], dtype=object)}
    result = evaluate(fit_profile(profile, DriftSettings(min_samples=1)), window, evaluated_at=1.0)
    column = result.column("c")
    assert (
        column.quality["unseen_category"],
        column.quality["missing"],
        column.unseen_categories,
    ) == (
        0.3,
        0.1,
        ("zz",),
    )


def test_numbers_in_a_categorical_column_match_profile_labels() -> None:
    """Integer codes sent as floats count under the labels the profile stored."""
    profile = build_profile(
        {"code": np.array([1, 2] * 100)}, model="m", version="1", categorical=["code"]
    )
    window = {"code": np.array([1.0, 2.0] * 100)}
    result = evaluate(fit_profile(profile), window, evaluated_at=1.0).column("code")
    assert (result.statistic, result.quality["unseen_category"]) == (0.0, 0.0)


def test_to_dict_is_strict_json() -> None:
    """The evaluation serialises without NaN or infinity (open bin edges become null)."""
    rng = np.random.default_rng(16)
    window = _window(rng)
    del window["x0"]
    payload = evaluate(fit_profile(_profile(rng)), window, evaluated_at=1.0).to_dict()
    decoded = json.loads(json.dumps(payload, allow_nan=False))
    assert decoded["columns"][1]["reference_hist"]["edges"][0] is None


def test_settings_at_evaluation_can_change_the_effect_method() -> None:
    """Settings passed to evaluate refit a column whose effect method changed."""
    rng = np.random.default_rng(17)
    fitted = fit_profile(_profile(rng))
    result = evaluate(fitted, _window(rng), DriftSettings(numeric_effect="psi"), evaluated_at=1.0)
    assert result.column("x0").effect_method == "psi"


def test_null_windows_flag_at_most_q_plus_binomial_margin() -> None:
    """Over 200 null windows of 25 columns the share flagging any column stays within q."""
    rng = np.random.default_rng(18)
    n_numeric, q, runs = 20, 0.05, 200
    data: dict[str, np.ndarray] = {f"x{i}": rng.normal(size=2_000) for i in range(n_numeric)}
    for j in range(5):
        data[f"c{j}"] = rng.choice(CATEGORIES, size=2_000, p=SHARES)
    profile = build_profile(data, model="m", version="1")
    floors = {"psi": 0.0, "wasserstein": 0.0, "jensen_shannon": 0.0}
    fitted = fit_profile(profile, DriftSettings(q=q, min_samples=100, effect_floors=floors))
    flagged = 0
    for _ in range(runs):
        window: dict[str, np.ndarray] = {f"x{i}": rng.normal(size=300) for i in range(n_numeric)}
        for j in range(5):
            window[f"c{j}"] = rng.choice(CATEGORIES, size=300, p=SHARES)
        flagged += evaluate(fitted, window, evaluated_at=1.0).drifted_count > 0
    limit = stats.binom.ppf(0.999, runs, q)
    assert flagged <= limit, (flagged, limit)


@pytest.mark.parametrize("shift", [0.3, 0.6])
def test_power_grows_with_the_shift(shift: float) -> None:
    """A mean shift of 0.3 or 0.6 sd in a 2,000-row window is flagged in every one of 20 runs."""
    rng = np.random.default_rng(19)
    fitted = fit_profile(_profile(rng))
    hits = 0
    for _ in range(20):
        window = _window(rng)
        window["x0"] = window["x0"] + shift
        hits += evaluate(fitted, window, evaluated_at=1.0).column("x0").drifted
    assert hits == 20


def test_column_without_reference_values_is_not_tested() -> None:
    """A column that was all missing in the reference has status no_reference."""
    profile = build_profile({"x": np.full(100, np.nan)}, model="m", version="1")
    window = {"x": np.arange(300.0)}
    assert evaluate(fit_profile(profile), window, evaluated_at=1.0).column("x").status == (
        "no_reference"
    )


def test_disabled_column_is_reported_but_not_tested() -> None:
    """A column turned off in the settings has status disabled and no p-value."""
    rng = np.random.default_rng(20)
    settings = DriftSettings(columns={"x0": ColumnSettings(enabled=False)})
    result = evaluate(fit_profile(_profile(rng), settings), _window(rng), evaluated_at=1.0)
    assert (result.column("x0").status, result.column("x0").p_value) == ("disabled", None)


def test_numeric_object_column_with_none_counts_missing() -> None:
    """None in an object-dtype numeric window column counts as missing."""
    profile = build_profile({"x": np.linspace(0.0, 1.0, 500)}, model="m", version="1")
    window = {"x": np.array([0.5, None, 0.25, None], dtype=object)}
    result = evaluate(fit_profile(profile, DriftSettings(min_samples=1)), window, evaluated_at=1.0)
    assert (result.column("x").quality["missing"], result.column("x").n_window) == (0.5, 2)


def test_window_sized_evaluation_matches_scipy_per_column() -> None:
    """At drift-window sizes each column's numbers equal scipy's, window NaNs dropped."""
    rng = np.random.default_rng(12)
    reference = {f"x{i}": rng.normal(size=60_000) for i in range(3)}
    reference["c"] = rng.choice(CATEGORIES, size=60_000, p=SHARES)
    profile = build_profile(reference, model="m", version="1")
    window = {f"x{i}": rng.normal(0.05 * i, size=20_000) for i in range(3)}
    window["x1"][::7] = np.nan  # a different usable size per column
    window["c"] = rng.choice(CATEGORIES, size=20_000, p=[0.35, 0.3, 0.2, 0.15])
    evaluation = evaluate(fit_profile(profile), window, evaluated_at=1.0)
    for result in evaluation.columns:
        if result.kind == "categorical":
            table = [
                list(profile.columns["c"].category_counts),
                [int(np.count_nonzero(window["c"] == c)) for c in profile.columns["c"].categories],
            ]
            expected = stats.chi2_contingency(table, correction=False)
            assert result.statistic == pytest.approx(expected.statistic, rel=1e-12)
            assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
            continue
        sample = profile.columns[result.name].sample
        values = window[result.name][np.isfinite(window[result.name])]
        ks = stats.ks_2samp(sample, values, method="asymp")
        std = profile.columns[result.name].std
        assert result.statistic == ks.statistic
        assert result.p_value is not None
        assert abs(result.p_value - ks.pvalue) <= 1e-6
        assert result.effect_size == pytest.approx(
            stats.wasserstein_distance(sample, values) / std, rel=1e-12
        )
