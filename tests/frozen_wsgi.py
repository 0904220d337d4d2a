"""WSGI entry point for tests that run Portal under gunicorn with the tests' clock.

``PORTAL_TEST_NOW`` (ISO 8601) moves the server's clock there before the app
is built, so data arranged at the tests' ``NOW`` is in the future for the
server too. Time then runs on from that instant.

Every worker process moves its own clock. ``PORTAL_TEST_NOW_REAL`` (the real
epoch seconds at which the test meant ``NOW``) keeps them in step: each
worker lands at ``NOW`` plus the real time since then. Without it, a worker
booted a second later runs a second behind, and a CSRF token signed by one
worker looks "from the future" to another (itsdangerous refuses those).
"""

import os
import time
from datetime import datetime, timedelta

import time_machine

from portal import create_app

if os.environ.get("PORTAL_TEST_NOW"):
    destination = datetime.fromisoformat(os.environ["PORTAL_TEST_NOW"])
    if os.environ.get("PORTAL_TEST_NOW_REAL"):
        elapsed = time.time() - float(os.environ["PORTAL_TEST_NOW_REAL"])
        destination += timedelta(seconds=elapsed)
    time_machine.travel(destination, tick=True).start()

app = create_app()
