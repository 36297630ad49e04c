"""The Prometheus rules in alerts/rules/: promtool lint and unit tests, and naming conventions."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.alerts.catalog import (
    ALERTS_DIR,
    RULE_FILES,
    RuleAlert,
    rule_alerts,
    sidecar_catalogue,
)

UNIT_TEST_FILES = tuple(sorted((ALERTS_DIR / "tests").glob("*.yml")))
SEVERITIES = {"critical", "warning", "info"}
ANNOTATIONS = {"summary", "description", "runbook_url", "dashboard_url"}
DASHBOARD_URL = re.compile(r"^http://127.0.0.1:3000/d/driftline-(overview|drift|versions)(\?|$)")


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not installed: run `make debs`")
    return path


def _tested_alert_names() -> set[str]:
    names: set[str] = set()
    for path in UNIT_TEST_FILES:
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            for check in case.get("alert_rule_test", []):
                if any(alert.get("exp_annotations") for alert in check.get("exp_alerts", [])):
                    names.add(check["alertname"])
    return names


def test_rule_files_exist() -> None:
    """alerts/rules/ holds at least one rule file and alerts/tests/ at least one test file."""
    assert RULE_FILES
    assert UNIT_TEST_FILES


def test_rules_pass_promtool_lint() -> None:
    """`promtool check rules --lint=all --lint-fatal` accepts every rule file."""
    result = subprocess.run(
        [_promtool(), "check", "rules", "--lint=all", "--lint-fatal", *map(str, RULE_FILES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass() -> None:
    """`promtool test rules alerts/tests/*.yml` passes."""
    result = subprocess.run(
        [_promtool(), "test", "rules", *map(str, UNIT_TEST_FILES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test_checking_annotations() -> None:
    """Every alerting rule is fired by a promtool unit test that checks its annotations."""
    assert {alert.name for alert in rule_alerts()} - _tested_alert_names() == set()


@pytest.mark.parametrize("alert", rule_alerts(), ids=lambda alert: alert.name)
def test_alert_name_is_driftline_camel_case(alert: RuleAlert) -> None:
    """Alert names are CamelCase with the Driftline prefix."""
    assert re.fullmatch(r"Driftline(?:[A-Z][a-z0-9]+)+", alert.name)


@pytest.mark.parametrize("alert", rule_alerts(), ids=lambda alert: alert.name)
def test_alert_has_a_known_severity(alert: RuleAlert) -> None:
    """Every alerting rule carries a severity label of critical, warning or info."""
    assert alert.labels.get("severity") in SEVERITIES


@pytest.mark.parametrize("alert", rule_alerts(), ids=lambda alert: alert.name)
def test_alert_has_the_four_annotations(alert: RuleAlert) -> None:
    """Every alerting rule has summary, description, runbook_url and dashboard_url."""
    assert set(alert.annotations) == ANNOTATIONS


@pytest.mark.parametrize("alert", rule_alerts(), ids=lambda alert: alert.name)
def test_runbook_url_is_base_plus_alert_name(alert: RuleAlert) -> None:
    """runbook_url is the one runbook base of alerts/sidecar_alerts.yaml plus `<AlertName>.md`."""
    base, _ = sidecar_catalogue()
    assert alert.annotations["runbook_url"] == f"{base}{alert.name}.md"


@pytest.mark.parametrize("alert", rule_alerts(), ids=lambda alert: alert.name)
def test_dashboard_url_opens_a_driftline_dashboard(alert: RuleAlert) -> None:
    """dashboard_url points at one of the three dashboards by its fixed uid."""
    assert DASHBOARD_URL.match(alert.annotations["dashboard_url"])


def test_drift_rules_never_page() -> None:
    """Prometheus drift rules are tickets at most: only the sidecar's drift alerts page."""
    drift = [alert for alert in rule_alerts() if "driftline_drift_" in alert.expr]
    assert drift
    assert {alert.labels["severity"] for alert in drift} <= {"warning", "info"}


def test_sidecar_alert_names_do_not_clash_with_rules() -> None:
    """No Prometheus rule reuses a name of an alert the sidecar sends."""
    _, sidecar = sidecar_catalogue()
    assert {a.name for a in sidecar} & {a.name for a in rule_alerts()} == set()


def test_rule_sources_are_in_alerts_rules() -> None:
    """Every parsed alert comes from a file under alerts/rules/."""
    assert all(Path(alert.source).parent == ALERTS_DIR / "rules" for alert in rule_alerts())
