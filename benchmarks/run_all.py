"""Run every benchmark, then copy their result tables into benchmarks/README.md.

Usage: ``python benchmarks/run_all.py [--quick] [NAME ...]`` (``make bench``).

Each ``benchmarks/<name>.py`` (files starting with ``_`` and this script
excepted) runs as its own subprocess, with ``--quick`` when asked for or when
DRIFTLINE_BENCH_QUICK=1. A failing benchmark is reported and the others still
run; the exit code is 1 if any failed. Afterwards every ``results/*.md`` is
placed, in name order, between the README's results markers.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
START = "<!-- results:start -->"
END = "<!-- results:end -->"


def discover(benchmarks_dir: Path, names: Sequence[str] = ()) -> list[Path]:
    """The benchmark scripts in ``benchmarks_dir``, by name, optionally only ``names``."""
    scripts = sorted(
        path
        for path in benchmarks_dir.glob("*.py")
        if not path.name.startswith("_") and path.name != Path(__file__).name
    )
    if names:
        wanted = {name.removesuffix(".py") for name in names}
        unknown = wanted - {path.stem for path in scripts}
        if unknown:
            valid = ", ".join(path.stem for path in scripts) or "none"
            raise SystemExit(f"unknown benchmark(s) {sorted(unknown)}; valid: {valid}")
        scripts = [path for path in scripts if path.stem in wanted]
    return scripts


def run(script: Path, quick: bool) -> bool:
    """Run one benchmark script in a subprocess; return whether it exited 0."""
    argv = [sys.executable, str(script), *(["--quick"] if quick else [])]
    print(f"== {script.stem}{' (quick)' if quick else ''}", flush=True)
    start = time.perf_counter()
    code = subprocess.run(argv, cwd=script.parent.parent, check=False).returncode
    status = "ok" if code == 0 else f"FAILED (exit code {code})"
    print(f"== {script.stem}: {status} in {time.perf_counter() - start:.1f}s", flush=True)
    return code == 0


def splice_results(readme: Path, results_dir: Path) -> None:
    """Replace the text between the README's results markers with every results/*.md file."""
    text = readme.read_text(encoding="utf-8")
    head, start, rest = text.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise SystemExit(f"{readme} needs the markers {START} and {END}, in that order")
    sections = [
        path.read_text(encoding="utf-8").strip() for path in sorted(results_dir.glob("*.md"))
    ]
    body = "\n\n".join(sections) if sections else "_No results yet: run `make bench`._"
    readme.write_text(f"{head}{START}\n{body}\n{END}{tail}", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks and update the README; return the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, for a smoke test")
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get("DRIFTLINE_BENCH_QUICK") == "1"
    scripts = discover(HERE, args.names)
    if not scripts:
        print("no benchmarks found", flush=True)
    failed = [script.stem for script in scripts if not run(script, quick)]
    splice_results(HERE / "README.md", HERE / "results")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
