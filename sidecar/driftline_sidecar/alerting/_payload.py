"""JSON bodies: Alertmanager API v2 alerts and Alertmanager-webhook (version 4) messages."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Final

from driftline_sidecar.alerting._model import Alert

__all__ = ["GROUP_BY", "alertmanager_alerts", "rfc3339", "webhook_messages"]

GROUP_BY: Final = ("alertname", "model", "version")
# What Alertmanager's own webhook puts in endsAt while an alert still fires.
_NO_END: Final = "0001-01-01T00:00:00Z"

JSONObject = dict[str, object]


def rfc3339(timestamp: float) -> str:
    """Return a Unix time in seconds as RFC 3339 in UTC with microseconds."""
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def alertmanager_alerts(alerts: Sequence[Alert], *, valid_until: float) -> list[JSONObject]:
    """Return the body of ``POST /api/v2/alerts``.

    A firing alert carries ``endsAt = valid_until`` (the caller passes now + 4 x the resend
    interval, as Prometheus does), so Alertmanager resolves it by itself if the sidecar
    stops re-sending; a resolved alert carries its real end.
    """
    return [
        {
            "labels": dict(alert.labels),
            "annotations": dict(alert.annotations),
            "startsAt": rfc3339(alert.starts_at),
            "endsAt": rfc3339(valid_until if alert.ends_at is None else alert.ends_at),
            "generatorURL": alert.generator_url,
        }
        for alert in alerts
    ]


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    first, *rest = maps
    return {k: v for k, v in sorted(first.items()) if all(m.get(k) == v for m in rest)}


def _group_key(group_labels: Mapping[str, str]) -> str:
    # Alertmanager's form: the route's matchers ("{}" for the root) and the group's label set.
    pairs = ", ".join(f"{name}={json.dumps(value)}" for name, value in group_labels.items())
    return f"{{}}:{{{pairs}}}"


def webhook_messages(
    alerts: Sequence[Alert], *, receiver: str, external_url: str
) -> list[JSONObject]:
    """Return one Alertmanager-webhook message (version "4") per alertname, model and version."""
    groups: dict[tuple[str, ...], list[Alert]] = {}
    for alert in alerts:
        groups.setdefault(tuple(alert.labels.get(k, "") for k in GROUP_BY), []).append(alert)
    messages: list[JSONObject] = []
    for values, members in sorted(groups.items()):
        group_labels = {k: v for k, v in zip(GROUP_BY, values, strict=True) if v}
        firing = any(a.status == "firing" for a in members)
        messages.append(
            {
                "version": "4",
                "groupKey": _group_key(group_labels),
                "truncatedAlerts": 0,
                "status": "firing" if firing else "resolved",
                "receiver": receiver,
                "groupLabels": group_labels,
                "commonLabels": _common([a.labels for a in members]),
                "commonAnnotations": _common([a.annotations for a in members]),
                "externalURL": external_url,
                "alerts": [
                    {
                        "status": alert.status,
                        "labels": dict(alert.labels),
                        "annotations": dict(alert.annotations),
                        "startsAt": rfc3339(alert.starts_at),
                        "endsAt": _NO_END if alert.ends_at is None else rfc3339(alert.ends_at),
                        "generatorURL": alert.generator_url,
                        "fingerprint": alert.fingerprint,
                    }
                    for alert in members
                ],
            }
        )
    return messages
