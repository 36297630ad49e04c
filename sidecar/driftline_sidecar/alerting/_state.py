"""The pure alert state machine: inactive → pending (N evaluations) → firing → resolved."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal

from driftline_sidecar.alerting._conditions import Condition, EvaluationLike, conditions_for
from driftline_sidecar.alerting._links import dashboard_url, runbook_url
from driftline_sidecar.alerting._model import (
    ALERT_NAMES,
    MISSING_REFERENCE,
    Alert,
    AlertStatus,
    Transition,
)
from driftline_sidecar.alerting._settings import AlertingSettings

__all__ = ["AlertState"]

_Key = tuple[str, str, tuple[tuple[str, str], ...]]


@dataclass
class _Tracked:
    """Mutable bookkeeping for one alert identity; never leaves this module."""

    condition: Condition
    status: Literal["pending", "firing"]
    count: int
    starts_at: float
    last_sent: float = float("-inf")


class AlertState:
    """Which alerts are pending or firing, per model version; no I/O, no clock, no threads.

    Not thread-safe: the caller serialises ``observe`` and ``due_for_resend``.
    """

    def __init__(self, settings: AlertingSettings) -> None:
        self._settings = settings
        self._tracked: dict[_Key, _Tracked] = {}

    def observe(
        self,
        model: str,
        version: str,
        evaluation: EvaluationLike | None,
        *,
        has_profile: bool,
        now: float,
    ) -> list[Transition]:
        """Feed one evaluation of ``model``/``version`` and return the alerts whose status changed.

        ``evaluation=None`` with a profile means no new evidence: drift and data-quality
        alerts keep their state. Without a profile, the version's drift alerts resolve
        and DriftlineMissingReference is counted instead.
        """
        conditions = conditions_for(
            model, version, evaluation, has_profile=has_profile, settings=self._settings
        )
        scope = set(ALERT_NAMES)
        if has_profile and evaluation is None:
            scope = {MISSING_REFERENCE}
        return self.observe_conditions(model, version, conditions, scope=scope, now=now)

    def observe_conditions(
        self,
        model: str,
        version: str,
        conditions: Sequence[Condition],
        *,
        scope: Collection[str],
        now: float,
    ) -> list[Transition]:
        """Feed the conditions that hold now for the alertnames in ``scope`` of one version.

        Tracked alerts of ``model``/``version`` named in ``scope`` but not in ``conditions``
        resolve (or go back to inactive); other alertnames are left alone.
        """
        wanted = {(model, version, c.key): c for c in conditions}
        transitions: list[Transition] = []
        for key, tracked in list(self._tracked.items()):
            if key[:2] != (model, version) or key in wanted:
                continue
            if tracked.condition.labels["alertname"] not in scope:
                continue
            del self._tracked[key]
            if tracked.status == "firing":
                transitions.append(Transition("firing", self._render(tracked, "resolved", now)))
            else:
                transitions.append(Transition("pending", self._render(tracked, "inactive", now)))
        for key, condition in wanted.items():
            transitions.extend(self._advance(key, condition, now))
        return transitions

    def _advance(self, key: _Key, condition: Condition, now: float) -> list[Transition]:
        tracked = self._tracked.get(key)
        if tracked is None:
            tracked = _Tracked(condition, "pending", 0, starts_at=now)
            self._tracked[key] = tracked
            previous: AlertStatus = "inactive"
        else:
            previous = tracked.status
        if tracked.status == "firing":
            if tracked.condition.labels == condition.labels:
                tracked.condition = condition
                return []
            # The severity changed: Alertmanager identifies alerts by all their labels, so
            # the old label set resolves and the new one fires at once (no new pending count).
            resolved = self._render(tracked, "resolved", now)
            tracked.condition, tracked.starts_at, tracked.last_sent = condition, now, now
            return [Transition("firing", resolved), Transition("firing", self._render(tracked))]
        tracked.condition = condition
        tracked.count += 1
        if tracked.count < self._settings.pending_evaluations:
            # Only the first true evaluation changes the status; later ones just count.
            return [Transition(previous, self._render(tracked))] if tracked.count == 1 else []
        tracked.status = "firing"
        tracked.last_sent = now
        return [Transition(previous, self._render(tracked))]

    def due_for_resend(self, now: float) -> list[Alert]:
        """Return firing alerts last sent ``resend_interval`` or more ago, now stamped sent.

        A ``now`` before the last send means the wall clock was set back: the alert
        is re-sent at once and timed from ``now`` on, rather than held back (and left
        to expire in Alertmanager) until the clock catches up.
        """
        due: list[Alert] = []
        for tracked in self._tracked.values():
            if tracked.status != "firing":
                continue
            elapsed = now - tracked.last_sent
            if elapsed >= self._settings.resend_interval or elapsed < 0:
                tracked.last_sent = now
                due.append(self._render(tracked))
        return due

    def active_alerts(self) -> list[Alert]:
        """Return every pending and firing alert, ordered by start time then labels."""
        alerts = [self._render(tracked) for tracked in self._tracked.values()]
        return sorted(alerts, key=lambda a: (a.starts_at, sorted(a.labels.items())))

    def _render(
        self, tracked: _Tracked, status: AlertStatus | None = None, now: float | None = None
    ) -> Alert:
        status = tracked.status if status is None else status
        ends_at = now if status == "resolved" else None
        condition = tracked.condition
        dashboard = dashboard_url(
            self._settings.grafana_base_url,
            condition.dashboard_uid,
            condition.labels,
            starts_at=tracked.starts_at,
            ends_at=ends_at,
        )
        annotations = {
            "summary": condition.summary,
            "description": condition.description,
            "runbook_url": runbook_url(
                self._settings.runbook_base_url, condition.labels["alertname"]
            ),
            "dashboard_url": dashboard,
        }
        return Alert(
            labels=dict(condition.labels),
            annotations=annotations,
            status=status,
            starts_at=tracked.starts_at,
            ends_at=ends_at,
            generator_url=dashboard,
        )
