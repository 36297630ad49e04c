"""schemathesis against the sidecar's own /openapi.json, served by real uvicorn on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, GenerationMode
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    positive_data_acceptance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tests.hostile.conftest import make_app
from tests.sidecar.conftest import serving

EXAMPLES = 25
"""Generated requests per operation and mode: the whole module runs in well under a minute."""


@pytest.fixture(scope="module")
def sidecar_schema(
    tmp_path_factory: pytest.TempPathFactory, hostile_profile: Path
) -> Iterator[OpenApiSchema]:
    """The sidecar's OpenAPI document, loaded over HTTP from a running sidecar."""
    app = make_app(tmp_path_factory.mktemp("openapi-fuzz"), hostile_profile)
    with serving(app) as client:
        yield schemathesis.openapi.from_url(f"{client.base_url}/openapi.json")


def _failures(schema: OpenApiSchema, mode: GenerationMode) -> dict[str, str]:
    failures: dict[str, str] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        try:
            _fuzz(operation, mode)
        except Unsatisfiable:
            continue  # no input to break: an operation without parameters or body
        except (Exception, BaseExceptionGroup) as exc:
            failures[operation.label] = str(exc)[:2_000]
    return failures


def _fuzz(operation: APIOperation, mode: GenerationMode) -> None:
    # JSON Schema cannot say "every column as long as ids", so a schema-valid body may be a
    # 400; and batches are judged one by one, so a body with one bad batch may be a 202.
    post = operation.method.upper() == "POST"
    excluded = [positive_data_acceptance, negative_data_rejection] if post else []

    @given(operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.call_and_validate(excluded_checks=excluded)

    run()


def test_the_document_lists_the_sidecar_operations(sidecar_schema: OpenApiSchema) -> None:
    """The OpenAPI document has the records endpoint and the read endpoints."""
    labels = {result.ok().label for result in sidecar_schema.get_all_operations()}
    assert labels >= {
        "POST /v1/records",
        "GET /v1/models",
        "GET /v1/drift/{model}/{version}",
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
    }


def test_valid_requests_answer_as_documented(sidecar_schema: OpenApiSchema) -> None:
    """Requests that follow the schema never get a 5xx and every answer matches its schema."""
    assert _failures(sidecar_schema, GenerationMode.POSITIVE) == {}


def test_invalid_requests_answer_as_documented(sidecar_schema: OpenApiSchema) -> None:
    """Requests that break the schema never get a 5xx and are refused with a documented 4xx."""
    assert _failures(sidecar_schema, GenerationMode.NEGATIVE) == {}
