"""VersionMonitor fed directly: pairs aligned by id, and a batch it cannot store changes nothing."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from driftline_sidecar.ingest import Column, DecodedBatch
from driftline_sidecar.versions import VersionMonitor
from driftline_sidecar.versions_settings import VersionsSettings

NOW = 1_800_000_000.0


def decoded(version: str, role: str, ids: list[str], values: np.ndarray) -> DecodedBatch:
    """A decoded batch of model churn with the numeric output ``value``."""
    n = len(values)
    outputs = {"value": Column("numeric", np.asarray(values, dtype=np.float64))}
    return DecodedBatch("churn", version, role, n, np.full(n, NOW), {}, outputs, ids=tuple(ids))


def test_shadow_pairs_are_compared_by_id_whatever_the_order() -> None:
    """Challenger records sent in another order are paired with their own champion record."""
    rng = np.random.default_rng(7)
    n = 400
    champion = rng.uniform(0, 1, n)
    challenger = champion + rng.normal(0.1, 0.05, n)
    ids = [f"p-{i}" for i in range(n)]
    order = rng.permutation(n)
    monitor = VersionMonitor(VersionsSettings(min_pairs=10))
    monitor.add(decoded("1", "champion", ids[:250], champion[:250]), NOW)
    monitor.add(decoded("1", "champion", ids[250:], champion[250:]), NOW)
    shuffled = [ids[i] for i in order]
    monitor.add(decoded("2", "challenger", shuffled, challenger[order]), NOW)
    (comparison,) = monitor.evaluate(NOW, lambda model, version: None)
    (shadow,) = comparison.shadow
    difference = shadow.outputs[0].difference
    assert difference is not None
    assert (shadow.pairs, difference.n) == (n, n)
    assert difference.sd == pytest.approx(float(np.std(challenger - champion, ddof=1)), rel=1e-9)


def test_a_batch_the_store_refuses_changes_nothing_and_raises_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Ids that do not match the records are logged, and the monitor stays as it was."""
    monitor = VersionMonitor(VersionsSettings())
    batch = decoded("1", "champion", ["a", "b", "c"], np.array([0.1, 0.2]))
    with caplog.at_level(logging.ERROR, logger="driftline.sidecar"):
        monitor.add(batch, NOW)
    assert (monitor.known("churn"), monitor.store_size()[0]) == (False, 0)
    assert "version monitoring skipped a batch of 'churn' '1'" in caplog.text
