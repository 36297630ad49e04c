"""The optional C extension, or None: one place decides, and tests can hide it here.

``_speedups`` is built from ``_speedups.c`` by ``setup.py`` where a C compiler
was found at install time (docs/sdk.md#speed). Callers read ``speedups`` when
they build something (a wrapper, a binding's plan, a metrics buffer), never per
call, so setting it to None makes everything built afterwards pure Python.
"""

from __future__ import annotations

from types import ModuleType

__all__ = ["speedups"]

speedups: ModuleType | None
try:
    from . import _speedups as speedups
except ImportError:  # pragma: no cover - depends on the install
    speedups = None
