"""The examples run as documented: reference_from_training and batch_scoring, as subprocesses."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from driftline_sidecar.profile import ReferenceProfile, load_profile

from tests.support.ports import free_port
from tests.support.procs import running_process

_EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
_REFERENCE = _EXAMPLES / "reference_from_training"
_BATCH = _EXAMPLES / "batch_scoring"
_CLI_BUILD = [
    sys.executable, "-m", "driftline_sidecar", "reference", "build", "training.csv",
    "--model", "credit-default", "--version", "1.0.0", "--categorical", "region",
    "--prediction-column", "default_probability",
]  # fmt: skip


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=120, check=False, env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def cli_profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The profile ``driftline reference build`` writes from the example's training set."""
    output = tmp_path_factory.mktemp("reference") / "cli.npz"
    _run([*_CLI_BUILD, "-o", str(output)], cwd=_REFERENCE)
    return output


def test_the_cli_profiles_every_training_column(cli_profile: Path) -> None:
    """The CLI profile has the four features and the prediction, region as a category."""
    profile: ReferenceProfile = load_profile(cli_profile)
    kinds = {name: (c.kind, c.role) for name, c in profile.columns.items()}
    assert kinds == {
        "income_k": ("numeric", "feature"),
        "age": ("numeric", "feature"),
        "utilisation": ("numeric", "feature"),
        "region": ("categorical", "feature"),
        "default_probability": ("numeric", "prediction"),
    }


def test_the_python_script_builds_the_same_profile_as_the_cli(
    cli_profile: Path, tmp_path: Path
) -> None:
    """build_reference.py and the CLI give profiles with the same content hash."""
    output = tmp_path / "python.npz"
    _run([sys.executable, "build_reference.py", "--output", str(output)], cwd=_REFERENCE)
    assert load_profile(output).profile_id == load_profile(cli_profile).profile_id


def test_the_training_set_is_what_its_generator_writes(tmp_path: Path) -> None:
    """make_training_data.py regenerates training.csv byte for byte (fixed seed)."""
    shutil.copy(_REFERENCE / "make_training_data.py", tmp_path)
    _run([sys.executable, "make_training_data.py"], cwd=tmp_path)
    assert (tmp_path / "training.csv").read_bytes() == (_REFERENCE / "training.csv").read_bytes()


@pytest.fixture
def sidecar_url(cli_profile: Path, tmp_path: Path) -> Iterator[str]:
    """The URL of a real sidecar started from the example's sidecar.yaml, on the CLI profile."""
    text = (_BATCH / "sidecar.yaml").read_text()
    port = free_port()
    text = text.replace("port: 8765", f"port: {port}").replace("interval: 1.0", "interval: 0.2")
    text = text.replace("../reference_from_training/reference.npz", str(cli_profile))
    config = tmp_path / "sidecar.yaml"
    config.write_text(text)
    argv = [sys.executable, "-m", "driftline_sidecar", "sidecar", "--config", str(config)]
    url = f"http://127.0.0.1:{port}"
    with running_process(argv, ready_url=f"{url}/readyz", log_dir=tmp_path, name="sidecar"):
        yield url


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5.0) as response:
        body: bytes = response.read()
        return body


def _score(sidecar_url: str, output: Path) -> list[dict[str, str]]:
    env = {**os.environ, "DRIFTLINE_SIDECAR_URL": sidecar_url}
    _run([sys.executable, "score_batch.py", "--output", str(output)], cwd=_BATCH, env=env)
    with output.open() as file:
        return list(csv.DictReader(file))


def test_batch_scoring_writes_a_score_per_applicant(sidecar_url: str, tmp_path: Path) -> None:
    """The job writes 1,000 rows, each with a probability strictly between 0 and 1."""
    rows = _score(sidecar_url, tmp_path / "scored.csv")
    assert len(rows) == 1000
    assert all(0.0 < float(row["default_probability"]) < 1.0 for row in rows)


def test_batch_scoring_ships_every_record_before_exiting(sidecar_url: str, tmp_path: Path) -> None:
    """Once the job has exited the sidecar has received one record per scored row."""
    _score(sidecar_url, tmp_path / "scored.csv")
    metrics = _get(f"{sidecar_url}/metrics").decode().splitlines()
    received = 'driftline_sidecar_records_received_total{model="credit-default",version="1.0.0"}'
    assert f"{received} 1000.0" in metrics


def test_the_sidecar_sees_the_utilisation_shift_of_the_batch(
    sidecar_url: str, tmp_path: Path
) -> None:
    """Applicants use more credit than in training: utilisation and the score drift, age not."""
    _score(sidecar_url, tmp_path / "scored.csv")
    drift_url = f"{sidecar_url}/v1/drift/credit-default/1.0.0"
    deadline = time.monotonic() + 30.0
    while True:
        try:
            document = json.loads(_get(drift_url))
            break
        except urllib.error.HTTPError:
            assert time.monotonic() < deadline, "no evaluation within 30 s"
            time.sleep(0.1)
    drifted = {c["name"]: c["drifted"] for c in document["columns"]}
    assert drifted["utilisation"] is True
    assert drifted["default_probability"] is True
    assert drifted["age"] is False
