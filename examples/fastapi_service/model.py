"""A toy churn model: a fixed logistic function of three customer features."""

from __future__ import annotations

import math

__all__ = ["PLANS", "churn_probability"]

PLANS = ("basic", "pro", "enterprise")
_PLAN_WEIGHT = {"basic": 0.6, "pro": 0.0, "enterprise": -0.8}


def churn_probability(tenure_months: float, monthly_spend: float, plan: str) -> float:
    """The probability that the customer leaves next month, between 0 and 1."""
    score = 1.2 - 0.08 * tenure_months + 0.01 * monthly_spend + _PLAN_WEIGHT.get(plan, 0.0)
    return 1.0 / (1.0 + math.exp(-score))
