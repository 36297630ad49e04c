"""Reference profiles: building, the .npz format, and reading tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from driftline_sidecar.profile import (
    OTHER_CATEGORY,
    ProfileError,
    build_profile,
    load_profile,
    read_table,
    save_profile,
)


def _data(seed: int = 0, n: int = 1_000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 10, size=n)
    age[:10] = np.nan
    return {
        "age": age,
        "plan": rng.choice(np.array(["free", "pro", None], dtype=object), size=n),
        "active": rng.integers(0, 2, size=n).astype(bool),
        "zip": rng.integers(0, 5, size=n),
        "score": rng.uniform(size=n),
    }


def test_kinds_are_inferred_and_overridable() -> None:
    """Numbers are numeric, strings and booleans categorical, and `categorical` overrides."""
    profile = build_profile(
        _data(), model="m", version="1", categorical=["zip"], prediction_columns=["score"]
    )
    kinds = {name: (c.kind, c.role) for name, c in profile.columns.items()}
    assert kinds == {
        "age": ("numeric", "feature"),
        "plan": ("categorical", "feature"),
        "active": ("categorical", "feature"),
        "zip": ("categorical", "feature"),
        "score": ("numeric", "prediction"),
    }


def test_numeric_summary_uses_the_full_column() -> None:
    """Counts, missing rate and bin counts cover every row, not the sample."""
    data = _data(n=5_000)
    column = build_profile(data, model="m", version="1", sample_size=500).columns["age"]
    assert (
        column.count,
        column.missing_rate,
        column.sample.size,
        int(column.bin_counts.sum()),
    ) == (
        5_000,
        0.002,
        500,
        4_990,
    )


def test_sample_is_sorted_and_deterministic() -> None:
    """The bounded sample is sorted and the same for the same seed."""
    first = build_profile(_data(n=3_000), model="m", version="1", sample_size=100)
    second = build_profile(_data(n=3_000), model="m", version="1", sample_size=100)
    sample = first.columns["age"].sample
    assert bool(np.all(np.diff(sample) >= 0))
    assert np.array_equal(sample, second.columns["age"].sample)


def test_bin_edges_are_open_and_deduplicated() -> None:
    """Quantile edges start at -inf, end at +inf and never repeat (few distinct values)."""
    column = build_profile(
        {"x": np.array([1.0] * 90 + [2.0] * 10)}, model="m", version="1"
    ).columns["x"]
    assert column.bin_edges.tolist() == [-np.inf, 1.0, np.inf]
    assert column.bin_counts.tolist() == [
        90,
        10,
    ]


def test_categories_are_capped_with_other() -> None:
    """Beyond 1,000 categories the rarest fold into __other__."""
    labels = np.array([f"id{i}" for i in range(1_200)] + ["id0"] * 5, dtype=object)
    column = build_profile({"c": labels}, model="m", version="1").columns["c"]
    assert (len(column.categories), column.categories[-1], int(column.category_counts[-1])) == (
        1_001,
        OTHER_CATEGORY,
        200,
    )


def test_profile_id_is_a_content_hash() -> None:
    """Identical inputs give identical profile ids; different data gives another."""
    ids = [build_profile(_data(seed), model="m", version="1").profile_id for seed in (0, 0, 1)]
    assert (ids[0] == ids[1], ids[0] == ids[2]) == (True, False)


def test_dataframe_and_mapping_give_the_same_profile() -> None:
    """A pandas DataFrame profiles exactly like the mapping of its columns."""
    pandas = pytest.importorskip("pandas")
    data = _data()
    frame = pandas.DataFrame(data)
    assert (
        build_profile(frame, model="m", version="1").profile_id
        == build_profile(data, model="m", version="1").profile_id
    )


def test_save_load_round_trip(tmp_path: Path) -> None:
    """A saved profile loads back equal, arrays and metadata alike."""
    profile = build_profile(_data(), model="m", version="1", prediction_columns=["score"])
    save_profile(profile, tmp_path / "p.npz")
    loaded = load_profile(tmp_path / "p.npz")
    same_arrays = all(
        np.array_equal(getattr(a, f), getattr(loaded.columns[n], f))
        for n, a in profile.columns.items()
        for f in ("sample", "bin_edges", "bin_counts", "category_counts")
    )
    assert (
        loaded.profile_id,
        loaded.created_at,
        loaded.columns["plan"].categories,
        same_arrays,
    ) == (
        profile.profile_id,
        profile.created_at,
        profile.columns["plan"].categories,
        True,
    )


def _write_npz(path: Path, meta: dict[str, object]) -> None:
    np.savez(path, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))


def test_unknown_format_version_is_refused(tmp_path: Path) -> None:
    """A file of another format version raises ProfileError naming the path and the version."""
    path = tmp_path / "future.npz"
    _write_npz(path, {"format_version": 99})
    with pytest.raises(ProfileError, match=r"future\.npz.*format_version 99"):
        load_profile(path)


def test_corrupt_file_is_refused(tmp_path: Path) -> None:
    """A file that is not an .npz raises ProfileError naming the path."""
    path = tmp_path / "junk.npz"
    path.write_bytes(b"not a zip file at all")
    with pytest.raises(ProfileError, match=r"junk\.npz"):
        load_profile(path)


def test_single_npy_array_is_refused(tmp_path: Path) -> None:
    """A plain .npy file is not a profile."""
    path = tmp_path / "array.npy"
    np.save(path, np.arange(3.0))
    with pytest.raises(ProfileError, match=r"array\.npy.*not an \.npz"):
        load_profile(path)


def test_tampered_content_is_refused(tmp_path: Path) -> None:
    """Metadata edited after saving no longer matches the profile id."""
    profile = build_profile({"x": np.arange(10.0)}, model="m", version="1")
    save_profile(profile, tmp_path / "p.npz")
    with np.load(tmp_path / "p.npz") as archive:
        contents = dict(archive)
    meta = json.loads(contents["meta"].tobytes())
    meta["model"] = "other"
    contents["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(tmp_path / "p.npz", **contents)
    with pytest.raises(ProfileError, match="profile_id"):
        load_profile(tmp_path / "p.npz")


def test_object_arrays_are_refused(tmp_path: Path) -> None:
    """A file holding a pickled object array is refused, never unpickled."""
    path = tmp_path / "pickle.npz"
    np.savez(path, meta=np.array([{"format_version": 1}], dtype=object))
    with pytest.raises(ProfileError, match="pickle"):
        load_profile(path)


def test_read_csv_without_pandas(tmp_path: Path) -> None:
    """CSV columns of numbers become float64 with NaN; other columns strings with None."""
    path = tmp_path / "t.csv"
    path.write_text("age,plan\n31,pro\n,free\n40.5,\n", encoding="utf-8")
    table = read_table(path)
    assert (np.isnan(table["age"][1]), table["age"].dtype, table["plan"].tolist()) == (
        True,
        np.float64,
        ["pro", "free", None],
    )


def test_read_parquet(tmp_path: Path) -> None:
    """Parquet numeric columns become float64 and string columns object arrays."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"n": [1, 2, None], "s": ["a", None, "b"]}), path)
    table = read_table(path)
    assert (table["n"].dtype, table["s"].tolist()) == (np.float64, ["a", None, "b"])


def test_unsupported_table_type_is_refused(tmp_path: Path) -> None:
    """Only .csv and .parquet are read."""
    path = tmp_path / "t.xlsx"
    path.write_bytes(b"")
    with pytest.raises(ProfileError, match="unsupported file type"):
        read_table(path)
