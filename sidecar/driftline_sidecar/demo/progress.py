"""The replay's progress: after each tick, what the sidecar says and which alerts came in."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from driftline_sidecar.demo.api import Evaluation, fetch_evaluation
from driftline_sidecar.demo.display import Display, format_alert, format_progress
from driftline_sidecar.demo.receiver import ReceivedAlert, WebhookReceiver

__all__ = ["Progress"]


@dataclass
class Progress:
    """Prints one progress line per tick and every alert as it arrives; keeps what it saw."""

    display: Display
    receiver: WebhookReceiver
    sidecar_url: str
    model: str
    version: str
    flush: Callable[[], object]
    pause: float = 0.0
    latest: Evaluation | None = None
    alerts: list[ReceivedAlert] = field(default_factory=list)

    def tick(self, date: str, sent: int) -> None:
        """Ship what was predicted, read the sidecar's latest evaluation and print the state."""
        self.flush()
        if self.pause:
            time.sleep(self.pause)
        evaluation = fetch_evaluation(self.sidecar_url, self.model, self.version)
        if evaluation is not None:
            self.latest = evaluation
        rows = () if evaluation is None else evaluation.rows
        drifted = [f"{r.name} ({r.severity})" for r in rows if r.drifted and r.kind == "feature"]
        window = None if evaluation is None else evaluation.window
        self.display.line(format_progress(date, sent, window, drifted))
        self.show_alerts()

    def show_alerts(self) -> int:
        """Print the alerts received since the last call; return how many there were."""
        new = self.receiver.drain()
        for alert in new:
            self.display.lines(format_alert(alert), indent="  ")
        self.alerts.extend(new)
        return len(new)

    def wait_for_evaluation(self, after: float, timeout: float) -> Evaluation | None:
        """Return the first evaluation made after Unix time ``after``, or the latest on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            evaluation = fetch_evaluation(self.sidecar_url, self.model, self.version)
            if evaluation is not None:
                self.latest = evaluation
                if evaluation.evaluated_at > after:
                    return evaluation
            time.sleep(0.1)
        return self.latest

    def wait_for_alerts(self, timeout: float) -> None:
        """Print incoming alerts until one is firing, or ``timeout`` seconds have passed."""
        deadline = time.monotonic() + timeout
        while True:
            self.show_alerts()
            if any(a.status == "firing" for a in self.alerts) or time.monotonic() >= deadline:
                return
            time.sleep(0.1)
