"""The decoder answers any JSON body with batches or an IngestError, never another exception."""

from __future__ import annotations

import json
from typing import Any

from driftline_sidecar.config import Limits
from driftline_sidecar.ingest import IngestError, Kind, Role, decode
from hypothesis import given, settings
from hypothesis import strategies as st

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "x", ""]),
)
_json = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)
_column = st.lists(_json, min_size=0, max_size=4)
_batch = st.fixed_dictionaries(
    {},
    optional={
        "model": st.one_of(st.text(max_size=3), _json),
        "version": st.one_of(st.text(max_size=3), _json),
        "role": st.one_of(st.sampled_from(["champion", "challenger"]), _json),
        "ids": st.one_of(st.lists(st.text(max_size=2), max_size=4), _json),
        "timestamps": st.one_of(st.lists(st.floats(), max_size=4), _json),
        "trace_ids": _json,
        "features": st.one_of(st.dictionaries(st.text(max_size=3), _column, max_size=3), _json),
        "predictions": st.one_of(st.dictionaries(st.text(max_size=3), _column, max_size=3), _json),
    },
)
_body = st.one_of(
    _json,
    st.fixed_dictionaries(
        {
            "v": st.one_of(st.just(1), _json),
            "batches": st.one_of(st.lists(_batch, max_size=3), _json),
        }
    ),
)


def _numeric_for_x(model: str, version: str, role: Role, name: str) -> Kind | None:
    return "numeric" if name == "x" else None


@settings(max_examples=300, deadline=None)
@given(_body)
def test_decoder_never_raises_anything_but_ingest_error(body: Any) -> None:
    """Whatever JSON arrives, decode returns a result or raises IngestError with a 4xx status."""
    payload = json.dumps(body, allow_nan=True).encode()
    status = 202
    try:
        decode(payload, Limits(max_features=5), _numeric_for_x)
    except IngestError as exc:
        status = exc.status
    assert status in {202, 400, 413, 415, 422}
