"""The ``alerting:`` YAML section: defaults, accepted values, and errors naming key and file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import driftline_sidecar.alerting as alerting
import pytest
import yaml
from driftline_sidecar.alerting import (
    ALERT_NAMES,
    AlertingConfigError,
    AlertingSettings,
    AlertState,
    parse_alerting_settings,
)

from tests.sidecar.test_alerting_support import NOW, drifted, evaluation, with_quality

REPO = Path(__file__).resolve().parents[2]


def test_absent_section_gives_the_defaults() -> None:
    """``alerting:`` with no value yields the documented defaults."""
    assert AlertingSettings() == parse_alerting_settings(None, source="sidecar.yaml")


def test_documented_defaults() -> None:
    """The defaults are the ones docs/alerting.md lists."""
    s = AlertingSettings()

    assert (
        s.alertmanager_urls,
        s.webhook_urls,
        s.log,
        s.pending_evaluations,
        s.resend_interval,
        s.missing_ratio,
        s.unseen_category_ratio,
        s.runbook_base_url,
        s.grafana_base_url,
    ) == (
        (),
        (),
        True,
        2,
        60.0,
        0.1,
        0.05,
        "https://github.com/driftline/driftline/blob/main/alerts/runbooks/",
        "http://127.0.0.1:3000",
    )


def test_yaml_section_is_read_into_settings() -> None:
    """A full YAML section sets every field, URL lists becoming tuples."""
    raw = yaml.safe_load(
        """
        alertmanager_urls: [http://127.0.0.1:9093, http://127.0.0.1:9094]
        webhook_urls: [https://hooks.example.test/alerts]
        log: false
        pending_evaluations: 3
        resend_interval: 30
        missing_ratio: 0.2
        unseen_category_ratio: 0.01
        service: churn-api
        max_retries: 2
        queue_size: 10
        """
    )

    s = parse_alerting_settings(raw, source="sidecar.yaml")

    assert (
        s.alertmanager_urls,
        s.log,
        s.pending_evaluations,
        s.resend_interval,
        s.service,
    ) == (("http://127.0.0.1:9093", "http://127.0.0.1:9094"), False, 3, 30.0, "churn-api")


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"pending_evaluations": 0}, "alerting.pending_evaluations"),
        ({"pending_evaluations": True}, "alerting.pending_evaluations"),
        ({"resend_interval": -1}, "alerting.resend_interval"),
        ({"missing_ratio": 1.5}, "alerting.missing_ratio"),
        ({"alertmanager_urls": "http://127.0.0.1:9093"}, "alerting.alertmanager_urls"),
        ({"webhook_urls": ["ftp://x"]}, "alerting.webhook_urls[0]"),
        ({"log": "yes"}, "alerting.log"),
        ({"queue_size": 0}, "alerting.queue_size"),
        ({"service": ""}, "alerting.service"),
        ({"pending": 2}, "alerting.pending"),
    ],
)
def test_invalid_value_names_the_key(raw: dict[str, Any], key: str) -> None:
    """Each invalid value raises AlertingConfigError whose key is the offending one."""
    with pytest.raises(AlertingConfigError) as info:
        parse_alerting_settings(raw, source="sidecar.yaml")

    assert key == info.value.key


def test_error_message_names_the_source_file_and_key() -> None:
    """The message starts with the file and the dotted key, then the reason."""
    with pytest.raises(ValueError, match=r"^/etc/driftline\.yaml: alerting\.timeout: must be a"):
        parse_alerting_settings({"timeout": "soon"}, source="/etc/driftline.yaml")


def test_unknown_key_lists_the_valid_keys() -> None:
    """An unknown key's error lists every valid key so the typo is easy to fix."""
    with pytest.raises(AlertingConfigError, match="valid keys: alertmanager_urls, backoff"):
        parse_alerting_settings({"alertmanagers": []}, source="sidecar.yaml")


def test_settings_built_in_code_are_validated_too() -> None:
    """AlertingSettings(...) rejects the same bad values as the YAML parser."""
    with pytest.raises(AlertingConfigError, match="pending_evaluations"):
        AlertingSettings(pending_evaluations=0)


def test_public_names_are_locked() -> None:
    """The package's __all__ lists exactly the public surface, each name importable."""
    expected = {
        "ALERT_NAMES", "DATA_QUALITY", "FEATURE_DRIFT", "MISSING_REFERENCE", "PREDICTION_DRIFT",
        "CHALLENGER_DIVERGENCE", "PERFORMANCE_DEGRADED", "VERSION_ALERT_NAMES",
        "divergence_condition", "performance_condition",
        "Alert", "AlertState", "AlertStatus", "Alerter", "AlertingConfigError",
        "AlertingSettings", "AlertmanagerDestination", "Batch", "ColumnLike", "DeliveryError",
        "Destination", "DocumentColumn", "DocumentEvaluation", "EvaluationLike",
        "LogDestination", "Transition", "WebhookDestination", "alertmanager_alerts",
        "evaluation_from_document", "fingerprint", "parse_alerting_settings", "webhook_messages",
    }  # fmt: skip

    assert (expected, []) == (
        set(alerting.__all__),
        [n for n in alerting.__all__ if not hasattr(alerting, n)],
    )


def test_alert_names_match_the_rules_list() -> None:
    """The alert names equal those in alerts/sidecar_alerts.yaml, the single list of them."""
    listed = yaml.safe_load((REPO / "alerts" / "sidecar_alerts.yaml").read_text(encoding="utf-8"))

    assert sorted(a["name"] for a in listed["alerts"]) == sorted(
        (*ALERT_NAMES, *alerting.VERSION_ALERT_NAMES)
    )


def test_labels_match_the_rules_list() -> None:
    """Each alert carries exactly the label names alerts/sidecar_alerts.yaml lists for it."""
    listed = yaml.safe_load((REPO / "alerts" / "sidecar_alerts.yaml").read_text(encoding="utf-8"))
    expected = {a["name"]: sorted(a["labels"]) for a in listed["alerts"]}
    state = AlertState(AlertingSettings(pending_evaluations=1))
    columns = evaluation(
        drifted("age"), drifted("value", role="prediction"), with_quality("plan", missing=0.5)
    )
    alerts = [t.alert for t in state.observe("m", "1", columns, has_profile=True, now=NOW)]
    alerts += [t.alert for t in state.observe("m", "2", None, has_profile=False, now=NOW)]
    version_conditions = [
        alerting.divergence_condition(
            "m", "1", "2", "value", pairs=500, agreement=0.5, agreement_below=0.9,
            mean_abs=None, mean_abs_above=None, service="s",
        ),
        alerting.performance_condition(
            "m", "2", "f1", live=0.5, reference=0.9, margin=0.05, outcomes=500, service="s"
        ),
    ]  # fmt: skip
    alerts += [
        t.alert
        for t in state.observe_conditions(
            "m", "2", [c for c in version_conditions if c is not None],
            scope=alerting.VERSION_ALERT_NAMES, now=NOW,
        )
    ]  # fmt: skip

    assert expected == {a.alertname: sorted(a.labels) for a in alerts}


def test_runbook_base_matches_the_rules_list() -> None:
    """The default runbook base URL is the one alerts/sidecar_alerts.yaml names."""
    listed = yaml.safe_load((REPO / "alerts" / "sidecar_alerts.yaml").read_text(encoding="utf-8"))

    assert listed["runbook_base_url"] == AlertingSettings().runbook_base_url
