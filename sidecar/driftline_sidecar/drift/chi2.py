"""Chi-square test of homogeneity: do the reference and the window share one category distribution?

The 2 x k table has the reference counts in one row and the window counts in the other, over
the reference categories plus every category only the window has (reference count 0, reported
in ``unseen``); categories absent from both are dropped. Statistic and p-value equal
``scipy.stats.chi2_contingency(table, correction=False)``: with the large counts of a drift
window, Yates' continuity correction (which scipy applies only at one degree of freedom) would
only make the single-degree case more conservative than every other.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import special

from ._categorical import CategoricalReference, Tally, align, as_tally, fit_categorical
from ._types import Method, MethodResult

__all__ = ["METHOD", "score"]


def score(reference: CategoricalReference, window: npt.NDArray[np.object_] | Tally) -> MethodResult:
    """Return the chi-square statistic and p-value of the window's labels against the reference."""
    counts = as_tally(window)
    table = align(reference, counts)
    if table.window.sum() == 0 or table.reference.sum() == 0:
        raise ValueError("chi2 needs labels on both sides")
    observed = np.vstack((table.reference, table.window)).astype(np.float64)
    dof = observed.shape[1] - 1
    if dof == 0:
        return MethodResult(statistic=0.0, p_value=1.0, unseen=table.unseen)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
    statistic = float(((observed - expected) ** 2 / expected).sum())
    # chi2_contingency's own p-value call, without the distribution object's argument checks.
    p_value = float(special.chdtrc(dof, statistic))
    return MethodResult(statistic=statistic, p_value=p_value, unseen=table.unseen)


METHOD: Method[CategoricalReference] = Method(
    name="chi2", kinds=frozenset({"categorical"}), purpose="test", fit=fit_categorical, score=score
)
