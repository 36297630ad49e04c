"""Every dashboard and rule PromQL expression parses in a real Prometheus 2.42."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from dashboards.src import all_queries
from tests.alerts.catalog import RULE_FILES, rule_expressions
from tests.integration._grafana import substitute
from tests.support.prometheus import Prometheus, PrometheusAPIError

pytestmark = pytest.mark.integration

# Grafana's variables, replaced as Grafana would: "All" sends the regex .*, a
# chosen value sends itself.
SUBSTITUTIONS = {
    "all": {"model": ".*", "version": ".*", "feature": ".*"},
    "concrete": {"model": "churn", "version": "1.0.0", "feature": "tenure_months"},
}


@pytest.fixture(scope="module")
def prometheus() -> Iterator[Prometheus]:
    """One empty Prometheus with the alert rules loaded, stopped by pid after the module."""
    with Prometheus(rule_files=RULE_FILES, evaluation_interval="1s") as server:
        yield server


def _dashboard_cases() -> list[tuple[str, str]]:
    return [
        (f"{query.dashboard_uid}/{query.panel_title}/{query.ref_id}", query.expr)
        for query in all_queries()
    ]


def test_substitute_replaces_every_variable() -> None:
    """The substitution leaves no Grafana variable behind in any dashboard query.

    ``$1`` and the like are label_replace back-references, not variables.
    """
    cases = _dashboard_cases()
    assert cases, "no dashboard query found: the parametrised parse tests would check nothing"
    for _, expr in cases:
        assert not re.search(r"\$(?![0-9])", substitute(expr, SUBSTITUTIONS["concrete"]))


def test_prometheus_rejects_an_invalid_expression(prometheus: Prometheus) -> None:
    """The check below can fail: a malformed expression is answered with an error."""
    with pytest.raises(PrometheusAPIError):
        prometheus.api("query", query="sum by (model (driftline_requests_total)")


@pytest.mark.parametrize("mode", sorted(SUBSTITUTIONS))
@pytest.mark.parametrize(
    ("where", "expr"), _dashboard_cases(), ids=[c[0] for c in _dashboard_cases()]
)
def test_dashboard_query_parses(prometheus: Prometheus, where: str, expr: str, mode: str) -> None:
    """Prometheus accepts the dashboard expression with its variables substituted."""
    prometheus.api("query", query=substitute(expr, SUBSTITUTIONS[mode]))


@pytest.mark.parametrize("expr", rule_expressions())
def test_rule_expression_parses(prometheus: Prometheus, expr: str) -> None:
    """Prometheus accepts each recording and alerting rule expression as a query."""
    prometheus.api("query", query=expr)


def test_prometheus_loads_every_rule_group(prometheus: Prometheus) -> None:
    """The running Prometheus loaded each rule group of alerts/rules/."""
    groups = {group["name"] for group in prometheus.api("rules")["groups"]}
    assert groups == {
        "driftline-slo-recording",
        "driftline-slo-alerts",
        "driftline-capture",
        "driftline-sidecar",
        "driftline-drift",
    }
