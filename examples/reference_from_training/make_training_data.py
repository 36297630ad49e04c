"""Write training.csv: the applicants the credit model was trained on, with its scores.

Drawn with a fixed seed; the ``default_probability`` column is the model's output on
each row (the same formula as ../batch_scoring/model.py), so the reference profile
holds the distribution of the predictions as well as of the features.

    python make_training_data.py
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

ROWS = 2_000
SEED = 2023
REGIONS = ("north", "south", "east", "west")
_REGION_WEIGHT = {"north": -0.2, "south": 0.3, "east": 0.0, "west": 0.1}


def main() -> None:
    """Write training.csv next to this script."""
    rng = np.random.default_rng(SEED)
    income = np.round(rng.lognormal(mean=3.8, sigma=0.4, size=ROWS), 2)
    age = rng.integers(21, 75, size=ROWS)
    utilisation = np.round(rng.beta(2.0, 5.0, size=ROWS), 4)
    region = rng.choice(REGIONS, size=ROWS, p=[0.3, 0.3, 0.2, 0.2])
    weights = np.array([_REGION_WEIGHT[r] for r in region])
    score = -1.0 - 0.02 * income - 0.01 * age + 3.0 * utilisation + weights
    probability = 1.0 / (1.0 + np.exp(-score))
    with (Path(__file__).parent / "training.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["income_k", "age", "utilisation", "region", "default_probability"])
        for i in range(ROWS):
            writer.writerow(
                [
                    f"{income[i]:.2f}",
                    int(age[i]),
                    f"{utilisation[i]:.4f}",
                    region[i],
                    f"{probability[i]:.6f}",
                ]
            )


if __name__ == "__main__":
    main()
