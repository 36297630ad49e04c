"""The wall clock set backwards (or forwards) corrupts neither windows nor alert timing.

The system clock cannot be changed safely on a shared machine, so these tests
inject the wall clock: ``SidecarService(clock=...)`` and ``Alerter(clock=...)``
are the seams, and they are what the real sidecar reads for wall time (record
ages, ``evaluated_at``, ``startsAt``, resends). Intervals between evaluation
rounds, snapshots and delivery retries use ``time.monotonic`` and are not
affected by a wall-clock jump.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from driftline_sidecar import ingest
from driftline_sidecar.alerting import Alerter, AlertState
from driftline_sidecar.config import SidecarConfig, load_config
from driftline_sidecar.drift import Evaluation
from driftline_sidecar.metrics import SidecarMetrics
from driftline_sidecar.service import SidecarService
from prometheus_client import CollectorRegistry

from tests.faults._sidecar import records_body, write_config
from tests.support.webhook import WebhookRecorder

T = 1_800_000_000.0
DAY = 86_400.0
RESEND = 0.5


@dataclass
class _Clock:
    """A wall clock the test sets by hand."""

    now: float

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def hook() -> Iterator[WebhookRecorder]:
    """A webhook receiver for the alerter."""
    with WebhookRecorder() as recorder:
        yield recorder


def _config(tmp_path: Path, profile_path: Path, hook: WebhookRecorder) -> SidecarConfig:
    path = write_config(
        tmp_path,
        profile_path,
        window_max_age=600,
        window_size=5_000,
        alerting={
            "log": False,
            "webhook_urls": [hook.url],
            "pending_evaluations": 1,
            "resend_interval": RESEND,
        },
    )
    return load_config(path, environ={})


def _send(service: SidecarService, n: int, at: float, *, seed: int, shift: float = 0.0) -> None:
    """Accept ``n`` records stamped ``at`` (the SDK's clock) into the service's window."""
    body: dict[str, Any] = records_body(n, seed=seed, shift=shift)
    body["batches"][0]["timestamps"] = [at] * n
    decoded = ingest.decode(json.dumps(body).encode(), service.config.limits, service.kind)
    for batch in decoded.batches:
        service.accept(batch, "batches[0].version")


def _service(config: SidecarConfig, clock: _Clock) -> SidecarService:
    return SidecarService(config, SidecarMetrics(CollectorRegistry()), clock=clock)


def test_a_backward_jump_keeps_every_record_and_evaluates_new_ones(
    tmp_path: Path, profile_path: Path, hook: WebhookRecorder
) -> None:
    """A day back: no record leaves the window, an unchanged window is not re-evaluated, and
    records stamped by the jumped clock are added and evaluated with the others."""
    clock = _Clock(T)
    service = _service(_config(tmp_path, profile_path, hook), clock)
    _send(service, 500, T - 10, seed=1)
    first = service.evaluate_due()
    clock.now = T - DAY
    service.expire()
    unchanged = service.evaluate_due()
    _send(service, 100, T - DAY, seed=2)
    (after,) = service.evaluate_due()
    assert (
        len(first),
        unchanged,
        after.to_json()["n_window"],
        service.models()[0]["window_records"],
    ) == (
        1,
        [],
        600,
        600,
    )


def test_a_forward_jump_ages_records_out_by_their_own_timestamps(
    tmp_path: Path, profile_path: Path, hook: WebhookRecorder
) -> None:
    """window_max_age is wall-clock age: a jump past it empties the window, never below zero."""
    clock = _Clock(T)
    service = _service(_config(tmp_path, profile_path, hook), clock)
    _send(service, 500, T - 10, seed=1)
    clock.now = T + 700
    service.expire()
    assert service.models()[0]["window_records"] == 0


def _firing_evaluation(tmp_path: Path, profile_path: Path, hook: WebhookRecorder) -> Evaluation:
    """A real drift evaluation in which the feature ``tenure`` has drifted."""
    found: list[Evaluation] = []
    service = _service(_config(tmp_path, profile_path, hook), _Clock(T))

    def keep(model: str, version: str, evaluation: Evaluation | None, **_: object) -> None:
        if evaluation is not None:
            found.append(evaluation)

    service.add_listener(keep)
    _send(service, 500, T, seed=1, shift=15.0)
    service.evaluate_due()
    return found[0]


def test_resends_continue_on_the_new_time_base_after_a_backward_jump(
    tmp_path: Path, profile_path: Path, hook: WebhookRecorder
) -> None:
    """Set back an hour, a firing alert is re-sent at once, then every resend_interval again."""
    config = _config(tmp_path, profile_path, hook)
    state = AlertState(config.alerting)
    evaluation = _firing_evaluation(tmp_path, profile_path, hook)
    state.observe("churn", "1.0", evaluation, has_profile=True, now=T)
    back = T - 3_600
    due = [len(state.due_for_resend(at)) for at in (back, back + RESEND / 2, back + RESEND)]
    assert due == [1, 0, 1]


def test_a_firing_alert_is_still_re_sent_after_the_clock_goes_back(
    tmp_path: Path, profile_path: Path, hook: WebhookRecorder
) -> None:
    """Through the real delivery thread: after a one-hour backward jump the webhook gets a resend.

    Before the fix no resend went out until the wall clock had caught up, so
    Alertmanager expired the alert (``endsAt`` is four resend intervals ahead).
    """
    clock = _Clock(T)
    config = _config(tmp_path, profile_path, hook)
    alerter = Alerter(config.alerting, CollectorRegistry(), clock=clock)
    evaluation = _firing_evaluation(tmp_path, profile_path, hook)
    alerter.start()
    try:
        alerter.observe("churn", "1.0", evaluation, has_profile=True)
        hook.wait_for(lambda payloads: len(payloads) >= 1)
        clock.now = T - 3_600
        payloads = hook.wait_for(lambda payloads: len(payloads) >= 2)
    finally:
        alerter.close(timeout=2.0)
    assert [(p["status"], p["alerts"][0]["labels"]["feature"]) for p in payloads[:2]] == [
        ("firing", "tenure"),
        ("firing", "tenure"),
    ]
