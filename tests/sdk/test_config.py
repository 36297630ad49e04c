"""configure(): keyword arguments over DRIFTLINE_* variables over defaults, validated up front."""

from __future__ import annotations

import io

import driftline
import pytest
from driftline import ConfigurationError, Settings
from driftline._config import DEFAULT_PREDICTION_BUCKETS, resolve_settings
from prometheus_client import CollectorRegistry


def test_defaults_without_arguments_or_environment() -> None:
    """With nothing given, every key takes its documented default."""
    assert resolve_settings({}, environ={}) == Settings()


def test_documented_defaults() -> None:
    """The defaults are the ones docs/sdk.md lists."""
    expected = {
        "service_name": "unknown_service",
        "sidecar_url": None,
        "trace_sample_rate": 1.0,
        "log_sample_rate": 0.01,
        "capture_sample_rate": 1.0,
        "capture_queue_size": 10_000,
        "capture_batch_size": 500,
        "capture_flush_interval": 1.0,
        "capture_compression": "auto",
        "capture_timeout": 2.0,
        "capture_max_retries": 5,
        "capture_exit_timeout": 2.0,
        "record_features_in_spans": False,
        "prediction_buckets": DEFAULT_PREDICTION_BUCKETS,
        "max_classes": 50,
    }
    settings = Settings()
    assert expected == {key: getattr(settings, key) for key in expected}


def test_environment_variables_are_read() -> None:
    """Each key has a DRIFTLINE_* variable, parsed to the key's type."""
    environ = {
        "DRIFTLINE_SERVICE_NAME": "churn-api",
        "DRIFTLINE_SIDECAR_URL": "http://127.0.0.1:8765/",
        "DRIFTLINE_SIDECAR_TOKEN": "s3cret",
        "DRIFTLINE_OTLP_ENDPOINT": "http://127.0.0.1:4318",
        "DRIFTLINE_TRACE_SAMPLE_RATE": "0.5",
        "DRIFTLINE_LOG_SAMPLE_RATE": "1",
        "DRIFTLINE_CAPTURE_SAMPLE_RATE": "0.25",
        "DRIFTLINE_CAPTURE_QUEUE_SIZE": "100",
        "DRIFTLINE_CAPTURE_BATCH_SIZE": "10",
        "DRIFTLINE_CAPTURE_FLUSH_INTERVAL": "0.5",
        "DRIFTLINE_CAPTURE_COMPRESSION": "gzip",
        "DRIFTLINE_CAPTURE_TIMEOUT": "3",
        "DRIFTLINE_CAPTURE_MAX_RETRIES": "0",
        "DRIFTLINE_CAPTURE_EXIT_TIMEOUT": "1.5",
        "DRIFTLINE_RECORD_FEATURES_IN_SPANS": "true",
        "DRIFTLINE_PREDICTION_BUCKETS": "0.5, 1, 2",
        "DRIFTLINE_MAX_CLASSES": "7",
    }
    expected = Settings(
        service_name="churn-api",
        sidecar_url="http://127.0.0.1:8765",
        sidecar_token="s3cret",
        otlp_endpoint="http://127.0.0.1:4318",
        trace_sample_rate=0.5,
        log_sample_rate=1.0,
        capture_sample_rate=0.25,
        capture_queue_size=100,
        capture_batch_size=10,
        capture_flush_interval=0.5,
        capture_compression="gzip",
        capture_timeout=3.0,
        capture_max_retries=0,
        capture_exit_timeout=1.5,
        record_features_in_spans=True,
        prediction_buckets=(0.5, 1.0, 2.0),
        max_classes=7,
    )
    assert expected == resolve_settings({}, environ=environ)


def test_arguments_win_over_environment() -> None:
    """A keyword argument overrides its environment variable."""
    settings = resolve_settings(
        {"trace_sample_rate": 0.1}, environ={"DRIFTLINE_TRACE_SAMPLE_RATE": "0.9"}
    )
    assert settings.trace_sample_rate == 0.1


def test_otel_service_name_is_the_fallback() -> None:
    """Without DRIFTLINE_SERVICE_NAME, OTEL_SERVICE_NAME names the service."""
    assert resolve_settings({}, environ={"OTEL_SERVICE_NAME": "svc"}).service_name == "svc"


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"trace_sample_rate": 1.5}, "trace_sample_rate"),
        ({"log_sample_rate": -0.1}, "log_sample_rate"),
        ({"capture_sample_rate": "1"}, "capture_sample_rate"),
        ({"sidecar_url": "127.0.0.1:8765"}, "sidecar_url"),
        ({"sidecar_url": "http://127.0.0.1:99999"}, "sidecar_url"),
        ({"sidecar_url": "http://127.0.0.1:0"}, "sidecar_url"),
        ({"sidecar_url": "http://a b:8765"}, "sidecar_url"),
        ({"sidecar_url": "http://a..\u00fc:8765"}, "sidecar_url"),
        ({"sidecar_url": "http://127.0.0.1:x"}, "sidecar_url"),
        ({"sidecar_url": "http://127.0.0.1:8765/a b"}, "sidecar_url"),
        ({"sidecar_url": "http://127.0.0.1:8765/\u00e9"}, "sidecar_url"),
        ({"sidecar_token": "two words"}, "sidecar_token"),
        ({"sidecar_token": "line\r\nX-Injected: 1"}, "sidecar_token"),
        ({"otlp_endpoint": "ftp://x"}, "otlp_endpoint"),
        ({"capture_queue_size": 0}, "capture_queue_size"),
        ({"capture_batch_size": 1.5}, "capture_batch_size"),
        ({"capture_flush_interval": 0}, "capture_flush_interval"),
        ({"capture_compression": "zstd"}, "capture_compression"),
        ({"capture_timeout": float("inf")}, "capture_timeout"),
        ({"capture_max_retries": -1}, "capture_max_retries"),
        ({"record_features_in_spans": 1}, "record_features_in_spans"),
        ({"prediction_buckets": [1.0, 0.5]}, "prediction_buckets"),
        ({"prediction_buckets": []}, "prediction_buckets"),
        ({"max_classes": 0}, "max_classes"),
        ({"service_name": ""}, "service_name"),
        ({"registry": object()}, "registry"),
        ({"tracer_provider": object()}, "tracer_provider"),
        ({"log_output": 3}, "log_output"),
    ],
)
def test_bad_argument_names_its_key(overrides: dict[str, object], key: str) -> None:
    """A bad argument raises ConfigurationError naming the key."""
    with pytest.raises(ConfigurationError) as caught:
        resolve_settings(overrides, environ={})
    assert key == caught.value.key


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"sidecar_url": "ftp://x"},
            "sidecar_url (DRIFTLINE_SIDECAR_URL): must be an http:// or https:// URL with a "
            "host, got 'ftp://x'",
        ),
        (
            {"capture_compression": "zstd"},
            "capture_compression (DRIFTLINE_CAPTURE_COMPRESSION): must be one of auto, gzip, "
            "none, got 'zstd'",
        ),
    ],
)
def test_bad_argument_message_names_the_value_once(
    overrides: dict[str, object], message: str
) -> None:
    """The error says what was wrong and quotes the value given, once."""
    with pytest.raises(ConfigurationError) as caught:
        resolve_settings(overrides, environ={})
    assert message == str(caught.value)


def test_a_bad_token_is_not_quoted_in_the_error() -> None:
    """A token that cannot go into a header is refused without its value in the message."""
    with pytest.raises(ConfigurationError) as caught:
        resolve_settings({}, environ={"DRIFTLINE_SIDECAR_TOKEN": "s3cret with spaces"})
    assert str(caught.value) == (
        "sidecar_token (DRIFTLINE_SIDECAR_TOKEN): must be printable ASCII without spaces (it "
        "is sent in an HTTP header), got a secret, not shown"
    )


def test_bad_environment_variable_names_the_variable() -> None:
    """A variable that does not parse raises ConfigurationError naming it."""
    with pytest.raises(ConfigurationError, match="DRIFTLINE_LOG_SAMPLE_RATE") as caught:
        resolve_settings({}, environ={"DRIFTLINE_LOG_SAMPLE_RATE": "often"})
    assert caught.value.env_var == "DRIFTLINE_LOG_SAMPLE_RATE"


def test_out_of_range_environment_variable_names_the_variable() -> None:
    """A variable that parses but is out of range also names the variable."""
    with pytest.raises(ConfigurationError, match="DRIFTLINE_TRACE_SAMPLE_RATE"):
        resolve_settings({}, environ={"DRIFTLINE_TRACE_SAMPLE_RATE": "2"})


def test_configure_fails_fast() -> None:
    """configure() raises before installing anything when a key is bad."""
    with pytest.raises(ConfigurationError, match="max_classes"):
        driftline.configure(max_classes=-3)


def test_configure_returns_the_settings() -> None:
    """configure() returns what it validated."""
    registry = CollectorRegistry()
    settings = driftline.configure(
        service_name="svc", registry=registry, log_output=io.StringIO(), trace_sample_rate=0
    )
    assert (settings.service_name, settings.registry) == ("svc", registry)


def test_configuration_error_is_a_value_error() -> None:
    """ConfigurationError can be caught as DriftlineError and as ValueError."""
    error = ConfigurationError("max_classes", "must be at least 1")
    assert isinstance(error, driftline.DriftlineError)
    assert isinstance(error, ValueError)
