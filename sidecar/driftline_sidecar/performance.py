"""Model performance from joined outcomes: binary classification and regression metrics.

Pure numpy/scipy, no state. Classification is binary: the prediction is the positive
class's probability (a number), the outcome 0/1 (or true/false), and ``threshold``
turns scores into labels. A prediction that is itself a label (a string or boolean) is
scored by accuracy only. See docs/sidecar.md, "Ground truth and performance".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = [
    "CLASSIFICATION_METRICS",
    "HIGHER_IS_BETTER",
    "REGRESSION_METRICS",
    "TASKS",
    "Performance",
    "Task",
    "classification_metrics",
    "compute_performance",
    "degraded",
    "infer_task",
    "regression_metrics",
]

Task = Literal["classification", "regression"]
TASKS: Final = ("classification", "regression")
CLASSIFICATION_METRICS: Final = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "log_loss",
    "brier",
)
REGRESSION_METRICS: Final = ("mae", "rmse", "mape")
HIGHER_IS_BETTER: Final = frozenset({"accuracy", "precision", "recall", "f1", "roc_auc"})
_EPS: Final = float(np.finfo(np.float64).eps)
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Performance:
    """The metrics of one model version over ``n`` usable (prediction, outcome) pairs."""

    task: Task
    n: int
    metrics: Mapping[str, float]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _finite(value: Any) -> bool:
    return _is_number(value) and math.isfinite(float(value))


def _binary(value: Any) -> float | None:
    """An outcome as 0.0 or 1.0 (numbers 0/1 and booleans), None otherwise."""
    if isinstance(value, bool | np.bool_):
        return 1.0 if value else 0.0
    if _is_number(value) and float(value) in (0.0, 1.0):
        return float(value)
    return None


def infer_task(predictions: Sequence[Any], actuals: Sequence[Any]) -> Task:
    """``classification`` for label outcomes, or 0/1 ones with scores in [0, 1]; else regression."""
    if any(not _is_number(a) for a in actuals if a is not None):
        return "classification"
    binary = all(_binary(a) is not None for a in actuals if a is not None)
    scores = all(
        (not _is_number(p)) or (math.isfinite(float(p)) and 0.0 <= float(p) <= 1.0)
        for p in predictions
        if p is not None
    )
    return "classification" if binary and scores else "regression"


def classification_metrics(
    scores: FloatArray, labels: FloatArray, threshold: float = 0.5
) -> dict[str, float]:
    """Binary metrics of probability ``scores`` against 0/1 ``labels``; undefined ones left out.

    precision is left out when nothing is predicted positive, recall and F1 when no label is
    positive, ROC AUC when only one class occurs.
    """
    if scores.size == 0:
        return {}
    predicted = scores >= threshold
    actual = labels == 1.0
    tp = float(np.count_nonzero(predicted & actual))
    fp = float(np.count_nonzero(predicted & ~actual))
    fn = float(np.count_nonzero(~predicted & actual))
    metrics = {"accuracy": float(np.mean(predicted == actual))}
    if tp + fp > 0:
        metrics["precision"] = tp / (tp + fp)
    if tp + fn > 0:
        metrics["recall"] = tp / (tp + fn)
        metrics["f1"] = 2 * tp / (2 * tp + fp + fn)
    positives = int(np.count_nonzero(actual))
    negatives = int(actual.size) - positives
    if positives and negatives:
        # Mann-Whitney U over average ranks: the area under the ROC curve, ties counted half.
        ranks = stats.rankdata(scores)
        u = float(ranks[actual].sum()) - positives * (positives + 1) / 2
        metrics["roc_auc"] = u / (positives * negatives)
    clipped = np.clip(scores, _EPS, 1 - _EPS)
    metrics["log_loss"] = float(
        -np.mean(labels * np.log(clipped) + (1 - labels) * np.log(1 - clipped))
    )
    metrics["brier"] = float(np.mean((scores - labels) ** 2))
    return metrics


def regression_metrics(predictions: FloatArray, actuals: FloatArray) -> dict[str, float]:
    """MAE, RMSE and MAPE (a ratio; |actual| floored at machine epsilon, as scikit-learn does)."""
    if predictions.size == 0:
        return {}
    error = predictions - actuals
    return {
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mape": float(np.mean(np.abs(error) / np.maximum(np.abs(actuals), _EPS))),
    }


def compute_performance(
    predictions: Sequence[Any],
    actuals: Sequence[Any],
    *,
    task: Task | None = None,
    threshold: float = 0.5,
) -> Performance:
    """The performance of ``predictions`` against ``actuals``; pairs that do not fit are skipped."""
    chosen: Task = task if task is not None else infer_task(predictions, actuals)
    pairs = list(zip(predictions, actuals, strict=True))
    if chosen == "regression":
        kept = [(float(p), float(a)) for p, a in pairs if _finite(p) and _finite(a)]
        array = np.array(kept, dtype=np.float64).reshape(-1, 2)
        return Performance(chosen, len(kept), regression_metrics(array[:, 0], array[:, 1]))
    numeric = [(float(p), b) for p, a in pairs if _finite(p) and (b := _binary(a)) is not None]
    labelled = [(p, a) for p, a in pairs if p is not None and not _is_number(p) and a is not None]
    if len(labelled) > len(numeric):
        hits = sum(_label(p) == _label(a) for p, a in labelled)
        return Performance(chosen, len(labelled), {"accuracy": hits / len(labelled)})
    array = np.array(numeric, dtype=np.float64).reshape(-1, 2)
    return Performance(
        chosen, len(numeric), classification_metrics(array[:, 0], array[:, 1], threshold)
    )


def _label(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if _is_number(value) and float(value).is_integer():
        return str(int(value))
    return str(value)


def degraded(metric: str, live: float, reference: float, margin: float) -> bool:
    """Whether ``live`` is worse than ``reference`` by more than the relative ``margin``.

    Higher-is-better metrics (accuracy, precision, recall, F1, ROC AUC) degrade below
    ``reference * (1 - margin)``; error metrics (log loss, Brier, MAE, RMSE, MAPE) above
    ``reference * (1 + margin)``.
    """
    if metric in HIGHER_IS_BETTER:
        return live < reference * (1 - margin)
    return live > reference * (1 + margin)
