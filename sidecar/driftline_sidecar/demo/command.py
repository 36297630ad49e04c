"""The ``driftline demo`` subcommand, registered in the command line's registry on import."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from driftline_sidecar.cli import register

__all__ = ["add_demo"]


@register("demo")
def add_demo(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``driftline demo`` to the command line."""
    parser = subparsers.add_parser(
        "demo",
        help="train a model on real flights and watch its drift, end to end",
        description=(
            "Train a model on January 2013 flights from New York, start a sidecar, replay "
            "February to August through a monitored function and show the drift and the "
            "alerts. Needs the demo extra: pip install 'driftline[demo]'."
        ),
    )
    parser.add_argument(
        "--fast", action="store_true", help="replay one flight in five (a shorter run, for CI)"
    )
    parser.add_argument(
        "--alertmanager-url",
        metavar="URL",
        help="also send the alerts to this Alertmanager (e.g. http://127.0.0.1:9093)",
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="keep the sidecar running after the replay, until Ctrl-C",
    )
    parser.add_argument(
        "--report", metavar="FILE", type=Path, help="write a JSON summary of the run to FILE"
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from driftline_sidecar.demo.data import DemoDataError
    from driftline_sidecar.demo.run import DemoOptions, run_demo
    from driftline_sidecar.demo.sidecar import SidecarError

    options = DemoOptions(
        fast=args.fast, alertmanager_url=args.alertmanager_url, serve=args.serve, report=args.report
    )
    try:
        return run_demo(options, sys.stdout)
    except (DemoDataError, SidecarError) as exc:
        print(f"driftline demo: {exc}", file=sys.stderr)
        return 1
