"""``driftline demo``: train on January flights, serve February to August, watch the drift.

Everything the demo starts (the webhook receiver, the sidecar child process, the SDK's
shipper thread) goes on one exit stack, closed on success, on error and on Ctrl-C/SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from driftline_sidecar.demo.display import Display
from driftline_sidecar.demo.session import run as run_session
from driftline_sidecar.demo.session import serve_until_interrupted

__all__ = ["EXIT_INTERRUPTED", "DemoOptions", "run_demo"]

EXIT_INTERRUPTED = 130
"""Exit code after Ctrl-C or SIGTERM, as a shell reports a SIGINT-killed command."""


@dataclass(frozen=True)
class DemoOptions:
    """The command-line choices of ``driftline demo``."""

    fast: bool = False
    alertmanager_url: str | None = None
    serve: bool = False
    report: Path | None = None


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def run_demo(options: DemoOptions, out: TextIO) -> int:
    """Run the demo, writing to ``out``; return 0, or 130 when interrupted."""
    display = Display(out)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGTERM, _interrupt)
    report: dict[str, Any] = {"interrupted": False}
    code = 0
    stack = contextlib.ExitStack()
    try:
        with tempfile.TemporaryDirectory(prefix="driftline-demo-") as workdir:
            try:
                run_session(options, display, stack, Path(workdir), report)
                if options.serve:
                    with contextlib.suppress(KeyboardInterrupt):
                        serve_until_interrupted(display, report)
            except KeyboardInterrupt:
                display.line()
                display.line("interrupted: stopping everything the demo started")
                report["interrupted"] = True
                code = EXIT_INTERRUPTED
            finally:
                # A second Ctrl-C must not cut the clean-up short.
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                started = time.monotonic()
                stack.close()
                report["cleanup_seconds"] = round(time.monotonic() - started, 3)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if options.report is not None:
        options.report.write_text(json.dumps(report, indent=2, sort_keys=True), encoding="utf-8")
    return code
