"""Write reference.csv: the training-time distribution of the example churn model.

Run from the repository root: ``python examples/fastapi_service/make_reference.py``.
The data is synthetic (fixed seed), with the model's own prediction in column ``value``.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model import PLANS, churn_probability

ROWS = 2000
OUTPUT = Path(__file__).resolve().parent / "reference.csv"


def customers(
    rng: np.random.Generator, n: int, *, shifted: bool = False
) -> list[dict[str, object]]:
    """``n`` synthetic customers; ``shifted`` draws newer, bigger-spending ones (drift)."""
    tenure = rng.gamma(2.0, 6.0 if not shifted else 2.0, n)
    spend = rng.normal(45.0 if not shifted else 80.0, 12.0, n).clip(0.0)
    plans = rng.choice(PLANS, size=n, p=(0.5, 0.35, 0.15) if not shifted else (0.2, 0.3, 0.5))
    return [
        {"tenure_months": round(float(t), 2), "monthly_spend": round(float(s), 2), "plan": str(p)}
        for t, s, p in zip(tenure, spend, plans, strict=True)
    ]


def main() -> None:
    """Write OUTPUT from a fixed seed."""
    rows = customers(np.random.default_rng(20240501), ROWS)
    with OUTPUT.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, ["tenure_months", "monthly_spend", "plan", "value"])
        writer.writeheader()
        for row in rows:
            value = churn_probability(row["tenure_months"], row["monthly_spend"], row["plan"])  # type: ignore[arg-type]
            writer.writerow({**row, "value": round(value, 6)})


if __name__ == "__main__":
    main()
