"""Alerter: the state machine, the metrics and the delivery worker behind one small facade."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Sequence

from prometheus_client import CollectorRegistry

from driftline_sidecar.alerting._conditions import Condition, EvaluationLike
from driftline_sidecar.alerting._destinations import Batch, Destination, destinations_for
from driftline_sidecar.alerting._dispatcher import Dispatcher
from driftline_sidecar.alerting._metrics import AlertingMetrics
from driftline_sidecar.alerting._model import Alert, Transition
from driftline_sidecar.alerting._settings import AlertingSettings
from driftline_sidecar.alerting._state import AlertState

__all__ = ["Alerter"]


class Alerter:
    """Turns evaluations into alerts and delivers them in the background.

    ``observe`` only updates the state and queues deliveries (no network, no waiting),
    so it is safe to call from the evaluation loop. Firing alerts are re-sent every
    ``resend_interval`` by the worker thread, even when evaluations stop.
    """

    def __init__(
        self,
        settings: AlertingSettings,
        registry: CollectorRegistry,
        *,
        destinations: Sequence[Destination] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``clock`` is the wall clock of alert times (``startsAt``, resends); tests inject one."""
        self.settings = settings
        self._clock = clock
        self._state = AlertState(settings)
        self._lock = threading.Lock()
        self._metrics = AlertingMetrics(registry, self.active_alerts)
        self._dispatcher = Dispatcher(
            destinations_for(settings) if destinations is None else destinations,
            settings=settings,
            metrics=self._metrics,
            tick=self._resend,
            tick_interval=min(1.0, settings.resend_interval),
        )

    def observe(
        self,
        model: str,
        version: str,
        evaluation: EvaluationLike | None,
        *,
        has_profile: bool,
        now: float | None = None,
    ) -> list[Transition]:
        """Update the alerts of ``model``/``version`` from one evaluation; return what changed.

        ``now`` is the Unix time of the evaluation (default: the current time).
        """
        at = self._clock() if now is None else now
        with self._lock:
            transitions = self._state.observe(
                model, version, evaluation, has_profile=has_profile, now=at
            )
        self._deliver(transitions, at)
        return transitions

    def observe_conditions(
        self,
        model: str,
        version: str,
        conditions: Sequence[Condition],
        *,
        scope: Collection[str],
        now: float | None = None,
    ) -> list[Transition]:
        """Update the ``scope`` alerts of ``model``/``version`` from conditions built elsewhere.

        Used for the version alerts (`divergence_condition`, `performance_condition`).
        """
        at = self._clock() if now is None else now
        with self._lock:
            transitions = self._state.observe_conditions(
                model, version, conditions, scope=scope, now=at
            )
        self._deliver(transitions, at)
        return transitions

    def active_alerts(self) -> list[Alert]:
        """Return every pending and firing alert (the sidecar serves no alerts endpoint yet)."""
        with self._lock:
            return self._state.active_alerts()

    def pending_deliveries(self) -> int:
        """Return the number of deliveries waiting in the queues."""
        return self._dispatcher.pending()

    def start(self) -> None:
        """Start the delivery worker thread."""
        self._dispatcher.start()

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued within ``timeout`` seconds, count the rest dropped, stop.

        Firing alerts are not resolved on close: Alertmanager expires them by their
        ``endsAt`` if the sidecar does not come back.
        """
        self._dispatcher.close(timeout)

    def _deliver(self, transitions: Sequence[Transition], at: float) -> None:
        # The dispatcher drops an empty batch, so no transition to send means no I/O.
        self._dispatcher.submit(
            Batch(tuple(t.alert for t in transitions if t.deliverable), created_at=at)
        )

    def _resend(self) -> None:
        now = self._clock()
        with self._lock:
            due = self._state.due_for_resend(now)
        self._dispatcher.submit(Batch(tuple(due), created_at=now, resend=True))
