"""Every PromQL expression of the dashboards, for tests that run them against Prometheus."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["DashboardQuery", "queries_of"]

_LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.*),\s*(?P<label>\w+)\)$", re.DOTALL)
_QUERY_RESULT = re.compile(r"^query_result\((?P<selector>.*)\)$", re.DOTALL)


@dataclass(frozen=True)
class DashboardQuery:
    """One PromQL expression: where it lives and its text with Grafana variables left in."""

    dashboard_uid: str
    panel_title: str
    ref_id: str
    expr: str


def _panels(panels: list[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def queries_of(model: Mapping[str, Any]) -> list[DashboardQuery]:
    """The PromQL of every panel target, variable and annotation of a dashboard's JSON model.

    A variable's ``label_values(SELECTOR, label)`` or ``query_result(EXPR)``
    contributes its SELECTOR or EXPR, the PromQL part of it, with the panel title
    ``variable <name>``; an annotation's query has the title ``annotation <name>``.
    """
    uid = str(model["uid"])
    found = [
        DashboardQuery(
            uid, str(panel.get("title", "")), str(target.get("refId", "")), target["expr"]
        )
        for panel in _panels(model.get("panels", []))
        for target in panel.get("targets", [])
        if target.get("expr")
    ]
    for var in model.get("templating", {}).get("list", []):
        text = var.get("query")
        match = None
        if isinstance(text, str):
            match = _LABEL_VALUES.match(text) or _QUERY_RESULT.match(text)
        if match:
            found.append(DashboardQuery(uid, f"variable {var['name']}", "", match["selector"]))
    for annotation in model.get("annotations", {}).get("list", []):
        if annotation.get("expr"):
            found.append(
                DashboardQuery(uid, f"annotation {annotation['name']}", "", annotation["expr"])
            )
    return found
