"""Jensen-Shannon distance (base 2, in [0, 1]) between reference and window category shares.

Equals ``scipy.spatial.distance.jensenshannon(reference_counts, window_counts, base=2)`` over
the aligned categories (reference categories plus the window's unseen ones).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import special

from ._categorical import (
    CategoricalReference,
    Tally,
    align,
    as_tally,
    fit_categorical,
    proportions,
)
from ._types import Method, MethodResult

__all__ = ["METHOD", "score"]


def score(reference: CategoricalReference, window: npt.NDArray[np.object_] | Tally) -> MethodResult:
    """Return the Jensen-Shannon distance of the window's label shares from the reference's."""
    table = align(reference, as_tally(window))
    if table.window.sum() == 0 or table.reference.sum() == 0:
        raise ValueError("jensen_shannon needs labels on both sides")
    p, q = proportions(table.reference), proportions(table.window)
    m = (p + q) / 2.0
    # The order of operations of scipy's jensenshannon, so the floats agree.
    divergence = float(special.rel_entr(p, m).sum() + special.rel_entr(q, m).sum())
    distance = math.sqrt(max(divergence / math.log(2.0) / 2.0, 0.0))
    return MethodResult(statistic=distance, unseen=table.unseen)


METHOD: Method[CategoricalReference] = Method(
    name="jensen_shannon",
    kinds=frozenset({"categorical"}),
    purpose="effect",
    fit=fit_categorical,
    score=score,
)
