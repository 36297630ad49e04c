"""Reading the sidecar's JSON API from the demo: the latest drift evaluation of the model."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from driftline_sidecar.demo.display import DriftRow

__all__ = ["Evaluation", "drift_url", "fetch_evaluation", "parse_evaluation"]


@dataclass(frozen=True)
class Evaluation:
    """The parts of ``GET /v1/drift/{model}/{version}`` the demo shows."""

    window: int
    evaluated_at: float
    rows: tuple[DriftRow, ...]

    @property
    def drifted_features(self) -> tuple[str, ...]:
        """Names of the input features flagged as drifted."""
        return tuple(r.name for r in self.rows if r.drifted and r.kind == "feature")

    @property
    def drifted_predictions(self) -> tuple[str, ...]:
        """Names of the model outputs flagged as drifted."""
        return tuple(r.name for r in self.rows if r.drifted and r.kind == "prediction")


def drift_url(base_url: str, model: str, version: str) -> str:
    """Return the URL of the latest evaluation of ``model`` ``version``."""
    quote = urllib.parse.quote
    return f"{base_url}/v1/drift/{quote(model, safe='')}/{quote(version, safe='')}"


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _row(column: Mapping[str, Any]) -> DriftRow:
    methods = (column.get("test"), column.get("effect_method"))
    return DriftRow(
        name=str(column.get("name", "?")),
        kind=str(column.get("role", "feature")),
        method="/".join(str(m) for m in methods if m),
        effect_size=_float(column.get("effect_size")),
        p_value=_float(column.get("p_value")),
        drifted=column.get("drifted") is True,
        severity=str(column.get("severity", "none")),
    )


def parse_evaluation(document: Mapping[str, Any]) -> Evaluation:
    """Return the evaluation in ``document``, as the sidecar's drift endpoint answers it."""
    columns = document.get("columns", [])
    return Evaluation(
        window=int(document.get("n_window", 0)),
        evaluated_at=float(document.get("evaluated_at", 0.0)),
        rows=tuple(_row(c) for c in columns if isinstance(c, Mapping)),
    )


def fetch_evaluation(base_url: str, model: str, version: str) -> Evaluation | None:
    """Return the latest evaluation, or None while the sidecar has not evaluated one yet (404)."""
    try:
        with urllib.request.urlopen(drift_url(base_url, model, version), timeout=5.0) as response:
            document = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise
    return parse_evaluation(document)
