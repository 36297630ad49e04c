"""Comparing two model versions' predictions: agreement, paired differences, prediction drift.

Pure functions over arrays. Shadow pairs (the champion's and the challenger's prediction
for the same request) give agreement and paired differences; any two samples of
predictions (two versions' recent records, or the two sides of the pairs) give
prediction drift, scored by the same drift engine as features: a profile is built from
the first sample (``profile.build_profile``) and the second is evaluated against it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from driftline_sidecar.drift import ColumnResult, DriftSettings, evaluate, fit_profile
from driftline_sidecar.profile import build_profile, category_label

__all__ = [
    "PairedDifference",
    "agreement",
    "as_labels",
    "paired_difference",
    "prediction_drift",
]

FloatArray = npt.NDArray[np.float64]
_QUANTILES = (("p05", 0.05), ("p50", 0.5), ("p95", 0.95))


@dataclass(frozen=True)
class PairedDifference:
    """Statistics of ``challenger - champion`` over the pairs where both are finite numbers.

    ``wilcoxon_p`` is the two-sided Wilcoxon signed-rank p-value and ``paired_t_p`` the
    paired t-test's; both are 1.0 when every difference is zero and None below 2 pairs
    (or, for the t-test, when all differences are equal but not zero).
    """

    n: int
    mean: float
    sd: float
    p05: float
    p50: float
    p95: float
    mean_abs: float
    wilcoxon_p: float | None
    paired_t_p: float | None

    def statistics(self) -> dict[str, float]:
        """The exported statistics by name: mean, sd, p05, p50, p95, mean_abs."""
        return {
            "mean": self.mean,
            "sd": self.sd,
            "p05": self.p05,
            "p50": self.p50,
            "p95": self.p95,
            "mean_abs": self.mean_abs,
        }


def paired_difference(champion: FloatArray, challenger: FloatArray) -> PairedDifference | None:
    """The paired statistics of two aligned numeric arrays; None without a finite pair."""
    both = np.isfinite(champion) & np.isfinite(challenger)
    d = challenger[both] - champion[both]
    n = int(d.size)
    if n == 0:
        return None
    q = {name: float(np.quantile(d, level)) for name, level in _QUANTILES}
    return PairedDifference(
        n=n,
        mean=float(d.mean()),
        sd=float(d.std(ddof=1)) if n > 1 else 0.0,
        mean_abs=float(np.abs(d).mean()),
        wilcoxon_p=_wilcoxon(d),
        paired_t_p=_paired_t(champion[both], challenger[both], d),
        **q,
    )


def _wilcoxon(d: FloatArray) -> float | None:
    if d.size < 2:
        return None
    if not bool(np.any(d != 0)):
        return 1.0
    with warnings.catch_warnings():
        # scipy warns about ties and small samples; the p-value is still the one it returns.
        warnings.simplefilter("ignore")
        p = float(stats.wilcoxon(d).pvalue)
    return p if math.isfinite(p) else None


def _paired_t(champion: FloatArray, challenger: FloatArray, d: FloatArray) -> float | None:
    if d.size < 2:
        return None
    if bool(np.all(d == d[0])):
        return 1.0 if d[0] == 0 else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = float(stats.ttest_rel(challenger, champion).pvalue)
    return p if math.isfinite(p) else None


def as_labels(values: npt.NDArray[Any], threshold: float | None) -> npt.NDArray[np.object_]:
    """Values as class labels: numbers through ``threshold`` ("1" at or above, "0" below)."""
    labels = np.empty(len(values), dtype=object)
    if values.dtype.kind == "f":
        if threshold is None:
            raise ValueError("numeric predictions need a threshold to become labels")
        present = ~np.isnan(values)
        labels[:] = None
        labels[present] = np.where(values[present] >= threshold, "1", "0")
        return labels
    labels[:] = [category_label(value) for value in values.tolist()]
    return labels


def agreement(champion: npt.NDArray[Any], challenger: npt.NDArray[Any]) -> tuple[float, int] | None:
    """The share of pairs with the same label, over pairs where both have one, and their count."""
    both = np.array(
        [a is not None and b is not None for a, b in zip(champion, challenger, strict=True)]
    )
    n = int(both.sum()) if both.size else 0
    if n == 0:
        return None
    return float(np.mean(champion[both] == challenger[both])), n


def prediction_drift(
    reference: npt.NDArray[Any],
    current: npt.NDArray[Any],
    *,
    name: str,
    settings: DriftSettings,
    evaluated_at: float,
) -> ColumnResult | None:
    """The drift of ``current`` against ``reference`` (same kind), None when ``reference`` is empty.

    Numeric samples are float arrays (NaN missing), categorical ones object arrays of labels.
    """
    if len(reference) == 0:
        return None
    categorical = reference.dtype.kind != "f"
    profile = build_profile(
        {name: reference},
        model="compare",
        version="reference",
        categorical=[name] if categorical else [],
        prediction_columns=[name],
    )
    fitted = fit_profile(profile, settings)
    evaluation = evaluate(fitted, {name: current}, evaluated_at=evaluated_at)
    return evaluation.columns[0]
