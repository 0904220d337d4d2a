"""Rate limits mean what they say: no worker counts alone.

Before: ``make run`` and ``gunicorn.conf.py`` started two workers on the
default ``memory://`` storage, so each limit allowed about twice its count
(19-20 booking POSTs a minute against a limit of 10). Now ``make run``
serves with gunicorn.conf.py's one worker with threads, and in production
the server refuses to start several workers on per-process counters.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from portal.config import ConfigError, check_rate_limit_storage
from tests.conftest import NOW, csrf_token
from tests.factories import CONSENTS
from tests.gunicorn_server import Gunicorn, stop_process
from tests.services import free_port, wait_for_port
from tests.test_concurrency import Browser

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SLOT_PARAM = "2026-03-03T09:00Z"


def make_run_command(port: int) -> list[str]:
    """The gunicorn command of ``make run`` as the Makefile writes it, on ``port``.

    Only the app differs: the tests' entry point, whose clock starts at NOW.
    """
    recipe = (ROOT / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    [line] = [line for line in recipe.splitlines() if "$(BIN)/gunicorn" in line]
    line = line.strip().replace("$(BIN)", str(BIN)).replace("$(PORT)", str(port))
    command = shlex.split(line)
    assert command[-1] == "wsgi:app", line
    return [*command[:-1], "tests.frozen_wsgi:app"]


@pytest.fixture
def make_run_server(app_env, salon, tmp_path):
    """Portal served as ``make run`` serves it, with the default booking limit (10 a minute)."""
    # The environment Gunicorn() prepares: the tests' clock, in step across processes.
    helper = Gunicorn({**app_env, "PORTAL_TEST_NOW": NOW.isoformat()})
    # The tests' generous limit is in os.environ too: drop it for the default.
    helper.env.pop("PORTAL_BOOKING_RATE_LIMIT")
    port = free_port()
    log = tmp_path / "make-run.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            make_run_command(port), cwd=ROOT, env=helper.env, stdout=output, stderr=output
        )
    try:
        wait_for_port(port, timeout=60, process=process)
        yield f"http://127.0.0.1:{port}"
    finally:
        text = stop_process(process, log)
        assert "Traceback" not in text, text


def test_make_run_refuses_the_eleventh_booking_post_in_a_minute(make_run_server, salon):
    url = (
        f"{make_run_server}/b/salon/services/{salon.service.id}/book"
        f"?provider=any&start={SLOT_PARAM}"
    )
    browser = Browser()
    status, page = browser.request(url)
    assert status == 200, page
    form = {
        "csrf_token": csrf_token(page),
        "name": "Mia Example",
        "email": "mia@example.com",
        "phone": "+49 30 1234567",
        **CONSENTS,
    }
    statuses = [browser.request(url, form)[0] for _ in range(11)]
    # The first books the slot, the next nine find it taken: none is the limiter's.
    assert statuses[0] == 303, statuses
    assert 429 not in statuses[:10], statuses
    assert statuses[10] == 429


def test_production_refuses_several_workers_counting_in_memory(app_env, tmp_path):
    port = free_port()
    env = {**Gunicorn(app_env).env, "PORTAL_ENV": "production", "PORTAL_WORKERS": "2"}
    env.pop("PORTAL_RATELIMIT_STORAGE_URI", None)
    env.pop("PORTAL_REDIS_URL", None)
    result = subprocess.run(
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Portal cannot start: 2 workers would each count rate limits alone" in result.stderr
    assert "PORTAL_RATELIMIT_STORAGE_URI" in result.stderr
    assert not re.search(r"Booting worker", result.stderr)


@pytest.mark.parametrize(
    ("mode", "workers", "storage"),
    [
        ("production", 1, "memory://"),
        ("production", 4, "redis://127.0.0.1:6379/0"),
        ("development", 2, "memory://"),
    ],
)
def test_one_worker_or_a_shared_storage_is_accepted(mode, workers, storage):
    check_rate_limit_storage(mode, workers, storage)


def test_the_refusal_names_the_setting_to_change():
    with pytest.raises(ConfigError, match="Set PORTAL_RATELIMIT_STORAGE_URI"):
        check_rate_limit_storage("production", 3, "memory://")
