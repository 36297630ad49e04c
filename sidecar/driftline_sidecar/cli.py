"""The ``driftline`` command line: ``driftline sidecar`` and ``driftline reference build``.

Subcommands register themselves in `COMMANDS` (name -> function adding a subparser),
so later commands (``driftline demo``) plug in without touching `main`. Heavy modules
(scipy, FastAPI, uvicorn, pandas) are imported inside the subcommand that needs them,
so ``driftline --help`` stays fast and importing this module needs none of them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

__all__ = ["COMMANDS", "EXIT_USAGE", "PLUGINS", "build_parser", "main", "register"]

EXIT_USAGE = 2
"""Exit code for a bad configuration or command line (as argparse uses)."""

Handler = Callable[[argparse.Namespace], int]
Registrar = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]
COMMANDS: dict[str, Registrar] = {}
PLUGINS = ("driftline_sidecar.demo.command",)
"""Modules that register subcommands when imported; each must import nothing heavy at the top."""


def register(name: str) -> Callable[[Registrar], Registrar]:
    """Register a function that adds the ``name`` subcommand to the parser."""

    def decorate(function: Registrar) -> Registrar:
        COMMANDS[name] = function
        return function

    return decorate


def build_parser() -> argparse.ArgumentParser:
    """Return the parser with every registered subcommand (the `PLUGINS` imported first)."""
    for module in PLUGINS:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # a plugin that exists but fails to import is a real error
                raise
    parser = argparse.ArgumentParser(
        prog="driftline", description="driftline: model observability and drift detection."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in sorted(COMMANDS):
        COMMANDS[name](subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 success, 2 bad configuration or usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


@register("sidecar")
def _add_sidecar(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sidecar",
        help="run the sidecar service",
        description="Receive captured predictions, evaluate drift, serve /metrics and a JSON API.",
    )
    parser.add_argument("--config", metavar="FILE", help="YAML configuration (docs/sidecar.md)")
    parser.add_argument("--host", help="address to bind (overrides host; default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to bind (overrides port; default 8765)")
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn log level (default info)",
    )
    parser.set_defaults(handler=_run_sidecar)


def _run_sidecar(args: argparse.Namespace) -> int:
    import dataclasses
    import logging

    from driftline_sidecar.config import ConfigError, load_config

    try:
        config = load_config(args.config)
        if args.host is not None:
            config = dataclasses.replace(config, host=args.host)
        if args.port is not None:
            if not 0 <= args.port <= 65535:
                raise ConfigError("--port", "command line", f"must be 0 to 65535, got {args.port}")
            config = dataclasses.replace(config, port=args.port)
        import uvicorn

        from driftline_sidecar.app import create_app

        app = create_app(config)
    except ConfigError as exc:
        print(f"driftline sidecar: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        log_level=args.log_level,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    return 0


@register("reference")
def _add_reference(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("reference", help="build reference profiles")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    build = actions.add_parser(
        "build",
        help="build a reference profile from a CSV or Parquet file",
        description="Profile every column of DATA and save the profile (.npz) to -o.",
    )
    build.add_argument("data", metavar="DATA", help="CSV or Parquet file of reference data")
    build.add_argument("--model", required=True, help="model name")
    build.add_argument("--version", required=True, help="model version")
    build.add_argument(
        "-o", "--output", required=True, metavar="PROFILE", help="profile file to write"
    )
    build.add_argument(
        "--categorical", default="", metavar="A,B", help="columns to treat as categories"
    )
    build.add_argument("--exclude", default="", metavar="C,D", help="columns to leave out")
    build.add_argument(
        "--prediction-column",
        action="append",
        default=[],
        metavar="P",
        help="a column holding model output (repeatable, or comma-separated)",
    )
    build.add_argument(
        "--sample-size",
        type=int,
        default=50_000,
        metavar="N",
        help="values kept per numeric column (default 50000)",
    )
    build.add_argument(
        "--label-column",
        metavar="L",
        help="a column of true outcomes: store the model's performance on this data",
    )
    build.add_argument(
        "--performance-column",
        metavar="P",
        help="the prediction column scored against --label-column (default: the only one)",
    )
    build.add_argument(
        "--task",
        choices=["classification", "regression"],
        help="how to score it (default: inferred from the labels)",
    )
    build.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        metavar="T",
        help="classification: a score at or above T predicts the positive class (default 0.5)",
    )
    build.set_defaults(handler=_build_reference)


def _build_reference(args: argparse.Namespace) -> int:
    from driftline_sidecar.profile import ProfileError, build_profile, read_table, save_profile

    predictions = [name for value in args.prediction_column for name in _names(value)]
    try:
        data = read_table(args.data)
        profile = build_profile(
            data,
            model=args.model,
            version=args.version,
            categorical=_names(args.categorical),
            exclude=_names(args.exclude),
            prediction_columns=predictions,
            sample_size=args.sample_size,
            label_column=args.label_column,
            performance_column=args.performance_column,
            task=args.task,
            threshold=args.threshold,
        )
        save_profile(profile, args.output)
    except ProfileError as exc:
        print(f"driftline reference build: {exc}", file=sys.stderr)
        return EXIT_USAGE
    columns = len(profile.columns)
    print(f"wrote {args.output}: {columns} columns, profile_id {profile.profile_id}")
    if profile.performance is not None:
        scores = ", ".join(f"{k} {v:.4g}" for k, v in profile.performance.items())
        print(f"reference performance: {scores}")
    return 0


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]
