"""What the demo prints: progress lines, alerts and the final tables."""

from __future__ import annotations

import io
from types import MappingProxyType

from driftline_sidecar.demo.display import (
    Display,
    DriftRow,
    MonthQuality,
    format_alert,
    format_drift_table,
    format_progress,
    format_quality_table,
)
from driftline_sidecar.demo.receiver import ReceivedAlert


def test_a_progress_line_names_the_day_the_counts_and_the_drifted_features() -> None:
    """The line shows the replayed day, records sent with separators, the window and features."""
    line = format_progress("2013-07-04", 123456, 10000, ["temp", "dewp"])
    assert line == "[2013-07-04] sent   123,456 | window  10,000 | drifted: temp, dewp"


def test_a_progress_line_before_any_evaluation_says_none() -> None:
    """Without an evaluation the window is a dash and no feature is listed."""
    assert format_progress("2013-02-01", 5, None, []).endswith("window       - | drifted: none")


def test_an_alert_shows_severity_summary_runbook_and_dashboard() -> None:
    """An alert renders as four lines: headline with scope, summary, runbook and dashboard."""
    alert = ReceivedAlert(
        status="firing",
        name="DriftlineFeatureDrift",
        severity="critical",
        summary="temp drifted",
        runbook_url="https://runbooks/DriftlineFeatureDrift.md",
        dashboard_url="http://127.0.0.1:3000/d/driftline-drift",
        labels=MappingProxyType({"model": "m", "version": "1", "feature": "temp"}),
    )
    assert format_alert(alert) == [
        "ALERT FIRING [critical] DriftlineFeatureDrift model=m version=1 feature=temp",
        "    summary:   temp drifted",
        "    runbook:   https://runbooks/DriftlineFeatureDrift.md",
        "    dashboard: http://127.0.0.1:3000/d/driftline-drift",
    ]


def test_a_resolved_alert_is_one_line() -> None:
    """A resolved alert shows its headline only."""
    alert = ReceivedAlert("resolved", "DriftlineFeatureDrift", "warning", "s", "r", "d")
    assert format_alert(alert) == ["ALERT RESOLVED [warning] DriftlineFeatureDrift"]


def test_the_drift_table_aligns_columns_and_formats_numbers() -> None:
    """Effect sizes get three decimals, tiny p-values scientific notation, missing values a dash."""
    rows = [
        DriftRow("temp", "feature", "ks", 0.9991, 1e-300, True, "critical"),
        DriftRow("origin", "feature", "chi2", None, 0.4567, False, "none"),
    ]
    assert format_drift_table(rows) == [
        "column  kind     method  effect size   p-value  drifted  severity",
        "------  -------  ------  -----------  --------  -------  --------",
        "temp    feature  ks            0.999  1.0e-300  yes      critical",
        "origin  feature  chi2              -     0.457  no       none",
    ]


def test_the_quality_table_shows_rates_as_percentages() -> None:
    """Late rate and mean prediction print as percentages, the AUC with three decimals."""
    [_, _, row] = format_quality_table([MonthQuality("2013-07", 28406, 0.296, 0.066, 0.6742)])
    assert row.split() == ["2013-07", "28,406", "29.6%", "6.6%", "0.674"]


def test_display_sections_are_underlined() -> None:
    """A section is a blank line, its title and a rule of the same length."""
    out = io.StringIO()
    Display(out).section("Drift")
    assert out.getvalue() == "\nDrift\n=====\n"
