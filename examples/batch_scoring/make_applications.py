"""Write applications.csv: this month's applicants, drawn with a fixed seed.

Compared with the training set (../reference_from_training/training.csv) the applicants
use more of their credit (utilisation shifts up); income, age and region do not change.

    python make_applications.py
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from model import REGIONS

ROWS = 1_000
SEED = 2024


def main() -> None:
    """Write applications.csv next to this script."""
    rng = np.random.default_rng(SEED)
    income = rng.lognormal(mean=3.8, sigma=0.4, size=ROWS)
    age = rng.integers(21, 75, size=ROWS)
    utilisation = rng.beta(5.0, 3.0, size=ROWS)
    region = rng.choice(REGIONS, size=ROWS, p=[0.3, 0.3, 0.2, 0.2])
    with (Path(__file__).parent / "applications.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["applicant_id", "income_k", "age", "utilisation", "region"])
        for i in range(ROWS):
            writer.writerow(
                [f"A{i:05d}", f"{income[i]:.2f}", int(age[i]), f"{utilisation[i]:.4f}", region[i]]
            )


if __name__ == "__main__":
    main()
