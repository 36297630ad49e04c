"""The public surface: a sorted __all__ of exactly these names, and a light import."""

from __future__ import annotations

import subprocess
import sys

import driftline

EXPECTED = {
    "ConfigurationError",
    "DriftlineError",
    "MetricsServer",
    "Settings",
    "Shadow",
    "configure",
    "current_prediction_id",
    "current_prediction_ids",
    "flush",
    "last_prediction_id",
    "last_prediction_ids",
    "make_asgi_app",
    "make_wsgi_app",
    "monitor",
    "record_outcome",
    "shutdown",
    "start_metrics_server",
}


def test_all_is_sorted() -> None:
    """__all__ is in sorted order."""
    assert driftline.__all__ == sorted(driftline.__all__)


def test_all_is_the_public_set() -> None:
    """__all__ is exactly the documented public names."""
    assert set(driftline.__all__) == EXPECTED


def test_every_public_name_exists() -> None:
    """Every name in __all__ is importable from driftline."""
    assert all(hasattr(driftline, name) for name in driftline.__all__)


def test_import_is_light() -> None:
    """Importing driftline (and decorating) imports no scipy, web server or pandas."""
    code = (
        "import sys, driftline\n"
        "@driftline.monitor(model='m', version='1')\n"
        "def f(x): return 0.5\n"
        "f({'a': 1.0})\n"
        "print(sorted(m for m in ('scipy', 'fastapi', 'uvicorn', 'pandas', 'starlette')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
