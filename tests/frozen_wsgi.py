"""WSGI entry point for tests that run Portal under gunicorn with the tests' clock.

``PORTAL_TEST_NOW`` (ISO 8601) moves the server's clock there before the app
is built, so data arranged at the tests' ``NOW`` is in the future for the
server too. Time then runs on from that instant.
"""

import os
from datetime import datetime

import time_machine

from portal import create_app

if os.environ.get("PORTAL_TEST_NOW"):
    time_machine.travel(datetime.fromisoformat(os.environ["PORTAL_TEST_NOW"]), tick=True).start()

app = create_app()
