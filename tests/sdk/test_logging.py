"""One JSON log line per sampled success and per error, on driftline's own structlog logger."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime

import driftline
import pytest
import structlog
from driftline import _logging
from driftline.testing import capture_telemetry
from prometheus_client import CollectorRegistry


@driftline.monitor(model="m", version="1")
def predict(features: dict[str, float]) -> float:
    """A model that raises on a negative x."""
    if features["x"] < 0:
        raise ValueError("negative")
    return 0.5


def test_fields_of_a_success() -> None:
    """A logged success has the documented fields."""
    with capture_telemetry() as telemetry:
        predict({"x": 1.0})
    (event,) = telemetry.logs
    span = telemetry.spans[0].context
    assert {k: v for k, v in event.items() if k not in ("duration_s", "timestamp")} == {
        "event": "prediction",
        "level": "info",
        "service": "unknown_service",
        "model": "m",
        "version": "1",
        "prediction_id": driftline.last_prediction_id(),
        "outcome": "success",
        "trace_id": format(span.trace_id, "032x"),
        "span_id": format(span.span_id, "016x"),
    }
    assert event["duration_s"] >= 0


def test_errors_are_always_logged() -> None:
    """With log_sample_rate=0 an error is still logged, with its exception."""
    with capture_telemetry(log_sample_rate=0.0) as telemetry:
        predict({"x": 1.0})
        with pytest.raises(ValueError, match="negative"):
            predict({"x": -1.0})
    (event,) = telemetry.logs
    assert (event["outcome"], event["level"]) == ("error", "error")
    assert "ValueError: negative" in event["exception"]


def test_rate_zero_logs_no_success() -> None:
    """log_sample_rate=0 logs no successes."""
    with capture_telemetry(log_sample_rate=0.0) as telemetry:
        for _ in range(20):
            predict({"x": 1.0})
    assert telemetry.logs == []


def test_rate_one_logs_every_success() -> None:
    """log_sample_rate=1 logs every success."""
    with capture_telemetry(log_sample_rate=1.0) as telemetry:
        for _ in range(20):
            predict({"x": 1.0})
    assert len(telemetry.logs) == 20


def test_json_line_to_file_like() -> None:
    """The default renderer writes one JSON object per line to log_output."""
    out = io.StringIO()
    driftline.configure(
        log_output=out, log_sample_rate=1.0, registry=CollectorRegistry(), trace_sample_rate=0
    )
    predict({"x": 1.0})
    driftline.flush()
    line = json.loads(out.getvalue())
    assert (line["event"], line["model"], line["outcome"]) == ("prediction", "m", "success")


def test_error_json_line_carries_the_traceback() -> None:
    """An error's line, rendered for real, names the exception and holds its traceback."""
    out = io.StringIO()
    driftline.configure(
        log_output=out, log_sample_rate=0.0, registry=CollectorRegistry(), trace_sample_rate=0
    )
    with pytest.raises(ValueError, match="negative"):
        predict({"x": -1.0})
    line = json.loads(out.getvalue())
    assert (line["level"], line["outcome"]) == ("error", "error")
    assert line["exception"].startswith("Traceback (most recent call last):")
    assert line["exception"].rstrip().endswith("ValueError: negative")


def test_renderer_falls_back_to_json_for_what_orjson_refuses() -> None:
    """An integer beyond 64 bits (orjson raises TypeError) is rendered by the json module."""
    event = {"event": "prediction", "big": 2**70, "x": 0.25}
    assert json.loads(_logging._dumps(event)) == event


def test_non_ascii_text_is_escaped_as_before() -> None:
    """A line with non-ASCII text is pure ASCII (json's escapes), as json.dumps writes it."""
    event = {"event": "prediction", "exception": "ValueError: größe 値"}
    line = _logging._dumps(event)
    assert (line, line.isascii()) == (json.dumps(event), True)


@pytest.mark.parametrize(
    "now", [0.0, 1795786205.25, 1795786205.000001, 1795786205.9999996, 1798761599.5]
)
def test_timestamps_are_structlogs_utc_iso_format(now: float) -> None:
    """The stamp is what structlog's TimeStamper(fmt="iso", utc=True) writes for that time."""
    expected = datetime.fromtimestamp(now, tz=UTC).isoformat().replace("+00:00", "Z")
    if "." not in expected:  # isoformat leaves out zero microseconds; TimeStamper too
        expected = expected[:-1] + ".000000Z"
    assert _logging._utc_iso(now) == expected


def test_a_line_has_level_and_a_current_timestamp() -> None:
    """A rendered line carries the level and a UTC timestamp within a second of the call."""
    out = io.StringIO()
    driftline.configure(
        log_output=out, log_sample_rate=1.0, registry=CollectorRegistry(), trace_sample_rate=0
    )
    before = datetime.now(tz=UTC)
    predict({"x": 1.0})
    driftline.flush()
    line = json.loads(out.getvalue())
    stamp = datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00"))
    assert (line["level"], abs((stamp - before).total_seconds()) < 1.0) == ("info", True)


def test_stdlib_logger_output(caplog: pytest.LogCaptureFixture) -> None:
    """With a logging.Logger as log_output the JSON line is that logger's message."""
    driftline.configure(
        log_output=logging.getLogger("app.predictions"),
        log_sample_rate=1.0,
        registry=CollectorRegistry(),
        trace_sample_rate=0,
    )
    with caplog.at_level(logging.INFO, logger="app.predictions"):
        predict({"x": 1.0})
        driftline.flush()
    (record,) = [r for r in caplog.records if r.name == "app.predictions"]
    assert json.loads(record.getMessage())["prediction_id"] == driftline.last_prediction_id()


def test_app_structlog_configuration_untouched() -> None:
    """driftline never changes structlog's global configuration."""
    before = structlog.get_config()
    with capture_telemetry():
        predict({"x": 1.0})
    driftline.configure(log_output=io.StringIO(), registry=CollectorRegistry())
    predict({"x": 1.0})
    assert structlog.get_config() == before
