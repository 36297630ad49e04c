"""``python -m driftline_sidecar``: the same command line as ``driftline``."""

from __future__ import annotations

import sys

from driftline_sidecar.cli import main

if __name__ == "__main__":
    sys.exit(main())
