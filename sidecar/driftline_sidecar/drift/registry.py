"""Every drift method by name; lookups that fail list the valid names."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from . import chi2, jensen_shannon, ks, psi, wasserstein
from ._types import Kind, Method, Purpose

__all__ = ["METHODS", "UnknownMethodError", "get_method", "method_names"]

METHODS: Mapping[str, Method[Any]] = MappingProxyType(
    {
        m.name: m
        for m in (ks.METHOD, wasserstein.METHOD, psi.METHOD, chi2.METHOD, jensen_shannon.METHOD)
    }
)


class UnknownMethodError(ValueError):
    """A method name that is not registered, or not usable for that kind of column or purpose."""


def method_names(kind: Kind | None = None, purpose: Purpose | None = None) -> tuple[str, ...]:
    """Return the sorted names of the methods for ``kind`` and ``purpose`` (all when None)."""
    return tuple(
        sorted(
            name
            for name, m in METHODS.items()
            if (kind is None or kind in m.kinds) and (purpose is None or m.purpose == purpose)
        )
    )


def get_method(name: str, kind: Kind | None = None, purpose: Purpose | None = None) -> Method[Any]:
    """Return the method called ``name``; raise `UnknownMethodError` listing the valid names."""
    valid = method_names(kind, purpose)
    if name in valid:
        return METHODS[name]
    wanted = " ".join(w for w in (kind, purpose and f"{purpose}") if w) or "drift"
    label = f"{wanted} method" if kind or purpose else "drift method"
    raise UnknownMethodError(f"unknown {label} {name!r}; valid: {', '.join(valid)}")
