"""Runbooks in alerts/runbooks/: one per alert, none for an alert that does not exist."""

from __future__ import annotations

import re
import shlex

import pytest
from driftline_sidecar.app import create_app
from driftline_sidecar.cli import build_parser
from driftline_sidecar.config import SidecarConfig
from fastapi.routing import APIRoute
from prometheus_client import CollectorRegistry
from starlette.routing import Route

from tests.alerts.catalog import RUNBOOKS_DIR, all_alert_names, sidecar_catalogue

SIDECAR_NAMES = {
    "DriftlineFeatureDrift",
    "DriftlinePredictionDrift",
    "DriftlineDataQuality",
    "DriftlineMissingReference",
    "DriftlineChallengerDivergence",
    "DriftlinePerformanceDegraded",
}
NON_ALERT_RUNBOOKS = {"RollBackAModelVersion"}
"""Procedures that alert runbooks link to; they name no alert."""


def _runbook_names() -> set[str]:
    return {path.stem for path in RUNBOOKS_DIR.glob("*.md")} - NON_ALERT_RUNBOOKS


def test_every_alert_has_a_runbook() -> None:
    """Each alert of the rule files and of the sidecar has alerts/runbooks/<AlertName>.md."""
    assert all_alert_names() - _runbook_names() == set()


def test_every_runbook_names_an_existing_alert() -> None:
    """No runbook is left for an alert that neither the rules nor the sidecar define."""
    assert _runbook_names() - all_alert_names() == set()


def test_sidecar_catalogue_lists_the_sidecar_alerts() -> None:
    """alerts/sidecar_alerts.yaml lists exactly the six alerts the sidecar sends."""
    _, alerts = sidecar_catalogue()
    assert {alert.name for alert in alerts} == SIDECAR_NAMES


def test_sidecar_alerts_carry_the_fixed_labels() -> None:
    """Every sidecar alert declares alertname, severity, model, version and service labels."""
    _, alerts = sidecar_catalogue()
    required = {"alertname", "severity", "model", "version", "service"}
    assert all(required <= set(alert.labels) for alert in alerts)


@pytest.mark.parametrize("name", sorted(all_alert_names()))
def test_runbook_has_the_required_sections(name: str) -> None:
    """Each runbook says what fired, the impact, how to diagnose, mitigate and escalate."""
    text = (RUNBOOKS_DIR / f"{name}.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^## (.+)$", text, flags=re.MULTILINE))
    assert {
        "What fired and why it matters",
        "Impact",
        "Diagnose",
        "Mitigate",
        "Escalate",
    } <= headings


@pytest.mark.parametrize("name", sorted(all_alert_names()))
def test_runbook_starts_with_its_alert_name(name: str) -> None:
    """The first line of a runbook is a heading with its alert's name."""
    text = (RUNBOOKS_DIR / f"{name}.md").read_text(encoding="utf-8")
    assert text.splitlines()[0] == f"# {name}"


@pytest.mark.parametrize("name", sorted(all_alert_names()))
def test_runbook_shows_how_to_query_the_sidecar(name: str) -> None:
    """Each runbook shows the curl of the sidecar's drift endpoint for the version."""
    text = (RUNBOOKS_DIR / f"{name}.md").read_text(encoding="utf-8")
    assert "curl -s http://127.0.0.1:8765/v1/drift/MODEL/VERSION" in text


def _calls_for_rollback(name: str) -> bool:
    text = (RUNBOOKS_DIR / f"{name}.md").read_text(encoding="utf-8")
    return re.search(r"roll\s+back", text, flags=re.IGNORECASE) is not None


# Chosen at collection, so a runbook that never mentions a rollback is not a skipped case.
ROLLBACK_RUNBOOKS = sorted(name for name in all_alert_names() if _calls_for_rollback(name))


def test_some_runbooks_call_for_a_rollback() -> None:
    """The rollback check below has runbooks to check: drift and version alerts roll back."""
    assert {"DriftlineFeatureDrift", "DriftlineChallengerDivergence"} <= set(ROLLBACK_RUNBOOKS)


@pytest.mark.parametrize("name", ROLLBACK_RUNBOOKS)
def test_a_runbook_that_calls_for_a_rollback_links_the_procedure(name: str) -> None:
    """A runbook whose mitigation rolls back a version links RollBackAModelVersion.md."""
    text = (RUNBOOKS_DIR / f"{name}.md").read_text(encoding="utf-8")
    assert "(RollBackAModelVersion.md)" in text


def test_the_rollback_procedure_exists() -> None:
    """alerts/runbooks/RollBackAModelVersion.md exists and starts with its title."""
    text = (RUNBOOKS_DIR / "RollBackAModelVersion.md").read_text(encoding="utf-8")
    assert text.splitlines()[0] == "# Roll back a model version"


def _runbook_texts() -> list[tuple[str, str]]:
    return [(p.stem, p.read_text(encoding="utf-8")) for p in sorted(RUNBOOKS_DIR.glob("*.md"))]


def test_runbook_cli_commands_parse_with_the_real_parser() -> None:
    """Every ``driftline reference …`` or ``driftline sidecar --…`` line in a runbook parses."""
    parser = build_parser()
    pattern = re.compile(r"driftline (?:reference \S+|sidecar --)[^`\n]*")
    commands = {m.group(0).strip() for _, text in _runbook_texts() for m in pattern.finditer(text)}
    assert commands, "no CLI command found in the runbooks"
    for command in sorted(commands):
        parser.parse_args(shlex.split(command)[1:])


def test_runbook_curl_paths_are_sidecar_routes() -> None:
    """Every ``curl`` of the sidecar in a runbook names a route the sidecar app serves."""
    app = create_app(SidecarConfig(), registry=CollectorRegistry())
    routes = [
        re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", route.path) + "$")
        for route in app.routes
        if isinstance(route, APIRoute | Route)
    ]
    pattern = re.compile(r"curl -s http://127\.0\.0\.1:8765(/\S*)")
    paths = {m.group(1) for _, text in _runbook_texts() for m in pattern.finditer(text)}
    assert paths, "no curl of the sidecar found in the runbooks"
    unknown = {p for p in paths if not any(r.match(p) for r in routes)}
    assert unknown == set()
