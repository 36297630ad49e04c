"""The alert catalogue: Prometheus rule alerts plus the sidecar's alerts, read from alerts/."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "ALERTS_DIR",
    "REPO_ROOT",
    "RULE_FILES",
    "RUNBOOKS_DIR",
    "RuleAlert",
    "SidecarAlert",
    "all_alert_names",
    "rule_alerts",
    "rule_expressions",
    "sidecar_catalogue",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
ALERTS_DIR = REPO_ROOT / "alerts"
RUNBOOKS_DIR = ALERTS_DIR / "runbooks"
RULE_FILES = tuple(sorted((ALERTS_DIR / "rules").glob("*.yml")))
SIDECAR_ALERTS_FILE = ALERTS_DIR / "sidecar_alerts.yaml"


@dataclass(frozen=True)
class RuleAlert:
    """One alerting rule from a file in alerts/rules/."""

    name: str
    expr: str
    labels: dict[str, str]
    annotations: dict[str, str]
    source: Path


@dataclass(frozen=True)
class SidecarAlert:
    """One alert the sidecar sends itself, from alerts/sidecar_alerts.yaml."""

    name: str
    severities: tuple[str, ...]
    labels: tuple[str, ...]
    dashboard_uid: str
    description: str


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _rules() -> list[tuple[dict[str, Any], Path]]:
    return [
        (rule, path)
        for path in RULE_FILES
        for group in _load(path)["groups"]
        for rule in group["rules"]
    ]


def rule_alerts() -> list[RuleAlert]:
    """Every alerting rule in alerts/rules/*.yml, in file order."""
    return [
        RuleAlert(
            name=rule["alert"],
            expr=rule["expr"],
            labels=dict(rule.get("labels", {})),
            annotations=dict(rule.get("annotations", {})),
            source=path,
        )
        for rule, path in _rules()
        if "alert" in rule
    ]


def rule_expressions() -> list[str]:
    """The PromQL of every recording and alerting rule in alerts/rules/*.yml."""
    return [str(rule["expr"]) for rule, _ in _rules()]


def sidecar_catalogue() -> tuple[str, list[SidecarAlert]]:
    """The runbook base URL and the sidecar's alerts, from alerts/sidecar_alerts.yaml."""
    data = _load(SIDECAR_ALERTS_FILE)
    alerts = [
        SidecarAlert(
            name=entry["name"],
            severities=tuple(entry["severity"]),
            labels=tuple(entry["labels"]),
            dashboard_uid=entry["dashboard_uid"],
            description=entry["description"],
        )
        for entry in data["alerts"]
    ]
    return str(data["runbook_base_url"]), alerts


def all_alert_names() -> set[str]:
    """The alert set: rule files' alerts together with the sidecar's alert names."""
    _, sidecar = sidecar_catalogue()
    return {alert.name for alert in rule_alerts()} | {alert.name for alert in sidecar}
