"""Sixty-four clients race for one slot against gunicorn with several workers.

Runs on the backend of the test run (SQLite, then PostgreSQL in ``make
test``): separate worker processes share only the database, so what keeps
them apart is the database transaction, not anything in one process.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from portal.booking.models import Booking
from portal.clients.models import Client
from tests.conftest import NOW
from tests.gunicorn_server import Gunicorn
from tests.test_concurrency import race_for_one_slot

CLIENTS = 64
SLOT_PARAM = "2026-03-03T09:00Z"


@pytest.fixture
def gunicorn(app_env, salon):
    server = Gunicorn({**app_env, "PORTAL_TEST_NOW": NOW.isoformat()}, workers=4, threads=4)
    server.start()
    yield server
    log = server.stop()
    assert "Traceback" not in log, log


def test_sixty_four_clients_over_http_get_exactly_one_booking(gunicorn, salon, session):
    url = f"{gunicorn.url}/b/salon/services/{salon.service.id}/book?provider=any&start={SLOT_PARAM}"
    results = race_for_one_slot(url, CLIENTS, timeout=180)

    statuses = sorted(status for status, _ in results)
    odd = [_main_text(page) for status, page in results if status not in (303, 409)]
    assert statuses == [303] + [409] * (CLIENTS - 1), (statuses, odd[:1])
    for status, page in results:
        if status == 409:
            assert "This time was just taken" in page
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Booking)) == 1
    # Nothing half-saved: only the winner became a client.
    assert session.scalar(select(func.count()).select_from(Client)) == 1


def _main_text(page: str) -> str:
    """The page's message, without the layout around it (for a readable assertion)."""
    main = page.split("<main", 1)[-1].split("</main>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", main).split())[:500]
