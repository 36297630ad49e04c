"""``python -m driftline_sidecar.demo [--fast ...]``: the same as ``driftline demo``."""

from __future__ import annotations

import sys

import driftline_sidecar.demo.command  # noqa: F401  (registers the subcommand)
from driftline_sidecar.cli import main

if __name__ == "__main__":
    sys.exit(main(["demo", *sys.argv[1:]]))
