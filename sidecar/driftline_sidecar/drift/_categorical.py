"""The reference side of the categorical methods, and the window tally they share."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from driftline_sidecar.profile import OTHER_CATEGORY, ColumnProfile

from ._types import FloatArray, Histogram, IntArray

UNSEEN_CATEGORY = "__unseen__"
"""The histogram entry that groups window categories absent from the reference."""


@dataclass(frozen=True)
class Tally:
    """The non-missing labels of one window, counted once and shared by every method."""

    counts: Mapping[str, int]
    missing: int

    @property
    def n(self) -> int:
        """The number of non-missing labels."""
        return sum(self.counts.values())


def tally(labels: npt.NDArray[np.object_]) -> Tally:
    """Return the counts of the labels; None marks a missing value."""
    counts = Counter(labels.tolist())
    missing = counts.pop(None, 0)
    return Tally(counts=MappingProxyType(dict(counts)), missing=missing)


@dataclass(frozen=True)
class CategoryCodes:
    """A categorical column as integer codes: ``labels[code]`` is each value, None where missing.

    The sidecar's windows keep categorical columns this way (`Window.columns`), so an evaluation
    counts a column with one `numpy.bincount` instead of hashing every label.
    """

    codes: npt.NDArray[np.integer[Any]]
    """Non-negative indices into ``labels``, one per value."""
    labels: Sequence[str | None]

    def __len__(self) -> int:
        """The number of values, missing ones included."""
        return int(self.codes.size)

    def decoded(self) -> npt.NDArray[np.object_]:
        """Return the values as an object array of labels (None where missing)."""
        table = np.empty(len(self.labels), dtype=object)
        table[:] = list(self.labels)
        decoded: npt.NDArray[np.object_] = table[self.codes]
        return decoded


def tally_codes(column: CategoryCodes) -> Tally:
    """Return the counts of a coded column's labels, as `tally` counts the decoded labels."""
    counts = np.bincount(column.codes, minlength=len(column.labels))
    present = np.flatnonzero(counts)
    tallied: dict[str, int] = {}
    missing = 0
    for code, count in zip(present.tolist(), counts[present].tolist(), strict=True):
        label = column.labels[code]
        if label is None:
            missing += count
        else:
            tallied[label] = tallied.get(label, 0) + count
    return Tally(counts=MappingProxyType(tallied), missing=missing)


def as_tally(window: npt.NDArray[np.object_] | CategoryCodes | Tally) -> Tally:
    """Return ``window`` counted, or as is when it is already a `Tally`."""
    if isinstance(window, Tally):
        return window
    return tally_codes(window) if isinstance(window, CategoryCodes) else tally(window)


@dataclass(frozen=True)
class CategoricalReference:
    """A categorical column's reference categories and counts."""

    categories: tuple[str, ...]
    index: Mapping[str, int]
    counts: IntArray
    folded: bool


def fit_categorical(column: ColumnProfile) -> CategoricalReference:
    """Return the state every categorical method starts from."""
    if column.kind != "categorical":
        raise ValueError(f"column {column.name!r} is {column.kind}, not categorical")
    return CategoricalReference(
        categories=column.categories,
        index=MappingProxyType({c: i for i, c in enumerate(column.categories)}),
        counts=column.category_counts.astype(np.int64),
        folded=OTHER_CATEGORY in column.categories,
    )


@dataclass(frozen=True)
class Aligned:
    """Reference and window counts over the same categories (reference first, then unseen)."""

    categories: tuple[str, ...]
    reference: IntArray
    window: IntArray
    unseen: tuple[str, ...]


def align(reference: CategoricalReference, window: Tally) -> Aligned:
    """Return both sides' counts over shared columns, dropping categories absent from both.

    A window label the reference never saw gets its own column with reference count 0; when
    the reference folded its rare categories into ``__other__``, such labels count there.
    """
    counts = np.zeros(len(reference.categories), dtype=np.int64)
    unseen: dict[str, int] = {}
    other = reference.index.get(OTHER_CATEGORY)
    for label, count in window.counts.items():
        slot = reference.index.get(label)
        if slot is not None:
            counts[slot] += count
        elif other is not None:
            counts[other] += count
        else:
            unseen[label] = count
    ranked = sorted(unseen.items(), key=lambda kv: (-kv[1], kv[0]))
    categories = (*reference.categories, *(label for label, _ in ranked))
    ref_counts = np.concatenate((reference.counts, np.zeros(len(ranked), dtype=np.int64)))
    win_counts = np.concatenate((counts, np.array([c for _, c in ranked], dtype=np.int64)))
    keep = (ref_counts + win_counts) > 0
    kept = tuple(c for c, k in zip(categories, keep.tolist(), strict=True) if k)
    return Aligned(
        categories=kept,
        reference=ref_counts[keep],
        window=win_counts[keep],
        unseen=tuple(label for label, _ in ranked),
    )


def proportions(counts: IntArray) -> FloatArray:
    """Return counts as proportions (zeros for an empty table)."""
    total = counts.sum()
    return counts / total if total else np.zeros(counts.size)


def histograms(reference: CategoricalReference, window: Tally) -> tuple[Histogram, Histogram]:
    """Return both sides over the reference categories (plus ``__unseen__`` when needed)."""
    n_ref = len(reference.categories)
    other = reference.index.get(OTHER_CATEGORY, n_ref)
    win = np.zeros(n_ref + 1, dtype=np.int64)
    for label, count in window.counts.items():
        win[reference.index.get(label, other)] += count
    ref = np.append(reference.counts, 0)
    categories = (*reference.categories, UNSEEN_CATEGORY)
    if win[-1] == 0:
        ref, win, categories = ref[:-1], win[:-1], categories[:-1]
    return (
        Histogram(proportions=tuple(proportions(ref).tolist()), categories=categories),
        Histogram(proportions=tuple(proportions(win).tolist()), categories=categories),
    )
