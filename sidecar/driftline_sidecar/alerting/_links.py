"""The runbook and Grafana dashboard links carried in every alert's annotations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final
from urllib.parse import urlencode

__all__ = ["dashboard_url", "runbook_url"]

_BEFORE_START_S: Final = 3600.0
_AFTER_END_S: Final = 900.0


def runbook_url(base: str, alertname: str) -> str:
    """Return ``<base>/<alertname>.md``: the runbook file in alerts/runbooks/ by default."""
    return f"{base.rstrip('/')}/{alertname}.md"


def dashboard_url(
    base: str, uid: str, labels: Mapping[str, str], *, starts_at: float, ends_at: float | None
) -> str:
    """Return the Grafana dashboard ``uid`` filtered on the alert's labels, around its time.

    The range runs from one hour before ``starts_at`` to ``now`` while the alert fires,
    or to 15 minutes after ``ends_at`` once it is resolved (Grafana takes milliseconds).
    """
    query: dict[str, str] = {}
    for label in ("model", "version", "feature"):
        if label in labels:
            query[f"var-{label}"] = labels[label]
    query["from"] = str(int((starts_at - _BEFORE_START_S) * 1000))
    query["to"] = "now" if ends_at is None else str(int((ends_at + _AFTER_END_S) * 1000))
    return f"{base.rstrip('/')}/d/{uid}?{urlencode(query)}"
