"""The Grafana dashboards generated from dashboards/src and committed under dashboards/."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from dashboards.src import all_queries
from dashboards.src.generate import OUTPUT_DIR, expected_files
from tests.alerts.catalog import RUNBOOKS_DIR, all_alert_names

UIDS = {"driftline-overview", "driftline-drift", "driftline-versions"}


def _committed() -> dict[str, dict[str, Any]]:
    boards = {}
    for path in sorted(OUTPUT_DIR.glob("*.json")):
        model = json.loads(path.read_text(encoding="utf-8"))
        boards[model["uid"]] = model
    return boards


def _panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _variables(board: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {var["name"]: var for var in board["templating"]["list"]}


@pytest.mark.parametrize("path", sorted(expected_files()), ids=lambda path: path.name)
def test_committed_json_matches_a_fresh_generation(path: Any) -> None:
    """Each committed dashboard JSON equals what `python -m dashboards.src.generate` writes now."""
    assert path.exists(), f"{path.name} missing: run python -m dashboards.src.generate"
    assert path.read_text(encoding="utf-8") == expected_files()[path]


def test_no_stale_dashboard_files() -> None:
    """dashboards/ holds only the JSON files the generator writes."""
    assert set(OUTPUT_DIR.glob("*.json")) == set(expected_files())


def test_dashboards_have_the_fixed_uids() -> None:
    """The three dashboards carry the uids the alerts' dashboard_url links use."""
    assert set(_committed()) == UIDS


@pytest.mark.parametrize("uid", sorted(UIDS))
def test_model_and_version_are_query_variables(uid: str) -> None:
    """Every dashboard's model and version variables are Prometheus queries naming that label."""
    variables = _variables(_committed()[uid])
    for name in ("model", "version"):
        query = variables[name]["query"]
        assert variables[name]["type"] == "query"
        if query.startswith("query_result("):
            assert variables[name]["regex"] == f'/{name}="([^"]+)"/'
        else:
            assert query.startswith("label_values(")
            assert query.endswith(f", {name})")


@pytest.mark.parametrize("uid", ["driftline-drift", "driftline-versions"])
def test_feature_is_a_label_values_query_variable(uid: str) -> None:
    """The drift and versions dashboards have a feature query variable from label_values()."""
    feature = _variables(_committed()[uid])["feature"]
    assert (feature["type"], feature["query"].startswith("label_values(")) == ("query", True)


def test_latency_panel_has_exemplars_enabled() -> None:
    """The overview's latency panel asks Prometheus for exemplars on every query."""
    board = _committed()["driftline-overview"]
    panel = next(p for p in _panels(board) if p.get("title") == "Latency percentiles")
    assert [target["exemplar"] for target in panel["targets"]] == [True, True, True]


def test_panel_ids_are_unique() -> None:
    """No two panels of a dashboard share an id."""
    for board in _committed().values():
        ids = [panel["id"] for panel in _panels(board)]
        assert len(ids) == len(set(ids)), board["uid"]


def test_all_queries_lists_every_panel_expression() -> None:
    """all_queries() returns the expr of every target of every committed dashboard."""
    committed = {
        target["expr"]
        for board in _committed().values()
        for panel in _panels(board)
        for target in panel.get("targets", [])
    }
    assert committed <= {query.expr for query in all_queries()}


def test_runbook_links_point_at_existing_runbooks() -> None:
    """Every runbook link on a panel names an alert that has a runbook."""
    linked = {
        link["url"].rsplit("/", 1)[-1].removesuffix(".md")
        for board in _committed().values()
        for panel in _panels(board)
        for link in panel.get("links", [])
        if link["title"].startswith("Runbook: ")
    }
    assert linked
    assert linked <= all_alert_names()


def test_panels_named_in_runbooks_exist() -> None:
    """Each bold name in a runbook is a dashboard title or a panel title."""
    titles = {board["title"] for board in _committed().values()} | {
        panel["title"] for board in _committed().values() for panel in _panels(board)
    }
    named = {
        name
        for path in RUNBOOKS_DIR.glob("*.md")
        for name in re.findall(r"\*\*([^*]+)\*\*", _one_line(path.read_text(encoding="utf-8")))
        if not name.endswith(":")
    }
    assert named - titles == set()
