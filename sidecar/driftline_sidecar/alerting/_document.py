"""Read an evaluation back from its JSON document (``Evaluation.to_dict()``, ``GET /v1/drift``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["DocumentColumn", "DocumentEvaluation", "evaluation_from_document"]


@dataclass(frozen=True)
class DocumentColumn:
    """One column of an evaluation document, with the fields alerting reads."""

    name: str
    role: str
    test: str
    statistic: float | None
    p_value: float | None
    p_adjusted: float | None
    effect_method: str
    effect_size: float | None
    drifted: bool
    severity: str
    n_window: int
    n_reference: int
    quality: Mapping[str, float]


@dataclass(frozen=True)
class DocumentEvaluation:
    """An evaluation document's columns, shaped like the drift engine's Evaluation."""

    columns: tuple[DocumentColumn, ...]


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _ratio(value: Any) -> float:
    # The document writes non-finite numbers as null; a null ratio cannot be above a threshold.
    return math.nan if value is None else float(value)


def evaluation_from_document(document: Mapping[str, Any]) -> DocumentEvaluation:
    """Return the columns of an ``Evaluation.to_dict()`` document for ``Alerter.observe``.

    Raises KeyError or ValueError when a column lacks a field or holds a wrong type.
    """
    columns = []
    for entry in document["columns"]:
        columns.append(
            DocumentColumn(
                name=str(entry["name"]),
                role=str(entry["role"]),
                test=str(entry.get("test") or ""),
                statistic=_number(entry.get("statistic")),
                p_value=_number(entry.get("p_value")),
                p_adjusted=_number(entry.get("p_adjusted")),
                effect_method=str(entry.get("effect_method") or ""),
                effect_size=_number(entry.get("effect_size")),
                drifted=bool(entry["drifted"]),
                severity=str(entry.get("severity") or "none"),
                n_window=int(entry.get("n_window") or 0),
                n_reference=int(entry.get("n_reference") or 0),
                quality={k: _ratio(v) for k, v in (entry.get("quality") or {}).items()},
            )
        )
    return DocumentEvaluation(tuple(columns))
