"""AlertingSettings and the validation of the YAML ``alerting:`` section."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Final
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_GRAFANA_BASE_URL",
    "DEFAULT_RUNBOOK_BASE_URL",
    "AlertingConfigError",
    "AlertingSettings",
    "parse_alerting_settings",
]

DEFAULT_RUNBOOK_BASE_URL: Final = (
    "https://github.com/driftline/driftline/blob/main/alerts/runbooks/"
)
DEFAULT_GRAFANA_BASE_URL: Final = "http://127.0.0.1:3000"


class AlertingConfigError(ValueError):
    """A key of the ``alerting:`` section is invalid; the message names the file and the key."""

    def __init__(self, source: str, key: str, reason: str) -> None:
        self.source = source
        self.key = f"alerting.{key}" if key else "alerting"
        self.reason = reason
        super().__init__(f"{source}: {self.key}: {reason}")


@dataclass(frozen=True)
class AlertingSettings:
    """How the sidecar decides, renders and delivers its alerts (docs/alerting.md)."""

    alertmanager_urls: tuple[str, ...] = ()
    webhook_urls: tuple[str, ...] = ()
    log: bool = True
    pending_evaluations: int = 2
    resend_interval: float = 60.0
    missing_ratio: float = 0.1
    unseen_category_ratio: float = 0.05
    runbook_base_url: str = DEFAULT_RUNBOOK_BASE_URL
    grafana_base_url: str = DEFAULT_GRAFANA_BASE_URL
    external_url: str = "http://127.0.0.1:8765"
    receiver: str = "driftline"
    service: str = "driftline"
    timeout: float = 5.0
    max_retries: int = 5
    backoff: float = 0.5
    backoff_max: float = 30.0
    queue_size: int = 1000

    def __post_init__(self) -> None:
        # Settings built in code get the same checks as settings read from YAML.
        for f in fields(self):
            _check(f.name, getattr(self, f.name), source="AlertingSettings")


def _fail(source: str, key: str, reason: str) -> AlertingConfigError:
    return AlertingConfigError(source, key, reason)


def _url(source: str, key: str, value: object) -> str:
    if not isinstance(value, str):
        raise _fail(source, key, f"must be a URL string, got {type(value).__name__}")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _fail(source, key, f"must be an http:// or https:// URL, got {value!r}")
    return value


def _urls(source: str, key: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise _fail(source, key, "must be a list of URLs")
    return tuple(_url(source, f"{key}[{i}]", item) for i, item in enumerate(value))


def _bool(source: str, key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise _fail(source, key, f"must be true or false, got {value!r}")
    return value


def _int(source: str, key: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(source, key, f"must be an integer, got {value!r}")
    if value < minimum:
        raise _fail(source, key, f"must be at least {minimum}, got {value}")
    return value


def _seconds(source: str, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(source, key, f"must be a number of seconds, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise _fail(source, key, f"must be a positive number of seconds, got {value!r}")
    return float(value)


def _ratio(source: str, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(source, key, f"must be a ratio between 0 and 1, got {value!r}")
    if not 0.0 <= value <= 1.0:
        raise _fail(source, key, f"must be a ratio between 0 and 1, got {value!r}")
    return float(value)


def _text(source: str, key: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(source, key, f"must be a non-empty string, got {value!r}")
    return value


def _check(key: str, value: object, *, source: str) -> object:
    """Return ``value`` in its settings type, or raise naming ``key``."""
    if key in ("alertmanager_urls", "webhook_urls"):
        return _urls(source, key, value)
    if key == "log":
        return _bool(source, key, value)
    if key == "pending_evaluations":
        return _int(source, key, value, minimum=1)
    if key == "max_retries":
        return _int(source, key, value, minimum=0)
    if key == "queue_size":
        return _int(source, key, value, minimum=1)
    if key in ("resend_interval", "timeout", "backoff", "backoff_max"):
        return _seconds(source, key, value)
    if key in ("missing_ratio", "unseen_category_ratio"):
        return _ratio(source, key, value)
    if key in ("runbook_base_url", "grafana_base_url", "external_url"):
        return _url(source, key, value)
    return _text(source, key, value)


def parse_alerting_settings(raw: Mapping[str, object] | None, *, source: str) -> AlertingSettings:
    """Return the settings of a YAML ``alerting:`` section, defaults for absent keys.

    Raises AlertingConfigError (a ValueError) naming ``source`` and the first bad key.
    """
    if raw is None:
        return AlertingSettings()
    if not isinstance(raw, Mapping):
        raise _fail(source, "", f"must be a mapping, got {type(raw).__name__}")
    valid = sorted(f.name for f in fields(AlertingSettings))
    for key in raw:
        if key not in valid:
            raise _fail(source, str(key), f"unknown key; valid keys: {', '.join(valid)}")
    values = {key: _check(key, value, source=source) for key, value in raw.items()}
    return AlertingSettings(**values)  # type: ignore[arg-type]
