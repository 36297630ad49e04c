"""The optional C extensions, or None: one place decides, and tests can hide them here.

``_speedups`` and ``_exchange`` are built from ``_speedups.c`` and
``_exchange.c`` by ``setup.py`` where a C compiler was found at install time
(docs/sdk.md#speed). Callers read them when they build something (a wrapper, a
binding's plan, a metrics buffer, a transport), never per call, so setting one
to None makes everything built afterwards pure Python.
"""

from __future__ import annotations

from types import ModuleType

__all__ = ["exchange", "speedups"]

speedups: ModuleType | None
try:
    from . import _speedups as speedups
except ImportError:  # pragma: no cover - depends on the install
    speedups = None

exchange: ModuleType | None
try:
    from . import _exchange as exchange
except ImportError:  # pragma: no cover - depends on the install
    exchange = None
