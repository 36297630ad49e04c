"""No endpoint reflects input as markup: echoed names are JSON, escaped and cut short."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.hostile.conftest import JSON, batch

SCRIPT = "<script>alert(1)</script>"


def _post(http: httpx.Client, *batches: dict[str, Any]) -> httpx.Response:
    body = json.dumps({"v": 1, "batches": list(batches)}).encode()
    return http.post("/v1/records", content=body, headers=JSON)


def _is_escaped_json(response: httpx.Response) -> bool:
    return response.headers["content-type"] == "application/json" and b"<" not in response.content


def test_a_script_column_name_in_an_error_is_escaped_json(http: httpx.Client) -> None:
    """An error naming a <script> column is application/json with no raw angle bracket."""
    response = _post(http, batch(features={SCRIPT: [{"x": 1}]}))
    assert (response.status_code, _is_escaped_json(response)) == (400, True)
    assert response.json()["error"]["field"] == f"batches[0].features.{SCRIPT}[0]"


def test_a_long_script_name_is_cut_to_64_characters(http: httpx.Client) -> None:
    """A 10,000-character hostile name is shown as its first 64 characters and an ellipsis."""
    name = SCRIPT * 500
    response = _post(http, batch(features={name: [{"x": 1}]}))
    assert (response.status_code, _is_escaped_json(response)) == (422, True)
    assert response.json()["error"]["field"] == f"batches[0].features.{name[:64]}..."


def test_a_script_model_name_is_listed_as_escaped_json(http: httpx.Client) -> None:
    """A model version named <script> is listed by /v1/models escaped, and decodes unchanged."""
    assert _post(http, batch(model=SCRIPT, version=SCRIPT)).status_code == 202
    response = http.get("/v1/models")
    assert _is_escaped_json(response)
    assert {(m["model"], m["version"]) for m in response.json()["models"]} >= {(SCRIPT, SCRIPT)}


@pytest.mark.parametrize(
    "path",
    [f"/v1/drift/{SCRIPT}/1", f"/v1/drift/churn/{SCRIPT}", f"/{SCRIPT}", f"/v1/compare/{SCRIPT}"],
)
def test_a_script_in_the_path_is_answered_as_escaped_json(http: httpx.Client, path: str) -> None:
    """A 404 for a path holding <script> is JSON and does not echo the markup."""
    response = http.get(path)
    assert (response.status_code, _is_escaped_json(response)) == (404, True)


def test_a_script_content_type_is_refused_without_echo(http: httpx.Client) -> None:
    """A hostile Content-Type is refused with 415 and is not echoed."""
    response = http.post("/v1/records", content=b"{}", headers={"Content-Type": SCRIPT})
    assert (response.status_code, _is_escaped_json(response)) == (415, True)


def test_no_answer_is_html(http: httpx.Client) -> None:
    """Not one endpoint answers text/html, not even for an unknown path or method."""
    answers = [
        http.get("/"),
        http.get("/docs"),
        http.get("/redoc"),
        http.put("/v1/records", content=SCRIPT),
        http.get(f"/metrics?{SCRIPT}"),
    ]
    assert [a for a in answers if "html" in a.headers.get("content-type", "")] == []
