"""Sixteen clients race for one slot over real HTTP: exactly one wins."""

from __future__ import annotations

import threading
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from portal.booking.models import Booking
from portal.clients.models import Client
from tests.conftest import csrf_token
from tests.factories import CONSENTS

CLIENTS = 16
SLOT_PARAM = "2026-03-03T09:00Z"


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


class Browser:
    """One client with its own cookies, as a separate person would have."""

    def __init__(self) -> None:
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), NoRedirect()
        )

    def request(self, url: str, data: dict | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(url, data=body, timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def race_for_one_slot(url: str, clients: int, timeout: float = 120) -> list[tuple[int, str]]:
    """``clients`` people each open the booking form, then all post it at the same moment."""
    browsers = [Browser() for _ in range(clients)]
    forms = []
    for number, browser in enumerate(browsers):
        status, page = browser.request(url)
        assert status == 200, page
        forms.append(
            {
                "csrf_token": csrf_token(page),
                "name": f"Client {number}",
                "email": f"client{number}@example.com",
                "phone": "+49 30 1234567",
                **CONSENTS,
            }
        )
    start_together = threading.Barrier(clients)
    results: list[tuple[int, str]] = [(0, "")] * clients

    def book(index: int) -> None:
        start_together.wait()
        results[index] = browsers[index].request(url, forms[index])

    threads = [threading.Thread(target=book, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results


def test_sixteen_clients_racing_for_one_slot_get_exactly_one_booking(live_server, salon, session):
    url = f"{live_server}/b/salon/services/{salon.service.id}/book?provider=any&start={SLOT_PARAM}"
    results = race_for_one_slot(url, CLIENTS)

    statuses = sorted(status for status, _ in results)
    assert statuses == [303] + [409] * (CLIENTS - 1)
    for status, page in results:
        if status == 409:
            assert "This time was just taken" in page
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Booking)) == 1
    # Nothing half-saved: only the winner became a client.
    assert session.scalar(select(func.count()).select_from(Client)) == 1
