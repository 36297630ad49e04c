"""A server binary run from a temporary directory with a generated config, on a free port.

``Prometheus`` and ``Alertmanager`` are both this: write ``config()`` as JSON (valid
YAML), start the binary on a free 127.0.0.1 port, wait for ``/-/ready``, and on
``stop()`` stop it by pid and remove the directory.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

from tests.support.ports import LOOPBACK
from tests.support.procs import ManagedProcess, start_on_free_port

__all__ = ["ConfiguredServer"]


class ConfiguredServer(ABC):
    """A binary started with a generated config; stopped by pid on ``stop()``/``__exit__``.

    A subclass sets ``name`` (log file and directory prefix), ``config_file`` and
    ``ready_path``, and builds ``config()`` and ``argv(workdir, port)``.
    """

    name: ClassVar[str]
    config_file: ClassVar[str]
    ready_path: ClassVar[str] = "/-/ready"

    def __init__(self, *, binary: str, startup_timeout: float, extra_args: Sequence[str]) -> None:
        self.binary = binary
        self.startup_timeout = startup_timeout
        self.extra_args = list(extra_args)
        self._workdir: Path | None = None
        self._process: ManagedProcess | None = None
        self._port: int | None = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """The configuration written to ``config_path``."""

    @abstractmethod
    def argv(self, workdir: Path, port: int) -> list[str]:
        """The command line that serves on ``127.0.0.1:port`` with state under ``workdir``."""

    def start(self) -> None:
        """Write the config, start the binary on a free port and wait for ``ready_path``."""
        if self._process is not None:
            raise RuntimeError(f"{type(self).__name__} already started")
        workdir = Path(tempfile.mkdtemp(prefix=f"driftline-{self.name}-"))
        self._workdir = workdir
        self.config_path.write_text(json.dumps(self.config(), indent=2), encoding="utf-8")
        try:
            self._process, self._port = start_on_free_port(
                lambda port: self.argv(workdir, port),
                ready_path=self.ready_path,
                log_path=workdir / f"{self.name}.log",
                name=self.name,
                cwd=workdir,
                timeout=self.startup_timeout,
            )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the process by pid (SIGTERM, then SIGKILL) and remove the temporary directory."""
        if self._process is not None:
            self._process.stop()
            self._process = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    @property
    def process(self) -> ManagedProcess:
        """The running process (``pid``, ``log_tail()``)."""
        if self._process is None:
            raise RuntimeError(f"{type(self).__name__} is not running")
        return self._process

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    @property
    def port(self) -> int:
        """The HTTP port on 127.0.0.1."""
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} is not running")
        return self._port

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        """Base URL, ``http://127.0.0.1:PORT``."""
        return f"http://{self.address}"

    @property
    def config_path(self) -> Path:
        """Where the generated configuration is written."""
        if self._workdir is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._workdir / self.config_file

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log, for failure messages."""
        return self.process.log_tail(lines)
