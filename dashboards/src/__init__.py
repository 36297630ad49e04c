"""Driftline's Grafana dashboards as code (grafana-foundation-sdk).

``all_dashboards()`` builds them, ``render()`` turns one into the JSON committed
under ``dashboards/``, and ``all_queries()`` lists every PromQL expression they run.
"""

from __future__ import annotations

import json
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from dashboards.src import drift, overview, versions
from dashboards.src._layout import finish
from dashboards.src._queries import DashboardQuery, queries_of

__all__ = ["DashboardQuery", "all_dashboards", "all_queries", "render", "to_model"]


def all_dashboards() -> list[Dashboard]:
    """The overview, drift and versions dashboards, freshly built."""
    return [finish(module.build().build()) for module in (overview, drift, versions)]


def to_model(board: Dashboard) -> dict[str, Any]:
    """The dashboard as the JSON model Grafana reads (plain dicts and lists)."""
    model: dict[str, Any] = json.loads(json.dumps(board, cls=JSONEncoder))
    return model


def render(board: Dashboard) -> str:
    """The dashboard's JSON text as committed: sorted keys, two-space indent, final newline."""
    return json.dumps(to_model(board), indent=2, sort_keys=True) + "\n"


def all_queries() -> list[DashboardQuery]:
    """Every PromQL expression of every dashboard, Grafana variables (``$model``...) left in."""
    return [query for board in all_dashboards() for query in queries_of(to_model(board))]
