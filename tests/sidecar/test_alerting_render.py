"""Labels, annotations and links of rendered alerts, and the two JSON payload shapes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from driftline_sidecar.alerting import (
    ALERT_NAMES,
    Alert,
    AlertingSettings,
    AlertState,
    alertmanager_alerts,
    webhook_messages,
)
from driftline_sidecar.drift import ColumnResult

from tests.sidecar.test_alerting_support import NOW, column, drifted, evaluation, quiet

REPO = Path(__file__).resolve().parents[2]
RUNBOOK_BASE = "https://github.com/driftline/driftline/blob/main/alerts/runbooks/"


def _fire(result: ColumnResult, **overrides: Any) -> Alert:
    state = AlertState(AlertingSettings(pending_evaluations=1, **overrides))
    (transition,) = state.observe("churn", "2.3.0", evaluation(result), has_profile=True, now=NOW)
    return transition.alert


def _resolve(result: ColumnResult) -> Alert:
    state = AlertState(AlertingSettings(pending_evaluations=1))
    state.observe("churn", "2.3.0", evaluation(result), has_profile=True, now=NOW)
    (transition,) = state.observe(
        "churn", "2.3.0", evaluation(quiet(result.name)), has_profile=True, now=NOW + 600
    )
    return transition.alert


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_feature_drift_labels_are_exactly_the_documented_set() -> None:
    """A feature drift alert carries alertname, severity, model, version, feature and service."""
    alert = _fire(drifted("age", "critical"), service="churn-api")

    assert alert.labels == {
        "alertname": "DriftlineFeatureDrift",
        "severity": "critical",
        "model": "churn",
        "version": "2.3.0",
        "feature": "age",
        "service": "churn-api",
    }


def test_annotation_keys_are_summary_description_runbook_and_dashboard() -> None:
    """Every alert has exactly the four documented annotations."""
    alert = _fire(drifted("age"))

    assert sorted(alert.annotations) == ["dashboard_url", "description", "runbook_url", "summary"]


def test_summary_names_feature_model_version_and_severity() -> None:
    """The summary is one sentence naming the feature, model, version and severity."""
    alert = _fire(drifted("age", "critical"))

    assert (
        alert.annotations["summary"]
        == "Feature age of model churn version 2.3.0 has drifted (critical)"
    )


def test_description_has_statistic_p_value_effect_size_and_window() -> None:
    """The description gives the test statistic, p-values, effect size and window sizes."""
    alert = _fire(
        column(
            "age",
            drifted=True,
            severity="warning",
            test="ks",
            statistic=0.2143,
            p_value=1.2e-5,
            p_adjusted=3.1e-5,
            effect_method="psi",
            effect_size=0.3127,
            n_window=1000,
            n_reference=5000,
        )
    )

    assert (
        alert.annotations["description"]
        == "ks statistic 0.2143, p-value 1.2e-05 (adjusted 3.1e-05), psi effect size 0.3127, "
        "window 1000 records against a reference of 5000."
    )


def test_runbook_url_is_the_default_base_plus_alertname() -> None:
    """By default runbook_url points at alerts/runbooks/<AlertName>.md in this repository."""
    alert = _fire(drifted("age"))

    assert alert.annotations["runbook_url"] == RUNBOOK_BASE + "DriftlineFeatureDrift.md"


def test_every_alert_name_has_a_runbook_file() -> None:
    """Each runbook_url's file name exists under alerts/runbooks/ in the repository."""
    missing = [n for n in ALERT_NAMES if not (REPO / "alerts" / "runbooks" / f"{n}.md").is_file()]

    assert missing == []


def test_runbook_base_url_is_configurable() -> None:
    """A configured runbook base (with or without a trailing slash) prefixes the file name."""
    alert = _fire(drifted("age"), runbook_base_url="https://wiki.example.test/runbooks")

    assert (
        alert.annotations["runbook_url"]
        == "https://wiki.example.test/runbooks/DriftlineFeatureDrift.md"
    )


def test_dashboard_url_targets_the_drift_dashboard_uid() -> None:
    """Feature drift links to Grafana's driftline-drift dashboard under the default base."""
    alert = _fire(drifted("age"))

    url = urlsplit(alert.annotations["dashboard_url"])
    assert (url.scheme, url.netloc, url.path) == ("http", "127.0.0.1:3000", "/d/driftline-drift")


def test_dashboard_url_filters_on_model_version_and_feature() -> None:
    """The dashboard link sets var-model, var-version and var-feature to the alert's labels."""
    alert = _fire(drifted("age"))

    query = _query(alert.annotations["dashboard_url"])
    assert (
        query["var-model"],
        query["var-version"],
        query["var-feature"],
    ) == (["churn"], ["2.3.0"], ["age"])


def test_firing_dashboard_range_is_an_hour_before_start_to_now() -> None:
    """While firing, the range runs from start - 1 h (in ms) to Grafana's "now"."""
    alert = _fire(drifted("age"))

    query = _query(alert.annotations["dashboard_url"])
    assert ([str(int((NOW - 3600) * 1000))], ["now"]) == (query["from"], query["to"])


def test_resolved_dashboard_range_ends_fifteen_minutes_after_the_end() -> None:
    """Once resolved, the range ends 15 minutes after endsAt (in ms)."""
    alert = _resolve(drifted("age"))

    query = _query(alert.annotations["dashboard_url"])
    assert [str(int((NOW + 600 + 900) * 1000))] == query["to"]


def test_missing_reference_links_to_the_versions_dashboard_without_feature() -> None:
    """DriftlineMissingReference links to driftline-versions with model and version only."""
    state = AlertState(AlertingSettings(pending_evaluations=1, grafana_base_url="http://g:3000/"))
    (t,) = state.observe("churn", "3", None, has_profile=False, now=NOW)

    url = t.alert.annotations["dashboard_url"]
    assert (
        urlsplit(url).path,
        list(_query(url)),
    ) == ("/d/driftline-versions", ["var-model", "var-version", "from", "to"])


def test_generator_url_is_the_dashboard_link() -> None:
    """generatorURL points at the same Grafana view as the dashboard_url annotation."""
    alert = _fire(drifted("age"))

    assert alert.annotations["dashboard_url"] == alert.generator_url


def test_alertmanager_body_gives_firing_alerts_the_validity_end() -> None:
    """A firing alert is posted with endsAt = valid_until, the resolved one with its own end."""
    firing, resolved = _fire(drifted("age")), _resolve(drifted("plan"))

    body = alertmanager_alerts([firing, resolved], valid_until=NOW + 240)

    assert [a["endsAt"] for a in body] == [
        "2026-11-27T08:04:00.000000Z",
        "2026-11-27T08:10:00.000000Z",
    ]


def test_alertmanager_body_has_the_api_v2_fields() -> None:
    """Each posted alert has labels, annotations, startsAt, endsAt and generatorURL only."""
    (posted,) = alertmanager_alerts([_fire(drifted("age"))], valid_until=NOW + 240)

    assert sorted(posted) == ["annotations", "endsAt", "generatorURL", "labels", "startsAt"]


def test_webhook_message_has_the_alertmanager_v4_fields() -> None:
    """The webhook body has every top-level field of Alertmanager's webhook, version 4."""
    (message,) = webhook_messages(
        [_fire(drifted("age"))], receiver="driftline", external_url="http://sidecar:8765"
    )

    assert sorted(message) == [
        "alerts",
        "commonAnnotations",
        "commonLabels",
        "externalURL",
        "groupKey",
        "groupLabels",
        "receiver",
        "status",
        "truncatedAlerts",
        "version",
    ]


def test_webhook_alert_entries_have_status_and_fingerprint() -> None:
    """Each webhook alert has status, labels, annotations, times, generatorURL and fingerprint."""
    alert = _fire(drifted("age"))
    (message,) = webhook_messages([alert], receiver="driftline", external_url="http://s")

    (entry,) = cast(list[dict[str, Any]], message["alerts"])
    assert {
        "status": "firing",
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "startsAt": "2026-11-27T08:00:00.000000Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": alert.generator_url,
        "fingerprint": alert.fingerprint,
    } == entry


def test_webhook_groups_by_alertname_model_and_version() -> None:
    """Two features of one version share a message; its group key and labels name the group."""
    state = AlertState(AlertingSettings(pending_evaluations=1))
    transitions = state.observe(
        "churn", "2.3.0", evaluation(drifted("age"), drifted("plan")), has_profile=True, now=NOW
    )

    (message,) = webhook_messages(
        [t.alert for t in transitions], receiver="driftline", external_url="http://s"
    )
    assert (message["groupKey"], message["groupLabels"]) == (
        '{}:{alertname="DriftlineFeatureDrift", model="churn", version="2.3.0"}',
        {"alertname": "DriftlineFeatureDrift", "model": "churn", "version": "2.3.0"},
    )


def test_webhook_common_labels_leave_out_differing_values() -> None:
    """commonLabels keeps only labels equal across the group: feature differs, so it is absent."""
    state = AlertState(AlertingSettings(pending_evaluations=1))
    transitions = state.observe(
        "churn", "2.3.0", evaluation(drifted("age"), drifted("plan")), has_profile=True, now=NOW
    )

    (message,) = webhook_messages(
        [t.alert for t in transitions], receiver="driftline", external_url="http://s"
    )
    assert sorted(cast(dict[str, str], message["commonLabels"])) == [
        "alertname",
        "model",
        "service",
        "severity",
        "version",
    ]


def test_webhook_status_is_resolved_when_every_alert_is() -> None:
    """A message holding only resolved alerts has status resolved."""
    (message,) = webhook_messages(
        [_resolve(drifted("age"))], receiver="driftline", external_url="http://s"
    )

    assert message["status"] == "resolved"


def test_fingerprint_is_stable_and_label_order_free() -> None:
    """The fingerprint depends on the label set only, not on insertion order."""
    a = Alert({"a": "1", "b": "2"}, {}, "firing", NOW, None, "")
    b = Alert({"b": "2", "a": "1"}, {}, "firing", NOW, None, "")

    assert (a.fingerprint, 16) == (b.fingerprint, len(a.fingerprint))


def test_dashboard_links_point_at_existing_dashboards_and_variables() -> None:
    """Each linked uid is a dashboard in dashboards/ that defines every var- the link sets."""
    state = AlertState(AlertingSettings(pending_evaluations=1))
    alerts = [
        t.alert
        for t in state.observe("m", "1", evaluation(drifted("age")), has_profile=True, now=NOW)
    ]
    alerts += [t.alert for t in state.observe("m", "2", None, has_profile=False, now=NOW)]
    dashboards = {}
    for path in (REPO / "dashboards").glob("*.json"):
        board = json.loads(path.read_text(encoding="utf-8"))
        dashboards[board["uid"]] = {v["name"] for v in board["templating"]["list"]}

    missing = []
    for alert in alerts:
        url = urlsplit(alert.annotations["dashboard_url"])
        uid = url.path.rsplit("/", 1)[-1]
        wanted = {k.removeprefix("var-") for k in parse_qs(url.query) if k.startswith("var-")}
        missing += [(uid, v) for v in sorted(wanted - dashboards.get(uid, set()))]

    assert missing == []
