"""WSGI entry point for tests that run Portal under gunicorn with the tests' clock.

``PORTAL_TEST_NOW`` (ISO 8601) moves the server's clock there before the app
is built, so data arranged at the tests' ``NOW`` is in the future for the
server too. Time then runs on from that instant.

Every worker process moves its own clock. ``PORTAL_TEST_NOW_REAL`` (the real
epoch seconds at which the test meant ``NOW``) keeps them in step: each
worker lands at ``NOW`` plus the real time since then. Without it, a worker
booted a second later runs a second behind, and a CSRF token signed by one
worker looks "from the future" to another (itsdangerous refuses those: the
form answers 400 "Form expired"). Its timestamps are whole seconds, so even
a few milliseconds between workers fail a form now and then, at a second's
turn; hence each worker measures and corrects its clock.
"""

import os
import time
from datetime import datetime, timedelta

import time_machine

from portal import create_app


def _travel_in_step(now: datetime, now_real: float) -> None:
    """Read ``now`` plus the real time since ``now_real``, to within a millisecond.

    Travelling starts the clock when ``start()`` runs; a worker descheduled
    between reading the real time and that call (4 workers booting on 2 cores)
    would run behind by the delay. So the clock is measured after the start,
    against the real one, and shifted by what it is off.
    """
    traveller = time_machine.travel(
        now + timedelta(seconds=time.time() - now_real), tick=True
    ).start()
    offset = now.timestamp() - now_real
    for _attempt in range(100):
        before = time_machine.escape_hatch.time.time()
        fake = time.time()
        after = time_machine.escape_hatch.time.time()
        if after - before < 0.001:
            break
    traveller.shift(timedelta(seconds=(before + after) / 2 + offset - fake))


if os.environ.get("PORTAL_TEST_NOW"):
    destination = datetime.fromisoformat(os.environ["PORTAL_TEST_NOW"])
    if os.environ.get("PORTAL_TEST_NOW_REAL"):
        _travel_in_step(destination, float(os.environ["PORTAL_TEST_NOW_REAL"]))
    else:
        time_machine.travel(destination, tick=True).start()

app = create_app()
