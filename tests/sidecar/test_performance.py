"""Performance metrics from joined outcomes match scikit-learn's on the same data."""

from __future__ import annotations

import numpy as np
import pytest
from driftline_sidecar.performance import (
    classification_metrics,
    compute_performance,
    degraded,
    infer_task,
    regression_metrics,
)
from sklearn import metrics


def _binary(seed: int = 0, n: int = 500) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n).astype(np.float64)
    scores = np.clip(labels * 0.3 + rng.uniform(0.0, 0.7, n), 0.0, 1.0)
    return scores, labels


@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("accuracy", lambda s, y: metrics.accuracy_score(y, s >= 0.5)),
        ("precision", lambda s, y: metrics.precision_score(y, s >= 0.5)),
        ("recall", lambda s, y: metrics.recall_score(y, s >= 0.5)),
        ("f1", lambda s, y: metrics.f1_score(y, s >= 0.5)),
        ("roc_auc", lambda s, y: metrics.roc_auc_score(y, s)),
        ("log_loss", lambda s, y: metrics.log_loss(y, s)),
        ("brier", lambda s, y: metrics.brier_score_loss(y, s)),
    ],
)
def test_classification_metric_matches_scikit_learn(name: str, reference: object) -> None:
    """Each binary classification metric equals scikit-learn's on the same scores and labels."""
    scores, labels = _binary()

    assert classification_metrics(scores, labels, 0.5)[name] == pytest.approx(
        reference(scores, labels),  # type: ignore[operator]
        rel=1e-12,
    )


def test_roc_auc_with_tied_scores_matches_scikit_learn() -> None:
    """Tied scores count half in ROC AUC, as scikit-learn's does."""
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 300).astype(np.float64)
    scores = np.round(rng.uniform(0, 1, 300), 1)

    assert classification_metrics(scores, labels)["roc_auc"] == pytest.approx(
        metrics.roc_auc_score(labels, scores), rel=1e-12
    )


def test_threshold_moves_the_labels() -> None:
    """The threshold turns scores into labels: accuracy at 0.7 equals scikit-learn's at 0.7."""
    scores, labels = _binary(seed=1)

    assert classification_metrics(scores, labels, 0.7)["accuracy"] == pytest.approx(
        metrics.accuracy_score(labels, scores >= 0.7)
    )


def test_single_class_leaves_roc_auc_out() -> None:
    """With one class only, ROC AUC is undefined and left out."""
    metrics_found = classification_metrics(np.array([0.2, 0.9]), np.array([1.0, 1.0]))

    assert "roc_auc" not in metrics_found


@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("mae", metrics.mean_absolute_error),
        ("rmse", lambda y, p: np.sqrt(metrics.mean_squared_error(y, p))),
        ("mape", metrics.mean_absolute_percentage_error),
    ],
)
def test_regression_metric_matches_scikit_learn(name: str, reference: object) -> None:
    """MAE, RMSE and MAPE equal scikit-learn's, a zero actual included."""
    rng = np.random.default_rng(2)
    actuals = rng.normal(10.0, 3.0, 400)
    actuals[0] = 0.0
    predictions = actuals + rng.normal(0.0, 1.0, 400)

    assert regression_metrics(predictions, actuals)[name] == pytest.approx(
        reference(actuals, predictions),  # type: ignore[operator]
        rel=1e-12,
    )


def test_booleans_are_binary_outcomes() -> None:
    """Outcomes true/false score like 1/0."""
    found = compute_performance([0.9, 0.2, 0.7], [True, False, False], task="classification")

    assert found.metrics["accuracy"] == pytest.approx(2 / 3)


def test_label_predictions_are_scored_by_accuracy_only() -> None:
    """A prediction that is a label is compared with the outcome's label: accuracy only."""
    found = compute_performance(["a", "b", "a", "c"], ["a", "b", "b", "c"])

    assert (found.task, dict(found.metrics)) == ("classification", {"accuracy": 0.75})


@pytest.mark.parametrize(
    ("predictions", "actuals", "task"),
    [
        ([0.2, 0.8], [0, 1], "classification"),
        ([0.2, 0.8], ["no", "yes"], "classification"),
        ([12.0, 3.0], [11.0, 4.0], "regression"),
        ([0.2, 0.8], [0.5, 1.0], "regression"),
    ],
)
def test_task_is_inferred_from_outcomes(predictions: list, actuals: list, task: str) -> None:
    """0/1 outcomes with scores in [0, 1], or label outcomes, mean classification."""
    assert infer_task(predictions, actuals) == task


@pytest.mark.parametrize(
    ("metric", "live", "expected"),
    [
        ("accuracy", 0.84, True),
        ("accuracy", 0.86, False),
        ("mae", 1.06, True),
        ("mae", 1.04, False),
    ],
)
def test_degradation_is_relative_to_the_reference(metric: str, live: float, expected: bool) -> None:
    """A 5 % margin: accuracy 0.9 degrades below 0.855, MAE 1.0 above 1.05."""
    reference = 0.9 if metric == "accuracy" else 1.0

    assert degraded(metric, live, reference, 0.05) is expected
