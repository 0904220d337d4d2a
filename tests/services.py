"""Throwaway PostgreSQL and Redis servers that the test run starts and removes itself.

Nothing here skips: when a server cannot start, ``ServiceError`` says why and
the run fails. PostgreSQL comes from the Debian server binaries; redis-server
(and chromium for the browser tests, caddy for the HTTPS proxy test) is
installed with apt when it is missing
(CI runs as root, without a TTY).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin")
PG_SUPERUSER = "postgres"


class ServiceError(RuntimeError):
    """A test server could not be started."""


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(
    port: int, timeout: float = 30.0, process: subprocess.Popen | None = None
) -> None:
    """Block until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServiceError(f"process exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise ServiceError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def _pg_bin_dir() -> Path:
    configured = os.environ.get("PORTAL_TEST_PG_BIN")
    for candidate in ([configured] if configured else []) + list(PG_BIN_DIRS):
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    raise ServiceError(
        "PostgreSQL server binaries not found (looked in "
        f"{', '.join(PG_BIN_DIRS)}; set PORTAL_TEST_PG_BIN). Install postgresql-15."
    )


class PostgresServer:
    """A private cluster on 127.0.0.1:<free port> with trust auth and no durability."""

    def __init__(self) -> None:
        self.bin = _pg_bin_dir()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="portal-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as_root = os.geteuid() == 0
        self.user = PG_SUPERUSER if self._as_root else pwd.getpwuid(os.geteuid()).pw_name

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._as_root:
            # initdb and postgres refuse to run as root.
            command = ["runuser", "-u", PG_SUPERUSER, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    def start(self) -> PostgresServer:
        if self._as_root:
            try:
                entry = pwd.getpwnam(PG_SUPERUSER)
            except KeyError as error:
                raise ServiceError("no 'postgres' system user to run PostgreSQL as") from error
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        result = self._run(
            "initdb", "-D", str(self.data), "-U", self.user, "-A", "trust", "-E", "UTF8",
            "--no-sync", "--locale=C",
        )  # fmt: skip
        if result.returncode:
            raise ServiceError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-p {self.port}",
                f"-k {self.root}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=300",
                "-c shared_buffers=64MB",
            ]
        )
        result = self._run(
            "pg_ctl", "start", "-w", "-t", "60", "-D", str(self.data), "-l", str(self.log),
            "-o", options,
        )  # fmt: skip
        if result.returncode:
            log = self.log.read_text() if self.log.exists() else ""
            self.stop()
            raise ServiceError(f"PostgreSQL did not start:\n{result.stderr}\n{log}")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w")
        shutil.rmtree(self.root, ignore_errors=True)


def apt_install(package: str) -> None:
    """``apt-get update`` and ``apt-get install -y package``; ServiceError says why it failed."""
    if os.geteuid() != 0:
        raise ServiceError(f"{package} is missing and only root may apt-get install it")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", package]):
        result = subprocess.run(
            command, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, check=False
        )
        if result.returncode:
            raise ServiceError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")


def ensure_redis_installed() -> str:
    """The path of redis-server, installing the Debian package when it is missing."""
    found = shutil.which("redis-server")
    if found:
        return found
    apt_install("redis-server")
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if not found:
        raise ServiceError("apt-get installed redis-server but it is not on PATH")
    return found


CHROMIUM = Path("/usr/bin/chromium")


def ensure_chromium_installed() -> Path:
    """Debian's chromium for the browser tests, installed with apt when it is missing."""
    if not CHROMIUM.exists():
        apt_install("chromium")
    if not CHROMIUM.exists():
        raise ServiceError(f"apt-get installed chromium but there is no {CHROMIUM}")
    return CHROMIUM


def ensure_caddy_installed() -> str:
    """The path of Debian's caddy (for the HTTPS proxy test), installed with apt when missing."""
    found = shutil.which("caddy")
    if found:
        return found
    apt_install("caddy")
    found = shutil.which("caddy") or ("/usr/bin/caddy" if Path("/usr/bin/caddy").exists() else None)
    if not found:
        raise ServiceError("apt-get installed caddy but it is not on PATH")
    return found


class RedisServer:
    """redis-server on 127.0.0.1:<free port>, in memory only."""

    def __init__(self) -> None:
        self.binary = ensure_redis_installed()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="portal-redis-"))
        self.process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        log = self.root / "redis.log"
        self.process = subprocess.Popen(
            [
                self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(self.root),
                "--daemonize", "no", "--loglevel", "warning", "--logfile", str(log),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_for_port(self.port, process=self.process)
        except ServiceError as error:
            output = log.read_text(errors="replace") if log.exists() else ""
            self.stop()
            raise ServiceError(f"redis-server did not start: {error}\n{output}") from error
        return self

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)
