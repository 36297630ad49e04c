"""Write the dashboards' JSON to dashboards/<uid>.json.

Run from the repository root: ``python -m dashboards.src.generate`` (or
``python dashboards/src/generate.py``). ``--check`` writes nothing and exits 1
when a committed file differs from a fresh generation.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from dashboards.src import all_dashboards, render

__all__ = ["OUTPUT_DIR", "expected_files", "main"]

OUTPUT_DIR = Path(__file__).resolve().parents[1]


def expected_files() -> dict[Path, str]:
    """Each dashboard's output path and its freshly generated JSON text."""
    return {OUTPUT_DIR / f"{board.uid}.json": render(board) for board in all_dashboards()}


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) every dashboard; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    stale = []
    for path, text in expected_files().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"stale, run python -m dashboards.src.generate: {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
