"""The whole stack with real components: SDK, sidecar, Prometheus, Alertmanager, dashboards.

One stack for the module, started once: an Alertmanager whose webhook receiver is a
``WebhookRecorder``; a ``driftline sidecar`` process sending its alerts to that
Alertmanager; a model service process (``_model_service``: decorated models, capture to
the sidecar, ``driftline.start_metrics_server``); and a Prometheus with exemplar storage
scraping the service under job ``churn-api`` and the sidecar under ``driftline-sidecar``
(the job ``DriftlineSidecarDown`` matches), loading the rules of ``alerts/rules/``.

The rules are loaded as copies whose alerts have ``for: 0s``
(``_stack.fast_rules``); expressions, labels and annotations are the committed ones, but
their hold times (2 minutes to 30 minutes) do not fit a test. Burn-rate windows need no
change: a rate over 3d is computed from whatever samples exist.

So that every dashboard panel and every rule expression has data to return, the stack
also produces each condition the rules look for:

- churn 1.0.0 gets normal traffic, then traffic whose ``tenure_months`` drifted, then
  normal traffic again, with about 9 % of its calls raising (the error burn rates), a
  challenger, version 1.1.0, in shadow mode next to every call, and the ground truth of
  every successful call (``record_outcome``; the reference profile holds the model's
  performance on labelled data);
- model ``fraud`` answers a third of its calls after 0.6 s (the latency burn rates; the
  sidecar has no profile for it, so it also raises ``DriftlineMissingReference``);
- churn 0.9.0 runs on a second service process whose sidecar URL hangs: its capture
  queue (20 records) fills and drops records, and the sidecar never receives its records
  (``DriftlineCaptureQueueSaturated``, ``...RecordsDropped``, ``DriftlineSidecarNotReceiving``);
- churn 0.8.0 is restored from a snapshot whose evaluation is 700 s old, its records
  aged out by ``window_max_age``; a trickle of fewer than ``min_samples`` records keeps
  it unevaluated (``DriftlineSidecarEvaluationLate``);
- the job ``driftline-sidecar`` has a second target where nothing listens: a sidecar that
  is down (``DriftlineSidecarDown``).

The Prometheus-side alert followed to the webhook is ``DriftlineModelErrorBudgetFastBurn``:
its expression holds within seconds of a 9 % error ratio.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
import yaml

from dashboards.src import all_queries
from tests.alerts.catalog import REPO_ROOT, RULE_FILES, RUNBOOKS_DIR, sidecar_catalogue
from tests.integration._stack import (
    JobsPrometheus,
    ModelService,
    Traffic,
    customers,
    fast_rules,
    start_sidecar,
    substitute,
    write_reference,
    write_stale_snapshot,
)
from tests.support.alertmanager import Alertmanager
from tests.support.http_sink import HttpSink
from tests.support.ports import LOOPBACK, free_port
from tests.support.procs import assert_no_process
from tests.support.prometheus import Prometheus, PrometheusAPIError
from tests.support.webhook import WebhookRecorder

pytestmark = pytest.mark.integration

MODEL, VERSION, FEATURE = "churn", "1.0.0", "tenure_months"
CHALLENGER = "1.1.0"
STALE_VERSION = "0.8.0"
CUT_OFF_VERSION = "0.9.0"
SLOW_MODEL = "fraud"
SERVICE_JOB, SIDECAR_JOB = "churn-api", "driftline-sidecar"
DRIFT_ALERT, BURN_ALERT = "DriftlineFeatureDrift", "DriftlineModelErrorBudgetFastBurn"
VARIABLES = {"model": MODEL, "version": VERSION, "feature": FEATURE}
# The versions dashboard compares versions: there the champion and its challenger are
# chosen (a multi-value choice is a regex alternation).
DASHBOARD_VARIABLES = {"driftline-versions": {**VARIABLES, "version": f"{VERSION}|{CHALLENGER}"}}
TIMEOUT = 60.0

# Expressions allowed to return no data in this test, by case id, with the reason.
EXEMPT: dict[str, str] = {}

T = TypeVar("T")


# --- the expressions under test ----------------------------------------------------------------


def _unique(cases: list[tuple[str, str]]) -> dict[str, str]:
    """``cases`` as a mapping, a repeated id numbered (``id#2``) so no expression is lost."""
    unique: dict[str, str] = {}
    for case, expr in cases:
        name, n = case, 1
        while name in unique:
            n += 1
            name = f"{case}#{n}"
        unique[name] = expr
    return unique


def _dashboard_cases() -> dict[str, str]:
    return _unique(
        [
            (
                f"{q.dashboard_uid}/{q.panel_title}/{q.ref_id}",
                substitute(q.expr, DASHBOARD_VARIABLES.get(q.dashboard_uid, VARIABLES)),
            )
            for q in all_queries()
        ]
    )


def _rules() -> list[tuple[str, dict[str, Any]]]:
    return [
        (group["name"], rule)
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
        for rule in group["rules"]
    ]


def _rule_cases() -> dict[str, str]:
    return _unique(
        [
            (f"{group}/{rule.get('alert') or rule.get('record')}", str(rule["expr"]))
            for group, rule in _rules()
        ]
    )


DASHBOARD_CASES = _dashboard_cases()
RULE_CASES = _rule_cases()


# --- the stack ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stack:
    """The running components."""

    prometheus: Prometheus
    alertmanager: Alertmanager
    hook: WebhookRecorder
    service: ModelService
    replica: ModelService
    traffic: Traffic


def _sidecar_config(directory: Path, profile: Path, alertmanager_url: str) -> Path:
    config = {
        "interval": 0.5,
        "snapshot_interval": 3600,
        "state_dir": str(directory / "state"),
        "window_size": 200,
        "min_samples": 100,
        "window_max_age": 600,
        "alerting": {
            "alertmanager_urls": [alertmanager_url],
            "pending_evaluations": 2,
            "resend_interval": 5,
            "service": "churn-api",
            "backoff": 0.1,
            "backoff_max": 1,
        },
        "versions": {
            "min_pairs": 20,
            "min_outcomes": 20,
            "models": {MODEL: {"task": "classification", "output": "probability"}},
        },
        "models": [
            {"model": MODEL, "version": version, "profile": str(profile)}
            for version in (VERSION, STALE_VERSION)
        ],
    }
    path = directory / "sidecar.yaml"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Every component started once for the module; all stopped by pid afterwards."""
    work = tmp_path_factory.mktemp("stack")
    pids: list[int] = []
    with contextlib.ExitStack() as stop:
        hook = stop.enter_context(WebhookRecorder())
        alertmanager = stop.enter_context(
            Alertmanager(webhook_url=hook.url, group_by=("alertname", "model", "version"))
        )
        pids.append(alertmanager.pid)
        profile = write_reference(work / "churn.npz", model=MODEL, version=VERSION)
        config = _sidecar_config(work, profile, alertmanager.url)
        write_stale_snapshot(config, model=MODEL, version=STALE_VERSION, age=700.0)
        sidecar, sidecar_port = start_sidecar(config, work)
        stop.callback(sidecar.stop)
        pids.append(sidecar.pid)
        hanging = stop.enter_context(HttpSink())
        hanging.hang()
        service = ModelService("model-service", work, f"http://{LOOPBACK}:{sidecar_port}")
        stop.callback(service.process.stop)
        pids.append(service.process.pid)
        replica = ModelService(
            "cut-off-replica",
            work,
            hanging.url,
            *("--capture-queue-size", "20", "--capture-timeout", "300"),
        )
        stop.callback(replica.process.stop)
        pids.append(replica.process.pid)
        prometheus = JobsPrometheus(
            jobs={
                SERVICE_JOB: [service.metrics_target, replica.metrics_target],
                SIDECAR_JOB: [f"{LOOPBACK}:{sidecar_port}", f"{LOOPBACK}:{free_port()}"],
            },
            rule_files=fast_rules(RULE_FILES, work),
            alertmanager=alertmanager.address,
        )
        stop.enter_context(prometheus)
        pids.append(prometheus.pid)
        traffic = Traffic()
        stop.callback(traffic.stop)
        yield Stack(prometheus, alertmanager, hook, service, replica, traffic)
    assert_no_process(*pids)


# --- the story: normal, drifted, normal -----------------------------------------------------


@dataclass(frozen=True)
class Story:
    """What the stack showed along the way."""

    normal_alerts: list[Any]
    """Alertmanager's drift alerts of the feature after normal traffic was evaluated."""
    drift_alert: dict[str, Any] | None
    """The drift alert as Alertmanager listed it, None if it never came."""
    results: dict[str, list[Any] | str]
    """Each expression's result (or error) once it returned data during the drift."""
    resolved: bool
    """Whether Alertmanager dropped the drift alert once the traffic was normal again."""


def _poll(probe: Callable[[], T | None], traffic: Traffic, timeout: float = TIMEOUT) -> T | None:
    """``probe()``'s first non-None answer within ``timeout`` seconds, else None."""
    deadline = time.monotonic() + timeout
    while True:
        traffic.check()
        answer = probe()
        if answer is not None or time.monotonic() > deadline:
            return answer
        time.sleep(0.25)


def _drift_matchers() -> list[str]:
    labels = {"alertname": DRIFT_ALERT, "model": MODEL, "version": VERSION, "feature": FEATURE}
    return [f'{name}="{value}"' for name, value in labels.items()]


def _has_data(result: list[Any] | str) -> bool:
    return not isinstance(result, str) and any(
        not math.isnan(float(sample["value"][1])) for sample in result
    )


def _query(prometheus: Prometheus, expr: str) -> list[Any] | str:
    try:
        return prometheus.query(expr)
    except PrometheusAPIError as exc:
        return str(exc)


def _collect_results(stack: Stack) -> dict[str, list[Any] | str]:
    cases = {**DASHBOARD_CASES, **RULE_CASES}
    results: dict[str, list[Any] | str] = {}

    def probe() -> bool | None:
        for case, expr in cases.items():
            if case not in results or not _has_data(results[case]):
                results[case] = _query(stack.prometheus, expr)
        return True if all(_has_data(r) for r in results.values()) else None

    _poll(probe, stack.traffic)
    return results


def _start_traffic(stack: Stack) -> None:
    traffic, service, replica = stack.traffic, stack.service, stack.replica
    churn_rng, fraud_rng, stale_rng, replica_rng = (
        np.random.default_rng(seed) for seed in (2, 3, 4, 5)
    )

    def churn(_: int) -> None:
        rows = customers(churn_rng, 20, drifted=traffic.drifted)
        service.predict(MODEL, VERSION, rows, challenger=CHALLENGER, outcomes=True)
        service.predict(MODEL, VERSION, customers(churn_rng, 2), fail=True)

    def fraud(n: int) -> None:
        service.predict(
            SLOW_MODEL, "1.0.0", customers(fraud_rng, 1), sleep=0.6 if n % 3 == 0 else 0.0
        )

    def stale(n: int) -> None:
        if n < 20:  # stays below min_samples, so the version is never evaluated again
            service.predict(MODEL, STALE_VERSION, customers(stale_rng, 1))

    traffic.stream("churn", 0.2, churn)
    traffic.stream("fraud", 0.2, fraud)
    traffic.stream("stale", 1.0, stale)
    traffic.stream(
        "replica", 0.5, lambda _: replica.predict(MODEL, CUT_OFF_VERSION, customers(replica_rng, 2))
    )


def _warm_up(stack: Stack) -> None:
    """One call per model version, scraped before the traffic starts, so that every
    counter's first sample comes before its increases (rate() needs two samples)."""
    rng = np.random.default_rng(6)
    stack.service.predict(MODEL, VERSION, customers(rng, 1), challenger=CHALLENGER)
    stack.service.predict(MODEL, STALE_VERSION, customers(rng, 1))
    stack.service.predict(SLOW_MODEL, "1.0.0", customers(rng, 1))
    stack.replica.predict(MODEL, CUT_OFF_VERSION, customers(rng, 1))
    called = (
        (MODEL, VERSION),
        (MODEL, STALE_VERSION),
        (SLOW_MODEL, "1.0.0"),
        (MODEL, CUT_OFF_VERSION),
    )
    for model, version in called:
        stack.prometheus.wait_for(
            f'driftline_requests_total{{model="{model}",version="{version}"}}', timeout=TIMEOUT
        )
    stack.prometheus.wait_for(
        f'driftline_sidecar_records_received_total{{model="{MODEL}",version="{VERSION}"}}',
        timeout=TIMEOUT,
    )


@pytest.fixture(scope="module")
def story(stack: Stack) -> Story:
    """Normal traffic until evaluated, drifted traffic until alerted, then normal again."""
    prometheus, alertmanager, traffic = stack.prometheus, stack.alertmanager, stack.traffic
    _warm_up(stack)
    _start_traffic(stack)
    evaluations = (
        f'driftline_evaluation_duration_seconds_count{{model="{MODEL}",version="{VERSION}"}}'
    )
    prometheus.wait_for(
        evaluations, lambda r: bool(r) and float(r[0]["value"][1]) >= 4, timeout=TIMEOUT
    )
    normal_alerts = alertmanager.alerts(filters=_drift_matchers())

    traffic.drifted = True
    drift_alerts = _poll(lambda: alertmanager.alerts(filters=_drift_matchers()) or None, traffic)
    results = _collect_results(stack)

    traffic.drifted = False
    resolved = _poll(lambda: alertmanager.alerts(filters=_drift_matchers()) == [] or None, traffic)
    return Story(
        normal_alerts=normal_alerts,
        drift_alert=drift_alerts[0] if drift_alerts else None,
        results=results,
        resolved=bool(resolved),
    )


def _drift_alert(story: Story) -> dict[str, Any]:
    assert story.drift_alert is not None, f"no {DRIFT_ALERT} for {FEATURE} in Alertmanager"
    return story.drift_alert


def _committed_dashboard_uids() -> set[str]:
    return {
        json.loads(path.read_text(encoding="utf-8"))["uid"]
        for path in (REPO_ROOT / "dashboards").glob("*.json")
    }


# --- (a) the drift alert reaches Alertmanager ------------------------------------------------


def test_no_drift_alert_under_normal_traffic(story: Story) -> None:
    """While the traffic is like the reference, Alertmanager has no drift alert of the feature."""
    assert story.normal_alerts == []


def test_drift_alert_reaches_alertmanager(story: Story) -> None:
    """Drifted traffic makes the sidecar's drift alert of the feature active in Alertmanager."""
    alert = _drift_alert(story)
    assert (alert["status"]["state"], alert["labels"]["service"]) == ("active", "churn-api")


def test_drift_alert_runbook_is_a_committed_runbook(story: Story) -> None:
    """The alert's runbook_url is the catalogue's base plus a runbook file that exists."""
    base, _ = sidecar_catalogue()
    url = _drift_alert(story)["annotations"]["runbook_url"]
    assert url.startswith(base)
    assert (RUNBOOKS_DIR / url.removeprefix(base)).is_file()


def test_drift_alert_dashboard_is_a_committed_dashboard(story: Story) -> None:
    """The alert's dashboard_url opens a dashboard uid committed under dashboards/."""
    path = urllib.parse.urlsplit(_drift_alert(story)["annotations"]["dashboard_url"]).path
    assert path.removeprefix("/d/") in _committed_dashboard_uids()


def test_drift_alert_dashboard_variables_name_the_drift(story: Story) -> None:
    """The dashboard link selects the drifted model, version and feature."""
    query = urllib.parse.urlsplit(_drift_alert(story)["annotations"]["dashboard_url"]).query
    params = urllib.parse.parse_qs(query)
    chosen = {name: params.get(f"var-{name}") for name in VARIABLES}
    assert chosen == {name: [value] for name, value in VARIABLES.items()}


# --- (b) it resolves -------------------------------------------------------------------------


def test_drift_alert_resolves_when_traffic_is_normal_again(story: Story) -> None:
    """Once normal records replace the drifted window, Alertmanager no longer lists the alert."""
    assert story.resolved


def test_webhook_receives_the_resolved_drift_alert(story: Story, stack: Stack) -> None:
    """Alertmanager notifies its webhook receiver that the drift alert of the feature resolved."""

    def resolved(payloads: list[Any]) -> bool:
        return any(
            alert["status"] == "resolved"
            and alert["labels"].get("alertname") == DRIFT_ALERT
            and alert["labels"].get("feature") == FEATURE
            for payload in payloads
            for alert in payload.get("alerts", [])
        )

    stack.hook.wait_for(resolved, timeout=TIMEOUT)


# --- (c) every dashboard and rule expression returns data -----------------------------------


def test_exemptions_name_existing_expressions() -> None:
    """Every exemption names a dashboard or rule expression that still exists."""
    assert set(EXEMPT) <= set(DASHBOARD_CASES) | set(RULE_CASES)


@pytest.mark.parametrize("case", sorted(DASHBOARD_CASES))
def test_dashboard_query_returns_data(story: Story, case: str) -> None:
    """The panel's expression, variables filled with the drifted feature, returns a number."""
    if case in EXEMPT:
        pytest.skip(EXEMPT[case])
    result = story.results[case]
    assert _has_data(result), f"{DASHBOARD_CASES[case]!r} returned {result!r}"


@pytest.mark.parametrize("case", sorted(RULE_CASES))
def test_rule_expression_returns_data(story: Story, case: str) -> None:
    """The recording or alerting rule's expression returns a number: its condition was met."""
    if case in EXEMPT:
        pytest.skip(EXEMPT[case])
    result = story.results[case]
    assert _has_data(result), f"{RULE_CASES[case]!r} returned {result!r}"


def test_every_rule_evaluates_without_error(story: Story, stack: Stack) -> None:
    """Prometheus loaded every rule group of alerts/rules/ and evaluates each rule healthily."""
    loaded = {
        (group["name"], rule["name"]): rule["health"]
        for group in stack.prometheus.rules()
        for rule in group["rules"]
    }
    expected = {(group, rule.get("alert") or rule.get("record")): "ok" for group, rule in _rules()}
    assert loaded == expected


# --- (d) a Prometheus alert reaches the webhook through Alertmanager ------------------------


def test_error_burn_alert_reaches_the_webhook(story: Story, stack: Stack) -> None:
    """Prometheus' error budget fast-burn alert of the model arrives at the webhook receiver."""

    def fired(payloads: list[Any]) -> bool:
        return any(
            alert["status"] == "firing"
            and alert["labels"].get("alertname") == BURN_ALERT
            and alert["labels"].get("model") == MODEL
            for payload in payloads
            for alert in payload.get("alerts", [])
        )

    stack.hook.wait_for(fired, timeout=TIMEOUT)


def test_versions_dashboard_offers_the_shadow_challenger(story: Story, stack: Stack) -> None:
    """The versions dashboard's version variable lists the champion and its shadow challenger."""
    board = json.loads(
        (REPO_ROOT / "dashboards" / "driftline-versions.json").read_text(encoding="utf-8")
    )
    (var,) = [v for v in board["templating"]["list"] if v["name"] == "version"]
    expr = substitute(var["query"].removeprefix("query_result(")[:-1], VARIABLES)
    pattern = re.compile(var["regex"].strip("/"))
    lines = [
        "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(series["metric"].items())) + "}"
        for series in stack.prometheus.query(expr)
    ]
    offered = {m.group(1) for line in lines if (m := pattern.search(line))}
    assert {VERSION, CHALLENGER} <= offered
