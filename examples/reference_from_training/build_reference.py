"""Build the credit model's reference profile from its training set, in Python.

The same profile as the command line gives::

    driftline reference build training.csv --model credit-default --version 1.0.0 \
        --categorical region --prediction-column default_probability -o reference.npz

Run: ``python build_reference.py [--training training.csv] [--output reference.npz]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from driftline_sidecar.profile import build_profile, save_profile

HERE = Path(__file__).parent


def main() -> None:
    """Read the training set, profile each column and save the profile."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--training", type=Path, default=HERE / "training.csv")
    parser.add_argument("--output", type=Path, default=HERE / "reference.npz")
    args = parser.parse_args()

    training = pd.read_csv(args.training)
    profile = build_profile(
        training,
        model="credit-default",
        version="1.0.0",
        categorical=["region"],
        prediction_columns=["default_probability"],
    )
    save_profile(profile, args.output)
    print(f"wrote {args.output}: {len(profile.columns)} columns, profile_id {profile.profile_id}")


if __name__ == "__main__":
    main()
