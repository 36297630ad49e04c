"""Parts of the full-stack test: data, the model service process, traffic, Prometheus jobs.

``test_stack.py`` wires them: Alertmanager with a webhook recorder, a ``driftline
sidecar`` process, two model service processes (``_model_service``), and a
Prometheus scraping them under the job names of ``deploy/prometheus/prometheus.yml``.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from driftline_sidecar import ingest
from driftline_sidecar.config import load_config
from driftline_sidecar.metrics import SidecarMetrics
from driftline_sidecar.profile import build_profile, save_profile
from driftline_sidecar.service import SidecarService
from prometheus_client import CollectorRegistry

from tests.alerts.catalog import REPO_ROOT
from tests.integration._grafana import substitute
from tests.integration._model_service import score
from tests.support.ports import LOOPBACK
from tests.support.procs import start_on_free_port
from tests.support.prometheus import Prometheus, fetch_json
from tests.support.sidecar import DRIFTLINE, start_sidecar

__all__ = [
    "DRIFTLINE",
    "JobsPrometheus",
    "ModelService",
    "Traffic",
    "customers",
    "fast_rules",
    "start_sidecar",
    "substitute",
    "write_reference",
    "write_stale_snapshot",
]

# --- data ------------------------------------------------------------------------------------


def customers(rng: np.random.Generator, n: int, *, drifted: bool = False) -> list[dict[str, Any]]:
    """``n`` feature records; ``drifted`` moves tenure_months up by 2.5 standard deviations."""
    tenure = rng.normal(39.0 if drifted else 24.0, 6.0, n)
    spend = rng.normal(50.0, 10.0, n)
    plans = rng.choice(["basic", "pro", "team"], n)
    return [
        {"tenure_months": float(t), "monthly_spend": float(s), "plan": str(p)}
        for t, s, p in zip(tenure, spend, plans, strict=True)
    ]


def write_reference(path: Path, *, model: str, version: str, n: int = 3_000) -> Path:
    """Save the reference profile of ``n`` normal customers and the model's outputs on them,
    with its performance against labels drawn from the model's own probabilities."""
    rng = np.random.default_rng(0)
    rows = customers(rng, n)
    outputs = [score(row) for row in rows]
    probability = np.array([o["probability"] for o in outputs], dtype=float)
    data = {
        **{name: np.array([row[name] for row in rows]) for name in rows[0]},
        "probability": probability,
        "label": np.array([o["label"] for o in outputs], dtype=object),
        "churned": (rng.random(n) < probability).astype(int),
    }
    profile = build_profile(
        data,
        model=model,
        version=version,
        categorical=["plan", "label"],
        prediction_columns=["probability", "label"],
        label_column="churned",
        performance_column="probability",
        task="classification",
    )
    save_profile(profile, path)
    return path


def _records_body(model: str, version: str, rows: Sequence[Mapping[str, Any]], at: float) -> bytes:
    outputs = [score(row) for row in rows]
    batch = {
        "model": model,
        "version": version,
        "ids": [f"stale-{i}" for i in range(len(rows))],
        "timestamps": [at] * len(rows),
        "features": {name: [row[name] for row in rows] for name in rows[0]},
        "predictions": {name: [o[name] for o in outputs] for name in outputs[0]},
    }
    return json.dumps({"v": 1, "batches": [batch]}).encode()


def write_stale_snapshot(config_path: Path, *, model: str, version: str, age: float) -> None:
    """Write, in the config's ``state_dir``, a snapshot whose evaluation of the version is
    ``age`` seconds old: the sidecar's own service evaluated it with its clock set back."""
    config = load_config(config_path, environ={})
    then = time.time() - age
    service = SidecarService(config, SidecarMetrics(CollectorRegistry()), clock=lambda: then)
    rows = customers(np.random.default_rng(1), config.min_samples)
    body = ingest.decode(_records_body(model, version, rows, then), config.limits, service.kind)
    for batch in body.batches:
        service.accept(batch, "batches[0]")
    if not service.evaluate_due() or service.save_snapshot() is None:
        raise RuntimeError("the stale snapshot was not written")


# --- processes -------------------------------------------------------------------------------


class ModelService:
    """A ``_model_service`` process: decorated models behind ``POST /predict``."""

    def __init__(self, name: str, log_dir: Path, sidecar_url: str, *options: str) -> None:
        self.process, port = start_on_free_port(
            lambda port: [
                sys.executable,
                "-m",
                "tests.integration._model_service",
                "--port",
                str(port),
                "--sidecar-url",
                sidecar_url,
                *options,
            ],
            ready_path="/healthz",
            log_path=log_dir / f"{name}.log",
            name=name,
            cwd=REPO_ROOT,
            timeout=60.0,
        )
        self.url = f"http://{LOOPBACK}:{port}"
        self.metrics_target = f"{LOOPBACK}:{fetch_json(self.url + '/healthz')['metrics_port']}"

    def predict(
        self,
        model: str,
        version: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        fail: bool = False,
        sleep: float = 0.0,
        challenger: str | None = None,
        outcomes: bool = False,
    ) -> None:
        """One decorated call per row of ``model`` ``version`` (with a ``challenger`` version
        in shadow mode, and ground truth when ``outcomes``); returns once the champion's
        calls ran."""
        body = {"model": model, "version": version, "rows": list(rows), "fail": fail}
        body.update(sleep=sleep, challenger=challenger, outcomes=outcomes)
        fetch_json(self.url + "/predict", method="POST", body=body)


class Traffic:
    """Background streams of calls; each stream calls its function every ``period`` seconds.

    ``drifted`` is read by the streams on every tick. The first exception of any
    stream stops that stream and is re-raised by ``check()``.
    """

    def __init__(self) -> None:
        self.drifted = False
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._errors: list[BaseException] = []

    def stream(self, name: str, period: float, tick: Callable[[int], None]) -> None:
        """Start calling ``tick(n)`` (n = 0, 1, ...) every ``period`` seconds on a thread."""

        def run() -> None:
            n = 0
            while not self._stop.is_set():
                try:
                    tick(n)
                except BaseException as exc:  # reported by check(), in the test's thread
                    self._errors.append(exc)
                    return
                n += 1
                self._stop.wait(period)

        thread = threading.Thread(target=run, name=f"traffic-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def check(self) -> None:
        """Raise the first error a stream met, if any."""
        if self._errors:
            raise RuntimeError("a traffic stream failed") from self._errors[0]

    def stop(self) -> None:
        """Stop every stream and wait for the running calls to end."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30.0)


# --- Prometheus ------------------------------------------------------------------------------


class JobsPrometheus(Prometheus):
    """Prometheus scraping several jobs, each a list of ``host:port`` targets."""

    def __init__(self, *, jobs: Mapping[str, Sequence[str]], **options: Any) -> None:
        super().__init__(targets=[t for targets in jobs.values() for t in targets], **options)
        self.jobs = {name: list(targets) for name, targets in jobs.items()}

    def config(self) -> dict[str, Any]:
        """The base configuration with one scrape config per job."""
        config = super().config()
        config["scrape_configs"] = [
            {
                "job_name": name,
                "scrape_interval": self.scrape_interval,
                "static_configs": [{"targets": targets}],
            }
            for name, targets in self.jobs.items()
        ]
        return config


def fast_rules(rule_files: Sequence[Path], directory: Path) -> list[Path]:
    """Copies of the rule files with every alert's ``for`` set to 0s, in ``directory``.

    Expressions, labels and annotations are unchanged; only the hold time goes, so
    an alert whose condition holds fires at the next rule evaluation.
    """
    copies = []
    for path in rule_files:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in document["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    rule["for"] = "0s"
        copy = directory / path.name
        copy.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        copies.append(copy)
    return copies


# Grafana's built-in variables, as Grafana would fill them for a 1s scrape interval
# and a short time range.
