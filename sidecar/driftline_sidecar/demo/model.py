"""The demo's model: an L2-regularised logistic regression fitted by Newton's method (IRLS).

Numeric features are standardised with the training means and deviations; categorical
features are one-hot encoded over the levels seen in training (an unseen level encodes
as all zeros). Only numpy is used, so the model is small, exact and reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

__all__ = ["Encoder", "LogisticModel", "fit_encoder", "predict_proba", "roc_auc", "train"]

FloatArray = npt.NDArray[np.float64]

_MAX_ITERATIONS = 50
_TOLERANCE = 1e-8


@dataclass(frozen=True)
class Encoder:
    """How to turn a frame's feature columns into the design matrix."""

    numeric: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    categorical: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def width(self) -> int:
        """The number of columns of the design matrix, the intercept included."""
        return 1 + len(self.numeric) + sum(len(levels) for _, levels in self.categorical)

    def encode(self, frame: Any) -> FloatArray:
        """Return the design matrix of ``frame``: intercept, standardised numerics, one-hots."""
        rows = len(frame)
        blocks: list[FloatArray] = [np.ones((rows, 1))]
        if self.numeric:
            values = np.column_stack(
                [np.asarray(frame[name], dtype=float) for name in self.numeric]
            )
            blocks.append((values - np.asarray(self.means)) / np.asarray(self.scales))
        for name, levels in self.categorical:
            column = np.asarray(frame[name], dtype=object)
            blocks.append(np.column_stack([column == level for level in levels]).astype(float))
        return np.hstack(blocks)


@dataclass(frozen=True)
class LogisticModel:
    """A fitted model: the encoder and one coefficient per design-matrix column."""

    encoder: Encoder
    coefficients: tuple[float, ...]
    iterations: int


def fit_encoder(frame: Any, numeric: Sequence[str], categorical: Sequence[str]) -> Encoder:
    """Return the encoder fitted on ``frame``: means, deviations and sorted category levels."""
    means: list[float] = []
    scales: list[float] = []
    for name in numeric:
        values = np.asarray(frame[name], dtype=float)
        means.append(float(values.mean()))
        deviation = float(values.std())
        scales.append(deviation if deviation > 0 else 1.0)
    levels = tuple(
        (name, tuple(sorted({str(value) for value in frame[name]}))) for name in categorical
    )
    return Encoder(tuple(numeric), tuple(means), tuple(scales), levels)


def _sigmoid(z: FloatArray) -> FloatArray:
    result: FloatArray = np.exp(-np.logaddexp(0.0, -z))
    return result


def train(
    frame: Any,
    labels: npt.ArrayLike,
    numeric: Sequence[str],
    categorical: Sequence[str],
    l2: float = 1.0,
) -> LogisticModel:
    """Fit the logistic regression of ``labels`` (0/1) on the features of ``frame``.

    Newton-Raphson on the penalised log-likelihood (the intercept is not penalised),
    until the largest step is below 1e-8 or 50 iterations have run.
    """
    encoder = fit_encoder(frame, numeric, categorical)
    x = encoder.encode(frame)
    y = np.asarray(labels, dtype=float)
    penalty = np.full(encoder.width, l2)
    penalty[0] = 0.0
    beta = np.zeros(encoder.width)
    iterations = 0
    for iterations in range(1, _MAX_ITERATIONS + 1):  # noqa: B007 - the count is reported
        p = _sigmoid(x @ beta)
        gradient = x.T @ (y - p) - penalty * beta
        hessian = (x * (p * (1.0 - p))[:, None]).T @ x + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        beta = beta + step
        if float(np.max(np.abs(step))) < _TOLERANCE:
            break
    return LogisticModel(encoder, tuple(float(b) for b in beta), iterations)


def predict_proba(model: LogisticModel, frame: Any) -> FloatArray:
    """Return the probability that each flight of ``frame`` leaves late."""
    return _sigmoid(model.encoder.encode(frame) @ np.asarray(model.coefficients))


def roc_auc(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """Return the area under the ROC curve: the chance a late flight outscores an on-time one.

    Computed from the rank sum (Mann-Whitney U), ties counted as one half.
    """
    y = np.asarray(labels, dtype=bool)
    ranks = stats.rankdata(np.asarray(scores, dtype=float))
    positives = int(y.sum())
    negatives = y.size - positives
    if positives == 0 or negatives == 0:
        raise ValueError("the AUC needs at least one positive and one negative label")
    u = float(ranks[y].sum()) - positives * (positives + 1) / 2.0
    return u / (positives * negatives)
