"""What the demo prints: plain text lines that read the same in a terminal and in a CI log."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TextIO

from driftline_sidecar.demo.receiver import ReceivedAlert

__all__ = [
    "Display",
    "DriftRow",
    "MonthQuality",
    "format_alert",
    "format_drift_table",
    "format_progress",
    "format_quality_table",
]


@dataclass(frozen=True)
class DriftRow:
    """One feature or model output of the sidecar's latest evaluation."""

    name: str
    kind: str
    method: str
    effect_size: float | None
    p_value: float | None
    drifted: bool
    severity: str


@dataclass(frozen=True)
class MonthQuality:
    """How the model did on one replayed month, known here because the demo has the labels."""

    month: str
    flights: int
    late_rate: float
    mean_prediction: float
    auc: float


def _number(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _p_value(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1e}" if value < 1e-3 else f"{value:.3f}"


def format_progress(day: str, sent: int, window: int | None, drifted: Sequence[str]) -> str:
    """Return one progress line: replayed day, records sent, window size, drifted features."""
    shown = ", ".join(drifted) if drifted else "none"
    size = "-" if window is None else f"{window:,}"
    return f"[{day}] sent {sent:>9,} | window {size:>7} | drifted: {shown}"


def format_alert(alert: ReceivedAlert) -> list[str]:
    """Return an alert as a pager shows it: headline, then summary and links while it fires."""
    scope = " ".join(
        f"{key}={alert.labels[key]}"
        for key in ("model", "version", "feature")
        if key in alert.labels
    )
    headline = f"ALERT {alert.status.upper()} [{alert.severity or '-'}] {alert.name} {scope}"
    if alert.status == "resolved":
        return [headline.rstrip()]
    return [
        headline.rstrip(),
        f"    summary:   {alert.summary or '-'}",
        f"    runbook:   {alert.runbook_url or '-'}",
        f"    dashboard: {alert.dashboard_url or '-'}",
    ]


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], right: set[int]) -> list[str]:
    cells = [list(header), *[list(row) for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "  ".join(parts).rstrip()

    return [line(cells[0]), line(["-" * w for w in widths]), *[line(row) for row in cells[1:]]]


def format_drift_table(rows: Sequence[DriftRow]) -> list[str]:
    """Return the per-column drift table: effect size, p-value, drifted and severity."""
    header = ("column", "kind", "method", "effect size", "p-value", "drifted", "severity")
    body = [
        (
            row.name,
            row.kind,
            row.method,
            _number(row.effect_size, ".3f"),
            _p_value(row.p_value),
            "yes" if row.drifted else "no",
            row.severity,
        )
        for row in rows
    ]
    return _table(header, body, right={3, 4})


def format_quality_table(months: Sequence[MonthQuality]) -> list[str]:
    """Return the per-month table of actual late rate, mean prediction and AUC."""
    header = ("month", "flights", "late", "predicted", "AUC")
    body = [
        (
            m.month,
            f"{m.flights:,}",
            f"{m.late_rate:.1%}",
            f"{m.mean_prediction:.1%}",
            f"{m.auc:.3f}",
        )
        for m in months
    ]
    return _table(header, body, right={1, 2, 3, 4})


class Display:
    """Writes the demo's lines to a text stream, flushing each so a CI log shows them live."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def line(self, text: str = "") -> None:
        """Write one line."""
        self._out.write(text + "\n")
        self._out.flush()

    def lines(self, texts: Iterable[str], indent: str = "") -> None:
        """Write several lines, each prefixed by ``indent``."""
        for text in texts:
            self.line(indent + text)

    def section(self, title: str) -> None:
        """Write a blank line and a title underlined for plain-text logs."""
        self.line()
        self.line(title)
        self.line("=" * len(title))
