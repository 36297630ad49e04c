"""The demo's logistic regression: fitting, encoding, and how well it predicts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from driftline_sidecar.demo.data import CATEGORICAL_FEATURES, LABEL, NUMERIC_FEATURES
from driftline_sidecar.demo.model import (
    LogisticModel,
    fit_encoder,
    predict_proba,
    roc_auc,
    train,
)
from scipy import optimize, stats


@pytest.fixture(scope="module")
def model(january: Any) -> LogisticModel:
    """The demo model trained on January."""
    return train(january, january[LABEL], NUMERIC_FEATURES, CATEGORICAL_FEATURES)


def _log_loss(labels: Any, probabilities: Any) -> float:
    y = np.asarray(labels, dtype=float)
    p = np.asarray(probabilities, dtype=float)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)))


def test_the_model_ranks_february_flights_better_than_chance(
    model: LogisticModel, february: Any
) -> None:
    """On unseen February flights the AUC is well above the 0.5 of a constant predictor."""
    auc = roc_auc(february[LABEL], predict_proba(model, february))
    assert auc > 0.6


def test_the_model_beats_the_february_base_rate(model: LogisticModel, february: Any) -> None:
    """Its February log loss is below that of always predicting February's own late rate."""
    labels = february[LABEL].to_numpy()
    base_rate = float(labels.mean())
    constant = np.full(labels.size, base_rate)
    assert _log_loss(labels, predict_proba(model, february)) < _log_loss(labels, constant)


def test_the_model_is_calibrated_on_its_training_month(model: LogisticModel, january: Any) -> None:
    """The mean January prediction equals January's late rate (the logistic score equation)."""
    mean_prediction = float(predict_proba(model, january).mean())
    assert mean_prediction == pytest.approx(float(january[LABEL].mean()), abs=1e-6)


def test_newton_finds_the_same_optimum_as_scipy() -> None:
    """The coefficients match scipy.optimize.minimize on the same penalised log-likelihood."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {"x": rng.normal(size=500), "z": rng.normal(size=500), "c": rng.choice(["a", "b"], 500)}
    )
    logits = 0.5 + 1.5 * frame["x"] - frame["z"] + (frame["c"] == "b")
    labels = rng.random(500) < 1.0 / (1.0 + np.exp(-logits))
    fitted = train(frame, labels, ["x", "z"], ["c"], l2=2.0)
    design = fitted.encoder.encode(frame)
    y = labels.astype(float)

    def objective(beta: Any) -> float:
        z = design @ beta
        return float(np.sum(np.logaddexp(0.0, z) - y * z) + 1.0 * np.sum(beta[1:] ** 2))

    reference = optimize.minimize(objective, np.zeros(design.shape[1]), method="BFGS", tol=1e-10)
    assert np.allclose(fitted.coefficients, reference.x, atol=1e-4)


def test_numeric_features_are_standardised_with_training_statistics(january: Any) -> None:
    """Encoded numeric columns of the training data have mean 0 and deviation 1."""
    encoder = fit_encoder(january, NUMERIC_FEATURES, ())
    numeric = encoder.encode(january)[:, 1:]
    assert np.allclose(numeric.mean(axis=0), 0.0, atol=1e-9)
    assert np.allclose(numeric.std(axis=0), 1.0)


def test_an_unseen_category_encodes_as_all_zeros() -> None:
    """A level absent from training sets none of its feature's one-hot columns."""
    encoder = fit_encoder(pd.DataFrame({"c": ["a", "b", "a"]}), (), ("c",))
    encoded = encoder.encode(pd.DataFrame({"c": ["b", "zz"]}))
    assert encoded.tolist() == [[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]]


def test_roc_auc_agrees_with_the_mann_whitney_statistic() -> None:
    """The AUC equals scipy's Mann-Whitney U divided by the number of pairs, ties included."""
    rng = np.random.default_rng(11)
    labels = rng.random(300) < 0.3
    scores = np.round(rng.normal(size=300) + labels, 1)
    u = stats.mannwhitneyu(scores[labels], scores[~labels]).statistic
    assert roc_auc(labels, scores) == pytest.approx(u / (labels.sum() * (~labels).sum()))


def test_roc_auc_refuses_a_single_class() -> None:
    """With only one label present the AUC is undefined and a ValueError says so."""
    with pytest.raises(ValueError, match="at least one positive and one negative"):
        roc_auc([True, True], [0.2, 0.4])
