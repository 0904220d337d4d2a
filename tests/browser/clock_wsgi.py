"""``tests.frozen_wsgi`` with a clock that a browser test can move while the server runs.

``tests.frozen_wsgi`` moves the server's clock to ``PORTAL_TEST_NOW``, from
where it runs on in real time. On top of that, the file named by
``PORTAL_TEST_CLOCK_FILE`` holds a number of seconds (none or 0: no change):
before each request the server runs that much ahead. A browser test moves
time between two clicks this way (a page left open past a deadline) without
restarting the server. The test writes the file with a rename, so a request
never reads half a number.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import time_machine

from tests.frozen_wsgi import app as portal_app

_CLOCK_FILE = Path(os.environ["PORTAL_TEST_CLOCK_FILE"])
_lock = threading.Lock()
_offset = 0.0
_ahead: time_machine.travel | None = None


def _wanted_offset() -> float:
    try:
        text = _CLOCK_FILE.read_text().strip()
    except FileNotFoundError:
        return 0.0
    return float(text) if text else 0.0


def _set_offset(seconds: float) -> None:
    """Run ``seconds`` ahead of the frozen_wsgi clock (a travel on top of its travel)."""
    global _ahead, _offset
    if _ahead is not None:
        _ahead.stop()
        _ahead = None
    if seconds:
        _ahead = time_machine.travel(datetime.now(UTC) + timedelta(seconds=seconds), tick=True)
        _ahead.start()
    _offset = seconds


def app(environ, start_response):
    wanted = _wanted_offset()
    if wanted != _offset:
        with _lock:
            if wanted != _offset:
                _set_offset(wanted)
    return portal_app(environ, start_response)
