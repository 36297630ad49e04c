"""What of a captured record may leave the process: an allowlist, redaction and keyed hashing.

The decorator wraps a call's features in a read-only view (`CapturePolicy.record` and
`CapturePolicy.columns`), which costs one small object on the caller's thread. The view
applies the policy when it is first read: on the shipper thread for capture (hashing never
runs on the hot path), on the caller's thread only for span attributes. A field that is not
allowed is absent for every reader; a redacted or hashed field never shows its value.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import numbers
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["HASH_HEX_DIGITS", "REDACTED", "CapturePolicy"]

REDACTED = "[REDACTED]"
"""What a redacted value (or a hashed field's value that is not a scalar) is replaced with."""

HASH_HEX_DIGITS = 16
"""Hex digits kept of each HMAC-SHA256 (64 bits): distinct values stay distinct in practice."""


@dataclass(frozen=True)
class CapturePolicy:
    """Which feature names leave the process, which are redacted and which are hashed."""

    allowlist: frozenset[str] | None = None
    """Only these features are captured; None captures every feature."""
    redact: frozenset[str] = frozenset()
    hash: frozenset[str] = frozenset()
    key: bytes = field(default=b"", repr=False)
    """The HMAC key; never in ``repr()``."""

    @classmethod
    def build(
        cls,
        allowlist: tuple[str, ...] | None,
        redact: tuple[str, ...],
        hash_names: tuple[str, ...],
        key: str | None,
    ) -> CapturePolicy | None:
        """Return the policy of these settings, or None when there is nothing to apply."""
        if allowlist is None and not redact and not hash_names:
            return None
        return cls(
            allowlist=None if allowlist is None else frozenset(allowlist),
            redact=frozenset(redact),
            hash=frozenset(hash_names),
            key=(key or "").encode("utf-8"),
        )

    def allows(self, name: str) -> bool:
        """Whether a feature of this name leaves the process at all."""
        return self.allowlist is None or name in self.allowlist

    def value(self, name: str, value: object) -> object:
        """Return what may be sent of one feature value: itself, REDACTED or its hash."""
        if name in self.redact:
            return REDACTED
        if name in self.hash:
            return self.digest(value)
        return value

    def column(self, name: str, values: Any) -> Any:
        """Return what may be sent of one feature column of a batch call."""
        if name in self.redact:
            return [REDACTED] * len(values)
        if name in self.hash:
            items = values.tolist() if isinstance(values, np.ndarray) else values
            return [self.digest(item) for item in items]
        return values

    def digest(self, value: object) -> object:
        """Return the first 16 hex digits of the value's HMAC-SHA256; None and NaN stay None.

        Strings, numbers and booleans are hashed (a number as its category label, so 3
        and 3.0 hash alike); any other value becomes REDACTED.
        """
        text = _canonical(value)
        if text is None:
            return None
        if text is _UNHASHABLE:
            return REDACTED
        return hmac.digest(self.key, text.encode("utf-8"), hashlib.sha256).hex()[:HASH_HEX_DIGITS]

    def record(self, features: Mapping[str, object]) -> Mapping[str, object]:
        """Return a lazy view of one record's features under this policy."""
        return _PolicyView(features, self.allows, self.value)

    def columns(self, features: Mapping[str, Any]) -> Mapping[str, Any]:
        """Return a lazy view of a batch call's feature columns under this policy."""
        return _PolicyView(features, self.allows, self.column)


class _PolicyView(Mapping[str, Any]):
    """A read-only mapping that applies a policy to another mapping the first time it is read."""

    __slots__ = ("_allows", "_apply", "_resolved", "_source")

    def __init__(
        self,
        source: Mapping[str, Any],
        allows: Callable[[str], bool],
        apply: Callable[[str, Any], Any],
    ) -> None:
        self._source = source
        self._allows = allows
        self._apply = apply
        self._resolved: dict[str, Any] | None = None

    def _values(self) -> dict[str, Any]:
        resolved = self._resolved
        if resolved is None:
            # Two threads may both resolve: the results are equal, and either is kept.
            allows, apply = self._allows, self._apply
            resolved = {
                key: apply(key, value)
                for key, value in ((str(k), v) for k, v in self._source.items())
                if allows(key)
            }
            self._resolved = resolved
        return resolved

    def __getitem__(self, name: str) -> Any:
        return self._values()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values())

    def __len__(self) -> int:
        return len(self._values())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._values()!r})"


_UNHASHABLE = "\x00unhashable"


def _canonical(value: object) -> str | None:
    """The text a value is hashed as (numbers as their category label), None when missing."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number):
            return None
        return str(int(number)) if number.is_integer() else repr(number)
    return _UNHASHABLE
