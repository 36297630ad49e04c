"""Alerts raised by the sidecar, delivered to Alertmanager, webhooks and the structured log.

Pure core (``AlertState``, conditions, payloads) and an I/O shell (``Alerter``: one worker
thread, bounded queues, retries). See docs/alerting.md, "Sidecar alert delivery".
"""

from __future__ import annotations

from driftline_sidecar.alerting._alerter import Alerter
from driftline_sidecar.alerting._conditions import ColumnLike, EvaluationLike
from driftline_sidecar.alerting._destinations import (
    AlertmanagerDestination,
    Batch,
    DeliveryError,
    Destination,
    LogDestination,
    WebhookDestination,
)
from driftline_sidecar.alerting._document import (
    DocumentColumn,
    DocumentEvaluation,
    evaluation_from_document,
)
from driftline_sidecar.alerting._model import (
    ALERT_NAMES,
    DATA_QUALITY,
    FEATURE_DRIFT,
    MISSING_REFERENCE,
    PREDICTION_DRIFT,
    Alert,
    AlertStatus,
    Transition,
    fingerprint,
)
from driftline_sidecar.alerting._payload import alertmanager_alerts, webhook_messages
from driftline_sidecar.alerting._settings import (
    AlertingConfigError,
    AlertingSettings,
    parse_alerting_settings,
)
from driftline_sidecar.alerting._state import AlertState
from driftline_sidecar.alerting._versions import (
    CHALLENGER_DIVERGENCE,
    PERFORMANCE_DEGRADED,
    VERSION_ALERT_NAMES,
    divergence_condition,
    performance_condition,
)

__all__ = [
    "ALERT_NAMES",
    "CHALLENGER_DIVERGENCE",
    "DATA_QUALITY",
    "FEATURE_DRIFT",
    "MISSING_REFERENCE",
    "PERFORMANCE_DEGRADED",
    "PREDICTION_DRIFT",
    "VERSION_ALERT_NAMES",
    "Alert",
    "AlertState",
    "AlertStatus",
    "Alerter",
    "AlertingConfigError",
    "AlertingSettings",
    "AlertmanagerDestination",
    "Batch",
    "ColumnLike",
    "DeliveryError",
    "Destination",
    "DocumentColumn",
    "DocumentEvaluation",
    "EvaluationLike",
    "LogDestination",
    "Transition",
    "WebhookDestination",
    "alertmanager_alerts",
    "divergence_condition",
    "evaluation_from_document",
    "fingerprint",
    "parse_alerting_settings",
    "performance_condition",
    "webhook_messages",
]
