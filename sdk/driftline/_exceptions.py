"""Every exception driftline raises, in one place.

    DriftlineError
     └── ConfigurationError   (also a ValueError)

Only configuration and decoration raise: nothing on the hot path of a
decorated call ever raises because of telemetry.
"""

from __future__ import annotations

__all__ = ["ConfigurationError", "DriftlineError"]


class DriftlineError(Exception):
    """The base class of every exception driftline raises."""


class ConfigurationError(DriftlineError, ValueError):
    """A configuration value is invalid; the message names the key and its variable."""

    def __init__(self, key: str, reason: str, env_var: str | None = None) -> None:
        self.key = key
        self.env_var = env_var
        self.reason = reason
        where = f"{key} ({env_var})" if env_var else key
        super().__init__(f"{where}: {reason}")
