"""Settings and ``configure()``: keyword arguments over ``DRIFTLINE_*`` variables, checked early."""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import IO, Any
from urllib.parse import urlsplit

from opentelemetry.trace import TracerProvider
from prometheus_client import CollectorRegistry

from ._capture_settings import COMPRESSIONS
from ._exceptions import ConfigurationError

__all__ = ["DEFAULT_PREDICTION_BUCKETS", "Settings", "configure", "resolve_settings"]

#: Buckets of ``driftline_prediction_value``: they fit probabilities and scores from 0 to 1.
DEFAULT_PREDICTION_BUCKETS: tuple[float, ...] = (
    0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0,
)  # fmt: skip

LogOutput = IO[str] | logging.Logger


@dataclass(frozen=True)
class Settings:
    """Everything ``configure()`` accepted, validated; see docs/sdk.md for each key."""

    service_name: str = "unknown_service"
    sidecar_url: str | None = None
    sidecar_token: str | None = field(default=None, repr=False)
    otlp_endpoint: str | None = None
    trace_sample_rate: float = 1.0
    log_sample_rate: float = 0.01
    capture_sample_rate: float = 1.0
    capture_queue_size: int = 10_000
    capture_batch_size: int = 500
    capture_flush_interval: float = 1.0
    capture_compression: str = "auto"
    capture_timeout: float = 2.0
    capture_max_retries: int = 5
    capture_exit_timeout: float = 2.0
    record_features_in_spans: bool = False
    prediction_buckets: tuple[float, ...] = DEFAULT_PREDICTION_BUCKETS
    max_classes: int = 50
    capture_allowlist: tuple[str, ...] | None = None
    capture_redact: tuple[str, ...] = ()
    capture_hash: tuple[str, ...] = ()
    capture_hash_key: str | None = field(default=None, repr=False)
    registry: CollectorRegistry | None = None
    tracer_provider: TracerProvider | None = None
    log_output: LogOutput | None = None


def _env_name(key: str) -> str:
    return "DRIFTLINE_" + key.upper()


def _parse_float(text: str) -> float:
    return float(text)


def _parse_int(text: str) -> int:
    return int(text)


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


def _parse_buckets(text: str) -> tuple[float, ...]:
    return tuple(float(part) for part in text.split(",") if part.strip())


def _parse_str(text: str) -> str | None:
    return text or None


def _parse_names(text: str) -> tuple[str, ...] | None:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    return names or None


# key -> parser of its environment variable; the python-only keys have none.
_ENV_PARSERS: dict[str, Callable[[str], Any]] = {
    "service_name": str,
    "sidecar_url": _parse_str,
    "sidecar_token": _parse_str,
    "otlp_endpoint": _parse_str,
    "trace_sample_rate": _parse_float,
    "log_sample_rate": _parse_float,
    "capture_sample_rate": _parse_float,
    "capture_queue_size": _parse_int,
    "capture_batch_size": _parse_int,
    "capture_flush_interval": _parse_float,
    "capture_compression": str,
    "capture_timeout": _parse_float,
    "capture_max_retries": _parse_int,
    "capture_exit_timeout": _parse_float,
    "record_features_in_spans": _parse_bool,
    "prediction_buckets": _parse_buckets,
    "max_classes": _parse_int,
    "capture_allowlist": _parse_names,
    "capture_redact": _parse_names,
    "capture_hash": _parse_names,
    "capture_hash_key": _parse_str,
}


def _check_rate(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "must be a number between 0 and 1"
    return None if 0.0 <= value <= 1.0 else "must be between 0 and 1"


def _check_positive_int(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return "must be an integer"
    return None if value >= 1 else "must be at least 1"


def _check_non_negative_int(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return "must be an integer"
    return None if value >= 0 else "must be 0 or more"


def _check_seconds(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "must be a number of seconds"
    return None if math.isfinite(value) and value > 0 else "must be a finite number above 0"


def _check_url(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        return "must be an http:// or https:// URL"
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host"
    try:
        port = parts.port  # urlsplit checks the port only when it is read
        host = parts.hostname.encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        port, host = 0, ""
    if port == 0 or not _header_safe(host):
        return "must be a URL with a valid host name and a port number from 1 to 65535"
    if not _header_safe(parts.path):
        return "must be a URL with no spaces, control or non-ASCII characters in its path"
    return None


def _header_safe(text: str) -> bool:
    """True when ``text`` can go into an HTTP request line or header as it is."""
    return all("!" <= c <= "~" for c in text)


def _check_token(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _header_safe(value):
        return "must be printable ASCII without spaces (it is sent in an HTTP header)"
    return None


def _check_compression(value: object) -> str | None:
    if value in COMPRESSIONS:
        return None
    return f"must be one of {', '.join(COMPRESSIONS)}"


def _check_optional_str(value: object) -> str | None:
    return None if value is None or isinstance(value, str) else "must be a string"


def _check_service_name(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return "must be a non-empty string"
    return None if len(value) <= 128 else "must be at most 128 characters"


def _check_bool(value: object) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _check_buckets(value: object) -> str | None:
    if not isinstance(value, tuple) or not value:
        return "must be a non-empty sequence of numbers"
    if not all(isinstance(b, float) and math.isfinite(b) for b in value):
        return "must contain only finite numbers"
    if any(b >= c for b, c in itertools.pairwise(value)):
        return "must be strictly increasing"
    return None


def _check_names(value: object) -> str | None:
    ok = isinstance(value, tuple) and all(isinstance(n, str) and n for n in value)
    return None if ok else "must be a sequence of feature names"


def _check_optional_names(value: object) -> str | None:
    return None if value is None else _check_names(value)


def _check_registry(value: object) -> str | None:
    return (
        None
        if value is None or isinstance(value, CollectorRegistry)
        else "must be a CollectorRegistry"
    )


def _check_tracer_provider(value: object) -> str | None:
    ok = value is None or callable(getattr(value, "get_tracer", None))
    return None if ok else "must be an OpenTelemetry TracerProvider"


def _check_log_output(value: object) -> str | None:
    ok = (
        value is None
        or isinstance(value, logging.Logger)
        or callable(getattr(value, "write", None))
    )
    return None if ok else "must be a text file-like object or a logging.Logger"


_CHECKS: dict[str, Callable[[object], str | None]] = {
    "service_name": _check_service_name,
    "sidecar_url": _check_url,
    "sidecar_token": _check_token,
    "otlp_endpoint": _check_url,
    "trace_sample_rate": _check_rate,
    "log_sample_rate": _check_rate,
    "capture_sample_rate": _check_rate,
    "capture_queue_size": _check_positive_int,
    "capture_batch_size": _check_positive_int,
    "capture_flush_interval": _check_seconds,
    "capture_compression": _check_compression,
    "capture_timeout": _check_seconds,
    "capture_max_retries": _check_non_negative_int,
    "capture_exit_timeout": _check_seconds,
    "record_features_in_spans": _check_bool,
    "prediction_buckets": _check_buckets,
    "max_classes": _check_positive_int,
    "capture_allowlist": _check_optional_names,
    "capture_redact": _check_names,
    "capture_hash": _check_names,
    "capture_hash_key": _check_optional_str,
    "registry": _check_registry,
    "tracer_provider": _check_tracer_provider,
    "log_output": _check_log_output,
}


def _normalise(key: str, value: object) -> object:
    if key == "prediction_buckets" and isinstance(value, Sequence) and not isinstance(value, str):
        try:
            return tuple(float(b) for b in value)
        except (TypeError, ValueError):
            return value
    if key in _NAME_KEYS:
        if value is None:  # an empty variable
            return None if key == "capture_allowlist" else ()
        if isinstance(value, list | tuple | set | frozenset):
            return tuple(value)
    if key in ("sidecar_url", "otlp_endpoint", "sidecar_token") and value == "":
        return None
    if key in ("sidecar_url", "otlp_endpoint") and isinstance(value, str):
        return value.rstrip("/")
    if isinstance(value, int) and not isinstance(value, bool) and _CHECKS[key] is _check_seconds:
        return float(value)
    return value


_NAME_KEYS = ("capture_allowlist", "capture_redact", "capture_hash")
_MIN_HASH_KEY = 16
_SECRETS = ("sidecar_token", "capture_hash_key")
"""Keys whose value an error message does not quote."""


def resolve_settings(
    overrides: Mapping[str, object], environ: Mapping[str, str] | None = None
) -> Settings:
    """Return the settings from ``overrides`` over the environment over the defaults.

    A key whose override is None falls back to its environment variable, then to
    its default. Raises ConfigurationError naming the first bad key.
    """
    env = os.environ if environ is None else environ
    known = {f.name for f in fields(Settings)}
    values: dict[str, object] = {}
    for key, value in overrides.items():
        if key not in known:
            raise ConfigurationError(key, f"unknown key; valid keys: {', '.join(sorted(known))}")
        if value is not None:
            values[key] = value
    for key, parse in _ENV_PARSERS.items():
        if key in values or _env_name(key) not in env:
            continue
        text = env[_env_name(key)]
        try:
            values[key] = parse(text)
        except ValueError:
            reason = f"cannot parse {text!r}: {_CHECKS[key](None) or 'invalid value'}"
            raise ConfigurationError(key, reason, _env_name(key)) from None
    if "service_name" not in values and env.get("OTEL_SERVICE_NAME"):
        values["service_name"] = env["OTEL_SERVICE_NAME"]
    for key in list(values):
        value = _normalise(key, values[key])
        problem = _CHECKS[key](value)
        if problem is not None:
            env_var = _env_name(key) if key in _ENV_PARSERS else None
            got = "a secret, not shown" if key in _SECRETS else repr(value)
            raise ConfigurationError(key, f"{problem}, got {got}", env_var)
        values[key] = value
    key_text = values.get("capture_hash_key")
    if values.get("capture_hash") and len(str(key_text or "")) < _MIN_HASH_KEY:
        # Without a secret key a hash of a low-entropy value (an e-mail) is easily reversed.
        reason = f"must be a secret of at least {_MIN_HASH_KEY} characters when capture_hash is set"
        raise ConfigurationError("capture_hash_key", reason, _env_name("capture_hash_key"))
    return Settings(**values)  # type: ignore[arg-type]


def configure(
    *,
    service_name: str | None = None,
    sidecar_url: str | None = None,
    sidecar_token: str | None = None,
    otlp_endpoint: str | None = None,
    trace_sample_rate: float | None = None,
    log_sample_rate: float | None = None,
    capture_sample_rate: float | None = None,
    capture_queue_size: int | None = None,
    capture_batch_size: int | None = None,
    capture_flush_interval: float | None = None,
    capture_compression: str | None = None,
    capture_timeout: float | None = None,
    capture_max_retries: int | None = None,
    capture_exit_timeout: float | None = None,
    record_features_in_spans: bool | None = None,
    prediction_buckets: Sequence[float] | None = None,
    max_classes: int | None = None,
    capture_allowlist: Sequence[str] | None = None,
    capture_redact: Sequence[str] | None = None,
    capture_hash: Sequence[str] | None = None,
    capture_hash_key: str | None = None,
    registry: CollectorRegistry | None = None,
    tracer_provider: TracerProvider | None = None,
    log_output: LogOutput | None = None,
) -> Settings:
    """Validate the settings, build the runtime every decorated call uses from now on, return them.

    Every argument left as None takes its ``DRIFTLINE_*`` environment variable,
    else its default. Raises ConfigurationError naming the bad key (and variable).
    The previous runtime's capture queue is flushed and closed.
    """
    from . import _runtime

    settings = resolve_settings(
        {
            "service_name": service_name,
            "sidecar_url": sidecar_url,
            "sidecar_token": sidecar_token,
            "otlp_endpoint": otlp_endpoint,
            "trace_sample_rate": trace_sample_rate,
            "log_sample_rate": log_sample_rate,
            "capture_sample_rate": capture_sample_rate,
            "capture_queue_size": capture_queue_size,
            "capture_batch_size": capture_batch_size,
            "capture_flush_interval": capture_flush_interval,
            "capture_compression": capture_compression,
            "capture_timeout": capture_timeout,
            "capture_max_retries": capture_max_retries,
            "capture_exit_timeout": capture_exit_timeout,
            "record_features_in_spans": record_features_in_spans,
            "prediction_buckets": prediction_buckets,
            "max_classes": max_classes,
            "capture_allowlist": capture_allowlist,
            "capture_redact": capture_redact,
            "capture_hash": capture_hash,
            "capture_hash_key": capture_hash_key,
            "registry": registry,
            "tracer_provider": tracer_provider,
            "log_output": log_output,
        }
    )
    previous = _runtime.install(_runtime.build(settings))
    if previous is not None:
        previous.close()
    return settings
