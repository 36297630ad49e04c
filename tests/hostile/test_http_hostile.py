"""Hostile bodies over real HTTP: each gets its documented 4xx, never a 5xx; labels stay bounded."""

from __future__ import annotations

import gzip
import json
import re
import tracemalloc
from typing import Any

import httpx
import pytest
from driftline_sidecar.config import Limits
from driftline_sidecar.ingest import IngestError, decode
from fastapi import FastAPI

from tests.hostile.conftest import JSON, batch
from tests.sidecar.conftest import service_of


def _post(http: httpx.Client, content: bytes, **headers: str) -> httpx.Response:
    return http.post("/v1/records", content=content, headers={**JSON, **headers})


def _body(*batches: dict[str, Any]) -> bytes:
    return json.dumps({"v": 1, "batches": list(batches)}).encode()


def _error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["field"]


_HOSTILE: list[tuple[str, bytes, dict[str, str], int, str]] = [
    ("deep arrays", b"[" * 50_000 + b"]" * 50_000, {}, 400, "body"),
    ("deep objects", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, {}, 400, "body"),
    (
        "deep column value",
        _body(batch(features={"tenure": [0]})).replace(b"[0]", b"[" * 5_001 + b"]" * 5_001),
        {},
        400,
        "body",
    ),
    ("not UTF-8", b'{"v": 1, "batches": [{"model": "\xff\xfe"}]}', {}, 400, "body"),
    ("UTF-16", '{"v": 1, "batches": []}'.encode("utf-16"), {}, 400, "body"),
    ("bare NaN", b'{"v": NaN, "batches": []}', {}, 400, "body"),
    ("1e400 as v", b'{"v": 1e400, "batches": []}', {}, 400, "v"),
    ("huge integer v", b'{"v": ' + b"9" * 4_000 + b', "batches": []}', {}, 400, "v"),
    (
        "1e400 timestamp",
        _body(batch(timestamps=[0])).replace(b"[0]", b"[1e400]"),
        {},
        400,
        "batches[0].timestamps[0]",
    ),
    (
        "string timestamp",
        _body(batch(timestamps=["1800000000"])),
        {},
        400,
        "batches[0].timestamps[0]",
    ),
    ("huge array of batches", _body(*[{}] * 100_000), {}, 422, "batches"),
    ("huge array of records", _body(batch(ids=["x"] * 200_000)), {}, 422, "batches"),
    (
        "many columns",
        _body(batch(features={f"f{i}": [1.0] for i in range(5_000)})),
        {},
        422,
        "batches[0].features",
    ),
    (
        "long column name",
        _body(batch(features={"n" * 10_000: [1.0]})),
        {},
        422,
        f"batches[0].features.{'n' * 64}...",
    ),
    ("long model name", _body(batch(model="m" * 10_000)), {}, 422, "batches[0].model"),
    (
        "object in a column",
        _body(batch(features={"tenure": [{"a": 1}]})),
        {},
        400,
        "batches[0].features.tenure[0]",
    ),
    ("gzip bomb", gzip.compress(b" " * 50_000_000), {"Content-Encoding": "gzip"}, 413, "body"),
    ("broken gzip", b"\x1f\x8b\x08\x00garbage", {"Content-Encoding": "gzip"}, 400, "body"),
    ("over max_body_bytes", b" " * 2_000_001, {}, 413, "body"),
    ("brotli", b"{}", {"Content-Encoding": "br"}, 415, "Content-Encoding"),
]


@pytest.mark.parametrize(
    ("content", "headers", "status", "field"),
    [pytest.param(*case[1:], id=case[0]) for case in _HOSTILE],
)
def test_hostile_body_gets_its_documented_client_error(
    http: httpx.Client, content: bytes, headers: dict[str, str], status: int, field: str
) -> None:
    """Each kind of hostile body is answered with its documented status and field, as JSON."""
    response = _post(http, content, **headers)
    assert _error(response) == (status, field)
    assert response.headers["content-type"] == "application/json"


def test_sidecar_still_serves_after_hostile_bodies(http: httpx.Client) -> None:
    """After every hostile body the process still answers health checks and takes valid records."""
    for _, content, headers, _, _ in _HOSTILE:
        _post(http, content, **headers)
    assert http.get("/healthz").status_code == 200
    assert _post(http, _body(batch())).status_code == 202


def test_a_number_beyond_float_range_in_a_feature_is_accepted_as_infinity(
    hostile_app: FastAPI, http: httpx.Client
) -> None:
    """1e400 in a numeric feature is kept as infinity (counted as non-finite), not refused."""
    response = _post(http, _body(batch(n=1)).replace(b'"tenure": [12.0]', b'"tenure": [1e400]'))
    assert response.status_code == 202
    assert response.json()["accepted"] == 1


def test_too_many_columns_names_the_limit(http: httpx.Client) -> None:
    """A 422 for too many columns says what the limit is."""
    response = _post(http, _body(batch(features={f"f{i}": [1.0] for i in range(100)})))
    assert response.json()["error"]["reason"] == (
        "101 columns (features and predictions), the limit is 16"
    )


def test_new_versions_beyond_the_cap_name_the_limit(http: httpx.Client) -> None:
    """A model version beyond max_model_versions is refused with 422 naming the limit."""
    for i in range(2):
        assert _post(http, _body(batch(version=f"v{i}"))).status_code == 202
    response = _post(http, _body(batch(version="one-too-many")))
    assert _error(response) == (422, "batches[0].version")
    assert "3" in response.json()["error"]["reason"]


def _label_sets(metrics_text: str) -> set[str]:
    return {line.split(" ")[0] for line in metrics_text.splitlines() if not line.startswith("#")}


def test_metric_label_sets_stay_bounded_under_millions_of_names(
    hostile_app: FastAPI, http: httpx.Client
) -> None:
    """Thousands of model versions, feature names and categories add no label set past the caps."""
    http.get("/metrics")  # so that the scrapes' own request counter exists from the first round
    for round_ in range(3):
        for i in range(40):
            features = {f"hostile-feature-{round_}-{i}-{j}": [float(j)] * 50 for j in range(15)}
            features["plan"] = [f"hostile-category-{round_}-{i}-{k}" for k in range(50)]
            _post(
                http, _body(batch(n=50, version=f"hostile-version-{round_}-{i}", features=features))
            )
            _post(http, _body(batch(n=50, features=features)))
        service_of(hostile_app).evaluate_due()
        text = http.get("/metrics").text
        if round_ == 0:
            after_first_round = _label_sets(text)
    assert _label_sets(text) == after_first_round
    assert "hostile-feature" not in text
    assert "hostile-category" not in text
    versions = set(re.findall(r'version="([^"]*)"', text))
    assert len(versions) <= 3


def test_decoding_a_worst_case_body_allocates_a_bounded_multiple_of_its_size() -> None:
    """Peak memory decoding a body of many tiny objects stays under 40 times the body's size."""
    payload = _body(*[{}] * 200_000)
    tracemalloc.start()
    try:
        with pytest.raises(IngestError):
            decode(payload, Limits(), lambda *_: None)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * len(payload)


def test_repeated_prediction_ids_get_a_considered_answer(http: httpx.Client) -> None:
    """Ids repeated in and across batches are accepted, every record of them (202)."""
    repeated = batch(n=2, ids=["a", "a"])
    response = _post(http, _body(repeated, repeated))
    assert (
        response.status_code,
        response.json(),
    ) == (202, {"accepted": 4, "rejected": 0, "errors": []})


def test_repeated_ids_of_a_shadow_pair_are_accepted(http: httpx.Client) -> None:
    """A shadow pair whose ids repeat in both roles, sent twice in one body, is accepted whole."""
    champion = batch(n=3, ids=["a", "b", "a"])
    challenger = batch(n=3, ids=["b", "a", "a"], role="challenger", version="2.0")
    response = _post(http, _body(champion, challenger, champion, challenger))
    assert (response.status_code, response.json()["accepted"]) == (202, 12)
