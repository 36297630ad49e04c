"""Population stability index, on the reference's quantile bins or over categories.

``PSI = Σ (w_i - r_i) · ln(w_i / r_i)`` over reference shares ``r`` and window shares ``w``.
Numeric columns use the reference's quantile bins (closed on the right, open outer edges);
categorical columns use the reference categories plus the window's unseen ones. A share below
``EPSILON`` (1e-4) is raised to it on both sides, without renormalising, so an empty bin gives
a large but finite term: a category new in 1 % of the window adds ``0.01 · ln(100) ≈ 0.046``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from driftline_sidecar.profile import ColumnProfile

from ._categorical import CategoricalReference, align, as_tally, fit_categorical, proportions
from ._numeric import (
    EPSILON,
    NumericReference,
    fit_numeric,
    histogram,
    prepare,
    require_values,
    window_bins,
)
from ._types import FloatArray, Histogram, Method, MethodResult

__all__ = ["EPSILON", "METHOD", "fit", "psi", "score"]

PsiState = NumericReference | CategoricalReference


def psi(reference: FloatArray, window: FloatArray) -> float:
    """Return the PSI of two vectors of shares, each share floored at ``EPSILON``."""
    r = np.maximum(reference, EPSILON)
    w = np.maximum(window, EPSILON)
    return float(((w - r) * np.log(w / r)).sum())


def fit(column: ColumnProfile) -> PsiState:
    """Return the reference bins (numeric) or categories (categorical) of ``column``."""
    return fit_numeric(column) if column.kind == "numeric" else fit_categorical(column)


def score(reference: PsiState, window: Any) -> MethodResult:
    """Return the PSI of the window against the reference, with both histograms."""
    if isinstance(reference, NumericReference):
        prepared = prepare(window)
        require_values(reference, prepared, "psi")
        shares = window_bins(reference, prepared.values)
        return MethodResult(
            statistic=psi(reference.proportions, shares),
            reference_hist=histogram(reference, reference.proportions),
            window_hist=histogram(reference, shares),
        )
    return _categorical(reference, window)


def _categorical(
    reference: CategoricalReference, window: npt.NDArray[np.object_] | Any
) -> MethodResult:
    table = align(reference, as_tally(window))
    if table.window.sum() == 0 or table.reference.sum() == 0:
        raise ValueError("psi needs labels on both sides")
    r, w = proportions(table.reference), proportions(table.window)
    return MethodResult(
        statistic=psi(r, w),
        reference_hist=Histogram(proportions=tuple(r.tolist()), categories=table.categories),
        window_hist=Histogram(proportions=tuple(w.tolist()), categories=table.categories),
        unseen=table.unseen,
    )


METHOD: Method[PsiState] = Method(
    name="psi",
    kinds=frozenset({"numeric", "categorical"}),
    purpose="effect",
    fit=fit,
    score=score,
)
