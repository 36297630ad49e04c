"""The pure alert state machine: pending count, firing, resends, resolution, flapping."""

from __future__ import annotations

from typing import Any

from driftline_sidecar.alerting import (
    DATA_QUALITY,
    FEATURE_DRIFT,
    MISSING_REFERENCE,
    PREDICTION_DRIFT,
    AlertingSettings,
    AlertState,
    Transition,
)

from tests.sidecar.test_alerting_support import NOW, drifted, evaluation, quiet, with_quality


def _moves(transitions: list[Transition]) -> list[tuple[str, str, str]]:
    return [(t.alert.alertname, t.previous, t.current) for t in transitions]


def _state(**overrides: Any) -> AlertState:
    return AlertState(AlertingSettings(**overrides))


def test_first_true_evaluation_makes_the_alert_pending() -> None:
    """With the default of 2 evaluations, one drifted window only makes the alert pending."""
    state = _state()

    transitions = state.observe("churn", "2", evaluation(drifted("age")), has_profile=True, now=NOW)

    assert _moves(transitions) == [(FEATURE_DRIFT, "inactive", "pending")]


def test_alert_fires_on_the_nth_consecutive_true_evaluation() -> None:
    """With pending_evaluations=3 the alert fires on the third drifted evaluation, not before."""
    state = _state(pending_evaluations=3)
    ev = evaluation(drifted("age"))

    second = [state.observe("churn", "2", ev, has_profile=True, now=NOW + i) for i in range(3)]

    assert [_moves(t) for t in second[1:]] == [[], [(FEATURE_DRIFT, "pending", "firing")]]


def test_pending_evaluations_of_one_fires_at_once() -> None:
    """With pending_evaluations=1 the first drifted evaluation fires the alert."""
    state = _state(pending_evaluations=1)

    transitions = state.observe("churn", "2", evaluation(drifted("age")), has_profile=True, now=NOW)

    assert _moves(transitions) == [(FEATURE_DRIFT, "inactive", "firing")]


def test_condition_vanishing_while_pending_goes_inactive_without_delivery() -> None:
    """A pending alert whose drift goes away becomes inactive and is not sent anywhere."""
    state = _state()
    state.observe("churn", "2", evaluation(drifted("age")), has_profile=True, now=NOW)

    transitions = state.observe(
        "churn", "2", evaluation(quiet("age")), has_profile=True, now=NOW + 60
    )

    assert [(*m, t.deliverable) for m, t in zip(_moves(transitions), transitions, strict=True)] == [
        (FEATURE_DRIFT, "pending", "inactive", False)
    ]


def test_firing_alert_resolves_with_end_time_when_drift_goes_away() -> None:
    """A firing alert whose drift is gone resolves with endsAt equal to that evaluation's time."""
    state = _state(pending_evaluations=1)
    state.observe("churn", "2", evaluation(drifted("age")), has_profile=True, now=NOW)

    (resolved,) = state.observe(
        "churn", "2", evaluation(quiet("age")), has_profile=True, now=NOW + 90
    )

    assert (
        resolved.current,
        resolved.alert.starts_at,
        resolved.alert.ends_at,
    ) == ("resolved", NOW, NOW + 90)


def test_resolved_alert_is_reported_once() -> None:
    """After resolving, further quiet evaluations report no transition for that alert."""
    state = _state(pending_evaluations=1)
    state.observe("churn", "2", evaluation(drifted("age")), has_profile=True, now=NOW)
    state.observe("churn", "2", evaluation(quiet("age")), has_profile=True, now=NOW + 60)

    assert (
        state.observe("churn", "2", evaluation(quiet("age")), has_profile=True, now=NOW + 120) == []
    )


def test_starts_at_is_the_first_true_evaluation() -> None:
    """A firing alert starts when its condition first held (the pending start), as in Prometheus."""
    state = _state()
    state.observe("churn", "2", evaluation(drifted("age")), has_profile=True, now=NOW)

    (firing,) = state.observe(
        "churn", "2", evaluation(drifted("age")), has_profile=True, now=NOW + 60
    )

    assert firing.alert.starts_at == NOW


def test_flapping_condition_starts_a_new_pending_count() -> None:
    """Drifted, quiet, drifted: the alert never fires with the default of 2 evaluations."""
    state = _state()
    ev_drift, ev_quiet = evaluation(drifted("age")), evaluation(quiet("age"))
    moves = []
    for i, ev in enumerate([ev_drift, ev_quiet, ev_drift, ev_quiet]):
        moves += _moves(state.observe("churn", "2", ev, has_profile=True, now=NOW + 60 * i))

    assert moves == [
        (FEATURE_DRIFT, "inactive", "pending"),
        (FEATURE_DRIFT, "pending", "inactive"),
        (FEATURE_DRIFT, "inactive", "pending"),
        (FEATURE_DRIFT, "pending", "inactive"),
    ]


def test_firing_alert_is_due_for_resend_after_the_interval() -> None:
    """A firing alert is due again resend_interval seconds after it was last sent, not before."""
    state = _state(pending_evaluations=1, resend_interval=60)
    state.observe("churn", "2", evaluation(drifted("age")), has_profile=True, now=NOW)

    due = [len(state.due_for_resend(NOW + t)) for t in (59, 60, 61, 120)]

    assert due == [0, 1, 0, 1]


def test_pending_alert_is_never_resent() -> None:
    """Pending alerts are not delivered, so they are never due for resend."""
    state = _state()
    state.observe("churn", "2", evaluation(drifted("age")), has_profile=True, now=NOW)

    assert state.due_for_resend(NOW + 3600) == []


def test_severity_change_while_firing_resolves_old_labels_and_fires_new() -> None:
    """Warning to critical while firing: the warning alert resolves and the critical one fires."""
    state = _state(pending_evaluations=1)
    state.observe("churn", "2", evaluation(drifted("age", "warning")), has_profile=True, now=NOW)

    transitions = state.observe(
        "churn", "2", evaluation(drifted("age", "critical")), has_profile=True, now=NOW + 60
    )

    assert [(t.alert.severity, t.current) for t in transitions] == [
        ("warning", "resolved"),
        ("critical", "firing"),
    ]


def test_severity_change_while_pending_keeps_the_count() -> None:
    """A pending alert whose severity changes still fires on the second evaluation."""
    state = _state()
    state.observe("churn", "2", evaluation(drifted("age", "warning")), has_profile=True, now=NOW)

    (firing,) = state.observe(
        "churn", "2", evaluation(drifted("age", "critical")), has_profile=True, now=NOW + 60
    )

    assert (firing.current, firing.alert.severity) == ("firing", "critical")


def test_each_drifted_feature_is_its_own_alert() -> None:
    """Two drifted features give two alerts, told apart by the feature label."""
    state = _state(pending_evaluations=1)

    transitions = state.observe(
        "churn",
        "2",
        evaluation(drifted("age"), drifted("plan"), quiet("spend")),
        has_profile=True,
        now=NOW,
    )

    assert sorted(t.alert.labels["feature"] for t in transitions) == ["age", "plan"]


def test_drifted_prediction_raises_prediction_drift_with_engine_severity() -> None:
    """A drifted output raises DriftlinePredictionDrift with the engine's severity."""
    state = _state(pending_evaluations=1)

    (t,) = state.observe(
        "churn",
        "2",
        evaluation(drifted("value", "critical", role="prediction")),
        has_profile=True,
        now=NOW,
    )

    assert (
        t.alert.alertname,
        t.alert.severity,
        t.alert.labels["feature"],
    ) == (PREDICTION_DRIFT, "critical", "value")


def test_missing_ratio_above_threshold_raises_data_quality_warning() -> None:
    """A feature with 15% missing values (threshold 10%) raises DriftlineDataQuality, warning."""
    state = _state(pending_evaluations=1)

    (t,) = state.observe(
        "churn", "2", evaluation(with_quality("plan", missing=0.15)), has_profile=True, now=NOW
    )

    assert (
        t.alert.alertname,
        t.alert.severity,
        t.alert.labels["feature"],
    ) == (DATA_QUALITY, "warning", "plan")


def test_missing_ratio_at_threshold_does_not_alert() -> None:
    """Exactly the threshold is not above it: no alert."""
    state = _state(pending_evaluations=1, missing_ratio=0.1)

    transitions = state.observe(
        "churn", "2", evaluation(with_quality("plan", missing=0.1)), has_profile=True, now=NOW
    )

    assert transitions == []


def test_unseen_category_ratio_above_threshold_raises_data_quality() -> None:
    """Unseen categories in 6% of the window (threshold 5%) raise DriftlineDataQuality."""
    state = _state(pending_evaluations=1)

    (t,) = state.observe(
        "churn",
        "2",
        evaluation(with_quality("plan", unseen_category=0.06)),
        has_profile=True,
        now=NOW,
    )

    assert "unseen categories 6.0% (threshold 5.0%)" in t.alert.annotations["description"]


def test_other_quality_checks_do_not_raise_data_quality() -> None:
    """Non-finite and out-of-range ratios are metrics only; they do not raise this alert."""
    state = _state(pending_evaluations=1)

    transitions = state.observe(
        "churn",
        "2",
        evaluation(with_quality("spend", non_finite=0.9, out_of_range=0.9)),
        has_profile=True,
        now=NOW,
    )

    assert transitions == []


def test_version_without_profile_raises_missing_reference() -> None:
    """A version observed without a reference profile raises DriftlineMissingReference, warning."""
    state = _state(pending_evaluations=1)

    (t,) = state.observe("churn", "3", None, has_profile=False, now=NOW)

    assert (t.alert.alertname, t.alert.severity) == (MISSING_REFERENCE, "warning")


def test_missing_reference_has_no_feature_label() -> None:
    """DriftlineMissingReference concerns a whole version, so it carries no feature label."""
    state = _state(pending_evaluations=1)

    (t,) = state.observe("churn", "3", None, has_profile=False, now=NOW)

    assert sorted(t.alert.labels) == ["alertname", "model", "service", "severity", "version"]


def test_missing_reference_resolves_once_a_profile_is_loaded() -> None:
    """When the profile appears (even before the first evaluation), the alert resolves."""
    state = _state(pending_evaluations=1)
    state.observe("churn", "3", None, has_profile=False, now=NOW)

    transitions = state.observe("churn", "3", None, has_profile=True, now=NOW + 30)

    assert _moves(transitions) == [(MISSING_REFERENCE, "firing", "resolved")]


def test_no_evaluation_keeps_drift_alerts_as_they_are() -> None:
    """evaluation=None with a profile is no evidence: a firing drift alert stays firing."""
    state = _state(pending_evaluations=1)
    state.observe("churn", "2", evaluation(drifted("age")), has_profile=True, now=NOW)

    transitions = state.observe("churn", "2", None, has_profile=True, now=NOW + 60)

    assert (transitions, [a.status for a in state.active_alerts()]) == ([], ["firing"])


def test_losing_the_profile_resolves_drift_alerts() -> None:
    """A version whose profile is gone resolves its drift alerts and raises missing reference."""
    state = _state(pending_evaluations=1)
    state.observe("churn", "2", evaluation(drifted("age")), has_profile=True, now=NOW)

    transitions = state.observe("churn", "2", None, has_profile=False, now=NOW + 60)

    assert (_moves(transitions)) == [
        (FEATURE_DRIFT, "firing", "resolved"),
        (MISSING_REFERENCE, "inactive", "firing"),
    ]


def test_versions_are_tracked_independently() -> None:
    """A quiet evaluation of version 3 does not resolve the firing alert of version 2."""
    state = _state(pending_evaluations=1)
    state.observe("churn", "2", evaluation(drifted("age")), has_profile=True, now=NOW)

    state.observe("churn", "3", evaluation(quiet("age")), has_profile=True, now=NOW + 60)

    assert [(a.labels["version"], a.status) for a in state.active_alerts()] == [("2", "firing")]


def test_active_alerts_lists_pending_and_firing() -> None:
    """active_alerts returns pending and firing alerts with their status."""
    state = _state()
    state.observe("churn", "2", evaluation(drifted("age")), has_profile=True, now=NOW)
    state.observe(
        "churn", "2", evaluation(drifted("age"), drifted("plan")), has_profile=True, now=NOW + 60
    )

    assert [(a.labels["feature"], a.status) for a in state.active_alerts()] == [
        ("age", "firing"),
        ("plan", "pending"),
    ]
