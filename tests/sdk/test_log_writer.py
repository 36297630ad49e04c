"""Sampled success lines queued by the caller and written by the driftline-log thread."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import driftline
import pytest
import structlog
from driftline import _logging
from driftline._log_writer import LogWriter, log_drops_for
from driftline._metrics import metrics_for
from prometheus_client import CollectorRegistry

MakeWriter = Callable[..., LogWriter]

FIELDS: dict[str, Any] = {
    "model": "churn",
    "version": "2.3.0",
    "prediction_id": "p-1",
    "duration_s": 0.00125,
    "outcome": "success",
    "trace_id": None,
    "span_id": None,
}


@pytest.fixture
def make_writer(registry: CollectorRegistry) -> Iterator[MakeWriter]:
    """Build started writers of service ``churn-api`` counting into ``registry``; closed after."""
    writers: list[LogWriter] = []

    def make(output: Any, **options: Any) -> LogWriter:
        by_line = isinstance(output, logging.Logger)
        writer = LogWriter(
            _logging.build_renderer("churn-api"),
            output if by_line else structlog.PrintLogger(output),
            log_drops_for(registry),
            metrics_for(registry).error_children["log"],
            by_line=by_line,
            **({"interval": 60.0} | options),
        )
        writers.append(writer)
        writer.start()
        return writer

    yield make
    for writer in writers:
        writer.close(1.0)


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    """The JSON objects written to ``out``, one per line."""
    return [json.loads(line) for line in out.getvalue().splitlines()]


def stamp(line: dict[str, Any]) -> float:
    """A line's timestamp as Unix time."""
    return datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00")).timestamp()


def fork() -> int:
    """os.fork(), quiet about the multi-threaded-fork DeprecationWarning of Python 3.12+."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


class FlakyFile(io.StringIO):
    """A text output whose first write raises OSError."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    def write(self, text: str) -> int:
        """Raise on the first write, then write."""
        if self.failures:
            self.failures -= 1
            raise OSError("disk full")
        return super().write(text)


class BlockingFile(io.StringIO):
    """A text output whose writes wait until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def write(self, text: str) -> int:
        """Note the write, wait for the release, then write."""
        self.entered.set()
        self.release.wait()
        return super().write(text)


def test_a_queued_line_is_what_structlogs_own_processors_render(make_writer: MakeWriter) -> None:
    """A written line is byte for byte structlog's add_log_level, TimeStamper(iso, utc) and
    JSONRenderer line for the same fields, apart from the timestamp's value."""
    out = io.StringIO()
    writer = make_writer(out)
    stock = structlog.wrap_logger(
        structlog.ReturnLogger(),
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(serializer=_logging._dumps),
        ],
        context_class=dict,
        service="churn-api",
    )

    writer.info("prediction", **FIELDS)
    expected = stock.info("prediction", **FIELDS)
    assert writer.flush(10.0)

    written = out.getvalue()
    expected_stamp = json.loads(expected)["timestamp"]
    assert written == expected.replace(expected_stamp, lines(out)[0]["timestamp"]) + "\n"


def test_the_timestamp_is_the_calls_not_the_writes(make_writer: MakeWriter) -> None:
    """A line written after the clock moved on keeps the time of the info() call."""
    out = io.StringIO()
    writer = make_writer(out)
    before = time.time()
    writer.info("prediction", **FIELDS)
    after = time.time()
    while time.time() < after + 0.01:  # let the clock move on before the line is written
        time.sleep(0.002)

    assert writer.flush(10.0)
    assert before - 1e-6 <= stamp(lines(out)[0]) <= after + 1e-6


def test_lines_are_written_without_a_flush(make_writer: MakeWriter) -> None:
    """A queued line reaches the output by itself, at the writer's next batch."""
    out = io.StringIO()
    writer = make_writer(out, interval=0.05)
    writer.info("prediction", **FIELDS)

    deadline = time.monotonic() + 30.0
    while not out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [line["prediction_id"] for line in lines(out)] == ["p-1"]


def test_flush_writes_every_waiting_line(make_writer: MakeWriter) -> None:
    """flush() returns True once every line queued before it is written, in order."""
    out = io.StringIO()
    writer = make_writer(out)
    for i in range(5):
        writer.info("prediction", **(FIELDS | {"prediction_id": f"p-{i}"}))

    assert writer.flush(10.0)
    assert [line["prediction_id"] for line in lines(out)] == [f"p-{i}" for i in range(5)]


def test_lines_beyond_the_bound_are_dropped_and_counted(
    make_writer: MakeWriter, registry: CollectorRegistry
) -> None:
    """With the queue holding its capacity, further lines are counted as queue_full drops."""
    out = io.StringIO()
    writer = make_writer(out, capacity=3)
    for i in range(5):
        writer.info("prediction", **(FIELDS | {"prediction_id": f"p-{i}"}))
    assert writer.flush(10.0)

    dropped = registry.get_sample_value(
        "driftline_log_lines_dropped_total", {"reason": "queue_full"}
    )
    assert ([line["prediction_id"] for line in lines(out)], dropped) == (["p-0", "p-1", "p-2"], 2)


def test_an_error_line_is_written_at_once(make_writer: MakeWriter) -> None:
    """error() writes its line before returning, ahead of success lines still queued."""
    out = io.StringIO()
    writer = make_writer(out)
    writer.info("prediction", **FIELDS)
    try:
        raise ValueError("negative")
    except ValueError as exc:
        writer.error("prediction", exc_info=exc, **(FIELDS | {"outcome": "error"}))

    (line,) = lines(out)
    assert (line["level"], line["exception"].rstrip().endswith("ValueError: negative")) == (
        "error",
        True,
    )


def test_a_raising_output_is_counted_and_the_writer_goes_on(
    make_writer: MakeWriter, registry: CollectorRegistry
) -> None:
    """A write that raises counts its lines as log telemetry errors; later lines are written."""
    out = FlakyFile()
    writer = make_writer(out)
    writer.info("prediction", **(FIELDS | {"prediction_id": "lost"}))
    assert writer.flush(10.0)
    writer.info("prediction", **(FIELDS | {"prediction_id": "kept"}))
    assert writer.flush(10.0)

    errors = registry.get_sample_value("driftline_telemetry_errors_total", {"signal": "log"})
    assert ([line["prediction_id"] for line in lines(out)], errors) == (["kept"], 1)


def test_lines_left_when_close_times_out_count_as_shutdown(
    make_writer: MakeWriter, registry: CollectorRegistry
) -> None:
    """Lines still queued behind a blocked write when close() runs out of time are dropped as
    shutdown."""
    out = BlockingFile()
    writer = make_writer(out)
    writer.info("prediction", **(FIELDS | {"prediction_id": "stuck"}))
    writer.flush(0.0)
    assert out.entered.wait(30.0)
    writer.info("prediction", **(FIELDS | {"prediction_id": "a"}))
    writer.info("prediction", **(FIELDS | {"prediction_id": "b"}))
    try:
        writer.close(0.1)
    finally:
        out.release.set()

    dropped = registry.get_sample_value("driftline_log_lines_dropped_total", {"reason": "shutdown"})
    assert dropped == 2


def test_after_close_lines_are_written_at_once(make_writer: MakeWriter) -> None:
    """A line logged after close() is written before info() returns."""
    out = io.StringIO()
    writer = make_writer(out)
    writer.close(1.0)
    writer.info("prediction", **FIELDS)

    assert [line["prediction_id"] for line in lines(out)] == ["p-1"]


def test_a_stdlib_logger_gets_one_message_per_line(
    make_writer: MakeWriter, caplog: pytest.LogCaptureFixture
) -> None:
    """With a logging.Logger as output each queued line becomes one INFO record of it."""
    writer = make_writer(logging.getLogger("app.predictions"))
    with caplog.at_level(logging.INFO, logger="app.predictions"):
        for i in range(3):
            writer.info("prediction", **(FIELDS | {"prediction_id": f"p-{i}"}))
        assert writer.flush(10.0)

    records = [r for r in caplog.records if r.name == "app.predictions"]
    assert [(r.levelname, json.loads(r.getMessage())["prediction_id"]) for r in records] == [
        ("INFO", "p-0"),
        ("INFO", "p-1"),
        ("INFO", "p-2"),
    ]


def test_a_forked_child_writes_its_own_lines_not_the_parents(make_writer: MakeWriter) -> None:
    """After fork the child writes only the lines it logged; the parent's waiting line is
    written once, by the parent."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lines.jsonl"
        with path.open("a", encoding="utf-8") as out:
            writer = make_writer(out)
            writer.info("prediction", **(FIELDS | {"prediction_id": "parent"}))
            pid = fork()
            if pid == 0:  # pragma: no cover - the child process
                code = 1
                try:
                    writer.info("prediction", **(FIELDS | {"prediction_id": "child"}))
                    code = 0 if writer.flush(10.0) else 3
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            assert writer.flush(10.0)
        ids = [json.loads(line)["prediction_id"] for line in path.read_text().splitlines()]

    assert (os.waitstatus_to_exitcode(status), sorted(ids)) == (0, ["child", "parent"])


def test_the_writer_thread_is_a_daemon(make_writer: MakeWriter) -> None:
    """The driftline-log thread does not keep the interpreter alive."""
    writer = make_writer(io.StringIO())

    assert writer._thread is not None
    assert (writer._thread.name, writer._thread.daemon) == ("driftline-log", True)


EXIT_SCRIPT = textwrap.dedent(
    """
    import sys
    import driftline

    driftline.configure(log_output=sys.stdout, log_sample_rate=1.0, trace_sample_rate=0)

    @driftline.monitor(model="m", version="1")
    def predict(x):
        return 0.5

    for _ in range(3):
        predict(1.0)
    """
)


def test_waiting_lines_are_written_at_interpreter_exit() -> None:
    """A process that logs and exits at once still writes its lines, and exits cleanly."""
    result = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT], capture_output=True, timeout=120, check=False
    )

    outcomes = [json.loads(line)["outcome"] for line in result.stdout.splitlines()]
    assert (result.returncode, result.stderr, outcomes) == (0, b"", ["success"] * 3)


def test_reconfigure_writes_the_previous_runtimes_lines() -> None:
    """configure() closes the previous runtime, which writes the lines still waiting."""
    out = io.StringIO()
    driftline.configure(
        log_output=out, log_sample_rate=1.0, registry=CollectorRegistry(), trace_sample_rate=0
    )

    @driftline.monitor(model="m", version="1")
    def predict(x: float) -> float:
        return 0.5

    predict(1.0)
    driftline.configure(log_output=io.StringIO(), registry=CollectorRegistry())

    assert [line["outcome"] for line in lines(out)] == ["success"]
