"""The optional C extensions, or None: one place decides, and tests can hide them here.

``_speedups``, ``_exchange`` and ``_body`` are built from ``_speedups.c``,
``_exchange.c`` and ``_body.c`` by ``setup.py`` where a C compiler was found at install time
(docs/sdk.md#speed). Callers read them when they build something (a wrapper, a
binding's plan, a metrics buffer, a transport) or, for ``_body``, per request
body, never per call, so setting one to None makes everything built or encoded
afterwards pure Python.
"""

from __future__ import annotations

from types import ModuleType

__all__ = ["body", "exchange", "speedups"]

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

body: ModuleType | None
try:
    from . import _body as body
except ImportError:  # pragma: no cover - depends on the install
    body = None
