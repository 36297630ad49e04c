"""Snapshots: windows and evaluations written atomically, restored, and moved aside when bad."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from driftline_sidecar.config import SidecarConfig
from driftline_sidecar.ingest import Column, decode
from driftline_sidecar.metrics import SidecarMetrics
from driftline_sidecar.service import SidecarService
from driftline_sidecar.snapshot import Snapshot, load_snapshot, save_snapshot
from driftline_sidecar.window import Window
from prometheus_client import CollectorRegistry

from .conftest import MODEL, VERSION, records_body


def _window() -> Window:
    window = Window(5)
    labels = np.empty(3, dtype=object)
    labels[:] = ["a", None, "b"]
    numbers = Column("numeric", np.array([1.0, np.nan, 3.0]), np.array([False, True, False]))
    window.append(np.array([1.0, 2.0, 3.0]), {"x": numbers, "p": Column("categorical", labels)})
    return window


def test_snapshot_round_trip(tmp_path: Path) -> None:
    """A saved snapshot loads back with the same window columns and evaluation summaries."""
    state = Snapshot(10.0, {("m", "v"): _window().state()}, {("m", "v"): {"any": [1, 2]}})
    save_snapshot(tmp_path, state)
    loaded = load_snapshot(tmp_path)
    assert loaded is not None
    window = loaded.windows[("m", "v")]
    assert (
        window.columns["p"].values.tolist(),
        np.isnan(window.columns["x"].values).tolist(),
        window.columns["x"].type_mismatch.tolist(),  # type: ignore[union-attr]
        loaded.evaluations[("m", "v")],
    ) == (["a", None, "b"], [False, True, False], [False, True, False], {"any": [1, 2]})
    assert window.timestamps.tolist() == [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(window.columns["x"].values, [1.0, np.nan, 3.0])


def test_no_snapshot_loads_as_none(tmp_path: Path) -> None:
    """An empty state directory has no snapshot."""
    assert load_snapshot(tmp_path) is None


def test_saving_again_leaves_one_arrays_file(tmp_path: Path) -> None:
    """Each save replaces the previous arrays file instead of accumulating them."""
    state = Snapshot(1.0, {("m", "v"): _window().state()}, {})
    save_snapshot(tmp_path, state)
    save_snapshot(tmp_path, state)
    assert len(list(tmp_path.glob("snapshot-*.npz"))) == 1


def test_snapshot_files_hold_no_pickles(tmp_path: Path) -> None:
    """The arrays file loads with allow_pickle=False (no object arrays)."""
    save_snapshot(tmp_path, Snapshot(1.0, {("m", "v"): _window().state()}, {}))
    (arrays,) = tmp_path.glob("snapshot-*.npz")
    with np.load(arrays, allow_pickle=False) as archive:
        kinds = {archive[name].dtype.kind for name in archive.files}
    assert "O" not in kinds


def _service(config: SidecarConfig) -> tuple[SidecarService, CollectorRegistry]:
    registry = CollectorRegistry()
    return SidecarService(config, SidecarMetrics(registry)), registry


def _fill(service: SidecarService, n: int) -> None:
    payload = json.dumps(records_body(n, shift=10.0)).encode()
    for batch in decode(payload, service.config.limits, service.kind).batches:
        service.accept(batch, "batches[0].version")


def test_service_restores_window_and_evaluation(config: SidecarConfig) -> None:
    """A new service on the same state_dir restores the window and the latest evaluation."""
    first, _ = _service(config)
    _fill(first, 300)
    (summary,) = first.evaluate_due()
    first.save_snapshot()
    second, _ = _service(config)
    second.restore_snapshot()
    restored = second.latest(MODEL, VERSION)
    assert (second.metric_state()[0].window_records, restored) == (300, summary)


def test_corrupt_snapshot_is_moved_aside_and_counted(config: SidecarConfig) -> None:
    """A corrupt snapshot is renamed *.corrupt-<ts>, counted, and the service starts empty."""
    assert config.state_dir is not None
    config.state_dir.mkdir(parents=True)
    (config.state_dir / "snapshot.json").write_text("{not json", encoding="utf-8")
    service, registry = _service(config)
    restored = service.restore_snapshot()
    moved = [p.name.split(".corrupt-")[0] for p in config.state_dir.glob("*.corrupt-*")]
    failures = registry.get_sample_value(
        "driftline_sidecar_snapshot_failures_total", {"operation": "restore"}
    )
    assert (restored, moved, failures) == (False, ["snapshot.json"], 1.0)


def test_snapshot_with_missing_arrays_is_moved_aside(config: SidecarConfig) -> None:
    """A snapshot whose arrays file is gone is treated as corrupt, not as a crash."""
    first, _ = _service(config)
    _fill(first, 10)
    first.save_snapshot()
    assert config.state_dir is not None
    for arrays in config.state_dir.glob("snapshot-*.npz"):
        arrays.unlink()
    second, _ = _service(config)
    assert (second.restore_snapshot(), second.metric_state()[0].window_records) == (False, 0)
    moved = [p.name.split(".corrupt-")[0] for p in config.state_dir.glob("*.corrupt-*")]
    assert moved == ["snapshot.json"]
