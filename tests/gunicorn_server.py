"""Run Portal under real gunicorn processes, as production does, for a test."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import time_machine

from tests.services import ServiceError, free_port, wait_for_port

PROJECT_ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")


def real_time() -> float:
    """Seconds since the epoch on the wall clock, even while a test has moved the clock."""
    if time_machine.escape_hatch.is_travelling():
        return time_machine.escape_hatch.time.time()
    return time.time()


def stop_process(process: subprocess.Popen | None, log: Path) -> str:
    """Terminate ``process`` (kill it after 30 s); return and remove its log file."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    text = log.read_text(errors="replace") if log.exists() else ""
    log.unlink(missing_ok=True)
    return text


class Gunicorn:
    """One gunicorn master with ``workers`` workers on 127.0.0.1:<free port>."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        workers: int = 1,
        threads: int = 1,
        app: str = "tests.frozen_wsgi:app",
    ) -> None:
        self.port = free_port()
        self.env = {**os.environ, **env}
        if "PORTAL_TEST_NOW" in self.env:
            # One reference instant for all workers (see tests/frozen_wsgi.py).
            self.env.setdefault("PORTAL_TEST_NOW_REAL", repr(real_time()))
        self.workers = workers
        self.threads = threads
        self.app = app
        self.process: subprocess.Popen | None = None
        self.log = Path(tempfile.mkstemp(prefix="portal-gunicorn-", suffix=".log")[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Gunicorn:
        command = [
            str(GUNICORN),
            "--config", str(PROJECT_ROOT / "tests" / "gunicorn_test.conf.py"),
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.workers),
            "--threads", str(self.threads),
            "--worker-class", "gthread" if self.threads > 1 else "sync",
            "--timeout", "120",
            "--backlog", "256",
            "--chdir", str(PROJECT_ROOT),
            self.app,
        ]  # fmt: skip
        with self.log.open("w") as log:
            # A file, not a pipe: a full pipe would stall the server mid-test.
            self.process = subprocess.Popen(
                command, env=self.env, stdout=subprocess.DEVNULL, stderr=log
            )
        try:
            wait_for_port(self.port, timeout=60, process=self.process)
        except ServiceError as error:
            log = self.stop()
            raise ServiceError(f"gunicorn did not start: {error}\n{log}") from error
        return self

    def stop(self) -> str:
        """Stop the server; return its log."""
        return stop_process(self.process, self.log)


class Worker:
    """``portal worker`` as its own process (delivers the outbox, runs periodic jobs)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: subprocess.Popen | None = None
        self.log = Path(tempfile.mkstemp(prefix="portal-worker-", suffix=".log")[1])

    def start(self) -> Worker:
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [str(GUNICORN.with_name("portal")), "worker", "--threads", "1"],
                env=self.env,
                cwd=PROJECT_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def stop(self) -> str:
        """Stop the worker (SIGTERM: it finishes its task first); return its log."""
        return stop_process(self.process, self.log)
