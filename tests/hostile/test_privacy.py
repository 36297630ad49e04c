"""Personal data in the SDK: allowlist, redaction and keyed hashing before features leave."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import driftline
import numpy as np
import pytest
from driftline import ConfigurationError, testing
from driftline._config import resolve_settings
from prometheus_client import CollectorRegistry

from tests.support.http_sink import HttpSink

KEY = "a-secret-of-32-characters-long!!"
SECRET = "jane.doe@example.com"
PRIVACY: dict[str, Any] = {
    "capture_allowlist": ["age", "email", "plan", "ssn"],
    "capture_redact": ["ssn"],
    "capture_hash": ["email"],
    "capture_hash_key": KEY,
}


def _digest(text: str) -> str:
    return hmac.new(KEY.encode(), text.encode(), hashlib.sha256).hexdigest()[:16]


@driftline.monitor(model="churn", version="1")
def predict(features: dict[str, Any]) -> float:
    return 0.5


@driftline.monitor(model="churn", version="1", batch=True)
def predict_batch(rows: list[dict[str, Any]]) -> list[float]:
    return [0.5] * len(rows)


RECORD = {"age": 41, "email": SECRET, "plan": "pro", "ssn": "123-45-6789", "name": "Jane Doe"}


@pytest.fixture
def private() -> Iterator[testing.Telemetry]:
    """Capture telemetry with the privacy settings above, features on spans, every call logged."""
    with testing.capture_telemetry(record_features_in_spans=True, **PRIVACY) as telemetry:
        yield telemetry


def test_only_allowlisted_features_are_captured(private: testing.Telemetry) -> None:
    """A feature missing from capture_allowlist is not in the captured record."""
    predict(RECORD)
    assert sorted(private.records[0].features) == ["age", "email", "plan", "ssn"]


def test_redacted_features_are_replaced(private: testing.Telemetry) -> None:
    """A feature in capture_redact is captured as [REDACTED]."""
    predict(RECORD)
    assert private.records[0].features["ssn"] == "[REDACTED]"


def test_hashed_features_are_a_keyed_hmac_sha256(private: testing.Telemetry) -> None:
    """A feature in capture_hash is the first 16 hex digits of HMAC-SHA256 with the key."""
    predict(RECORD)
    assert private.records[0].features["email"] == _digest(SECRET)


def test_other_features_are_captured_unchanged(private: testing.Telemetry) -> None:
    """Allowed features that are neither redacted nor hashed keep their values."""
    predict(RECORD)
    features = private.records[0].features
    assert (features["age"], features["plan"]) == (41, "pro")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, _digest("3")), (3.0, _digest("3")), (np.int64(3), _digest("3")), (True, _digest("true"))],
)
def test_numbers_are_hashed_as_their_category_label(
    private: testing.Telemetry, value: object, expected: str
) -> None:
    """3, 3.0 and numpy 3 hash alike (as the label "3"); booleans as "true"/"false"."""
    predict({"email": value})
    assert private.records[0].features["email"] == expected


@pytest.mark.parametrize("value", [None, float("nan")])
def test_missing_values_stay_missing_when_hashed(private: testing.Telemetry, value: object) -> None:
    """None and NaN in a hashed feature are sent as None, not as the hash of a placeholder."""
    predict({"email": value})
    assert private.records[0].features["email"] is None


def test_a_non_scalar_value_of_a_hashed_feature_is_redacted(private: testing.Telemetry) -> None:
    """A list in a hashed feature is replaced by [REDACTED] rather than hashed or sent."""
    predict({"email": [SECRET]})
    assert private.records[0].features["email"] == "[REDACTED]"


def test_batch_calls_apply_the_policy_per_column(private: testing.Telemetry) -> None:
    """A batch call's columns are allowlisted, redacted and hashed row by row."""
    predict_batch([RECORD, {**RECORD, "email": "x@example.com"}])
    rows = [dict(record.features) for record in private.records]
    assert [(r["email"], r["ssn"], "name" in r) for r in rows] == [
        (_digest(SECRET), "[REDACTED]", False),
        (_digest("x@example.com"), "[REDACTED]", False),
    ]


def test_span_attributes_never_carry_protected_values(private: testing.Telemetry) -> None:
    """With record_features_in_spans, spans show the policy's output, never the raw values."""
    predict(RECORD)
    attributes = dict(private.spans[0].attributes or {})
    assert {k: v for k, v in attributes.items() if k.startswith("driftline.features.")} == {
        "driftline.features.age": 41,
        "driftline.features.email": _digest(SECRET),
        "driftline.features.plan": "pro",
        "driftline.features.ssn": "[REDACTED]",
    }


def test_logs_never_carry_feature_values(private: testing.Telemetry) -> None:
    """The log events of a call hold no feature value, protected or not."""
    predict(RECORD)
    text = json.dumps(private.logs, default=str)
    assert [v for v in ("Jane Doe", SECRET, "123-45-6789") if v in text] == []


class _TracingStr(str):
    """A string that notes the thread that encodes it (the hash input is encoded once)."""

    threads: ClassVar[list[str]] = []

    def encode(self, *args: Any, **kwargs: Any) -> bytes:
        _TracingStr.threads.append(threading.current_thread().name)
        return str(self).encode(*args, **kwargs)


def test_hashing_runs_on_the_shipper_thread_and_the_wire_has_no_secret() -> None:
    """Values are hashed on driftline-shipper, and the body the sidecar gets holds no raw value."""
    _TracingStr.threads.clear()
    with HttpSink() as sink:
        driftline.configure(
            sidecar_url=sink.url,
            registry=CollectorRegistry(),
            log_output=io.StringIO(),
            **PRIVACY,
        )
        predict({**RECORD, "email": _TracingStr(SECRET)})
        assert driftline.flush(5.0)
        (request,) = sink.wait_for_requests(1)
    features = request.body["batches"][0]["features"]
    assert (_TracingStr.threads, features["email"], SECRET.encode() in request.raw) == (
        ["driftline-shipper"],
        [_digest(SECRET)],
        False,
    )


def test_hashing_without_a_key_is_refused() -> None:
    """capture_hash without a capture_hash_key of 16 or more characters fails, naming the key."""
    with pytest.raises(ConfigurationError, match="capture_hash_key"):
        driftline.configure(capture_hash=["email"], capture_hash_key="short")


def test_a_single_name_string_is_refused() -> None:
    """capture_redact="ssn" (a string, not a list of names) fails rather than redacting s and n."""
    with pytest.raises(ConfigurationError, match="capture_redact"):
        driftline.configure(capture_redact="ssn")  # type: ignore[arg-type]


def test_the_privacy_keys_read_their_environment_variables() -> None:
    """DRIFTLINE_CAPTURE_* variables are comma-separated names, and the key as written."""
    settings = resolve_settings(
        {},
        {
            "DRIFTLINE_CAPTURE_ALLOWLIST": "age, email",
            "DRIFTLINE_CAPTURE_REDACT": "ssn",
            "DRIFTLINE_CAPTURE_HASH": "email",
            "DRIFTLINE_CAPTURE_HASH_KEY": KEY,
        },
    )
    assert (
        settings.capture_allowlist,
        settings.capture_redact,
        settings.capture_hash,
        settings.capture_hash_key,
    ) == (("age", "email"), ("ssn",), ("email",), KEY)


def test_secrets_are_not_in_the_settings_repr() -> None:
    """repr() of the settings shows neither the hash key nor the sidecar token."""
    settings = resolve_settings({"sidecar_token": "tok-123456789", **PRIVACY}, {})
    assert [s for s in (KEY, "tok-123456789") if s in repr(settings)] == []
