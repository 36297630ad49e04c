"""Building blocks shared by the dashboards: datasource, variables, panels and links."""

from __future__ import annotations

from pathlib import Path

import yaml
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard, prometheus, stat, table, timeseries
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    DashboardLinkType,
    DataSourceRef,
    VariableOption,
    VariableRefresh,
    VariableSort,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

__all__ = [
    "DATASOURCE",
    "RUNBOOK_BASE_URL",
    "SELECTED",
    "TAG",
    "base_dashboard",
    "feature_variable",
    "model_info_row",
    "model_variable",
    "query",
    "runbook_link",
    "stat_panel",
    "table_panel",
    "timeseries_panel",
    "variable",
    "version_variable",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
TAG = "driftline"
# The Prometheus datasource as provisioned in deploy/grafana/provisioning/datasources/.
DATASOURCE = DataSourceRef(type_val="prometheus", uid="prometheus")
# The label matchers of the versions chosen in the ``$model`` and ``$version`` variables.
SELECTED = 'model=~"$model", version=~"$version"'


def _runbook_base_url() -> str:
    # One place for the runbook base: the same file the sidecar and the rule tests read.
    path = REPO_ROOT / "alerts" / "sidecar_alerts.yaml"
    return str(yaml.safe_load(path.read_text(encoding="utf-8"))["runbook_base_url"])


RUNBOOK_BASE_URL = _runbook_base_url()


def runbook_link(alert: str) -> dashboard.DashboardLink:
    """A panel link that opens the runbook of ``alert``."""
    return (
        dashboard.DashboardLink(f"Runbook: {alert}")
        .type(DashboardLinkType.LINK)
        .url(f"{RUNBOOK_BASE_URL}{alert}.md")
        .target_blank(True)
    )


def variable(
    name: str,
    label: str,
    query_text: str,
    *,
    multi: bool,
    include_all: bool,
    regex: str | None = None,
) -> dashboard.QueryVariable:
    """A Prometheus query variable filled by ``label_values(...)`` or ``query_result(...)``.

    ``regex`` picks the value out of each ``query_result`` line; the variable is
    refreshed when the time range changes.
    """
    builder = (
        dashboard.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query_text)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .multi(multi)
        .include_all(include_all)
    )
    if regex is not None:
        builder = builder.regex(regex)
    if include_all:
        builder = builder.all_value(".*").current(
            VariableOption(selected=True, text="All", value="$__all")
        )
    return builder


def model_variable(metric: str) -> dashboard.QueryVariable:
    """``$model``: one model, from the ``model`` label of ``metric``."""
    query_text = f"label_values({metric}, model)"
    return variable("model", "Model", query_text, multi=False, include_all=False)


def version_variable(query_text: str, *, regex: str | None = None) -> dashboard.QueryVariable:
    """``$version``: any versions of ``$model`` ("All" offered), filled by ``query_text``."""
    return variable("version", "Version", query_text, multi=True, include_all=True, regex=regex)


def feature_variable(selector: str) -> dashboard.QueryVariable:
    """``$feature``: any features ("All" offered) of ``driftline_drift_detected{selector}``."""
    query_text = f'label_values(driftline_drift_detected{{{selector}, kind="feature"}}, feature)'
    return variable("feature", "Feature", query_text, multi=True, include_all=True)


def base_dashboard(uid: str, title: str, description: str) -> dashboard.Dashboard:
    """A dashboard with the fixed ``uid``, the driftline tag, and links to siblings and runbooks."""
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([TAG])
        .refresh("30s")
        .time("now-6h", "now")
        .timezone("browser")
        .editable()
        .link(
            dashboard.DashboardLink("Driftline dashboards")
            .type(DashboardLinkType.DASHBOARDS)
            .tags([TAG])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
        .link(
            dashboard.DashboardLink("Runbooks")
            .type(DashboardLinkType.LINK)
            .url(RUNBOOK_BASE_URL)
            .icon("doc")
            .target_blank(True)
        )
    )


def query(
    expr: str, legend: str, ref_id: str = "A", *, exemplar: bool = False
) -> prometheus.Dataquery:
    """A range query on the Prometheus datasource."""
    return (
        prometheus.Dataquery()
        .datasource(DATASOURCE)
        .expr(expr)
        .legend_format(legend)
        .ref_id(ref_id)
        .range()
        .exemplar(exemplar)
    )


def timeseries_panel(
    title: str,
    description: str,
    queries: list[prometheus.Dataquery],
    *,
    unit: str,
    width: int = 12,
    runbooks: tuple[str, ...] = (),
) -> timeseries.Panel:
    """A time series panel with a table legend, one query per line set."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(width)
        .height(8)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["lastNotNull", "max"])
        )
        .tooltip(common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI))
    )
    for item in queries:
        panel = panel.with_target(item)
    if runbooks:
        panel = panel.links([runbook_link(alert) for alert in runbooks])
    return panel


def stat_panel(
    title: str, description: str, expr: str, legend: str, *, unit: str, width: int = 6
) -> stat.Panel:
    """A stat panel showing the latest value of one query."""
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(query(expr, legend))
        .unit(unit)
        .span(width)
        .height(8)
    )


def table_panel(title: str, description: str, expr: str, *, width: int = 24) -> table.Panel:
    """A table of the labels of an instant query (for *_info metrics)."""
    return (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(
            prometheus.Dataquery()
            .datasource(DATASOURCE)
            .expr(expr)
            .ref_id("A")
            .instant()
            .format(PromQueryFormat.TABLE)
        )
        .span(width)
        .height(6)
    )


def model_info_row(description: str) -> dashboard.Row:
    """The "Provenance" row: a table of what each selected version declares (model info)."""
    return dashboard.Row("Provenance").with_panel(
        table_panel("Model info", description, f"driftline_model_info{{{SELECTED}}}")
    )
