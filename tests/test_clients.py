"""Clients in the staff area: list and search, a client's page, blocking, auto-block, limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from portal.accounts.models import ClientAccount, SecuritySettings
from portal.audit.models import AuditEvent
from portal.booking.models import Booking, BookingEvent
from portal.clients.models import Client
from portal.clients.service import note_client_event
from tests.conftest import NOW, STAFF_EMAIL, STAFF_PASSWORD, csrf_token, path_of, sign_in
from tests.factories import CONSENTS, DETAILS, make_business, make_provider, make_service

#: Tuesday 3 March 2026, 10:00 and 11:00 in Berlin: bookable from NOW, cancellable until
#: 24 hours before.
SLOT = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
SLOT_PARAM = "2026-03-03T09:00Z"
LATER_SLOT_PARAM = "2026-03-03T10:00Z"
#: Inside both bookings' 24-hour windows: a cancellation now is late.
TOO_LATE = SLOT - timedelta(hours=23)
CONTACT = "Please contact Salon Test to book."
ACCOUNT_PASSWORD = "violet harbor tundra 58"


# --- arranging -------------------------------------------------------------


@pytest.fixture
def staff_browser(app, owner):
    """A second browser where the owner is signed in, beside the client's."""
    browser = app.test_client()
    assert sign_in(browser).status_code == 302
    return browser


def add_client(session, salon, name="Mia Example", email="mia@example.com", **values) -> Client:
    client = Client(business_id=salon.business.id, name=name, email=email, **values)
    session.add(client)
    session.commit()
    return client


def set_rules(session, salon, **values) -> None:
    for name, value in values.items():
        setattr(salon.business, name, value)
    session.commit()


def reload_client(session, client_id: int) -> Client:
    session.rollback()
    session.expire_all()
    return session.get(Client, client_id)


def count(session, model) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(model))


def audit_events(session, kind: str) -> list[AuditEvent]:
    session.rollback()
    return list(
        session.scalars(select(AuditEvent).where(AuditEvent.kind == kind).order_by(AuditEvent.id))
    )


# --- acting ----------------------------------------------------------------


def booking_url(salon, start=SLOT_PARAM) -> str:
    return f"/b/salon/services/{salon.service.id}/book?provider=any&start={start}"


def book_online(client, salon, start=SLOT_PARAM, address=None, **fields):
    """A client books through the public flow; returns the response to the POST."""
    environ = {"REMOTE_ADDR": address} if address else {}
    page = client.get(booking_url(salon, start), environ_base=environ)
    assert page.status_code == 200, page.text
    data = {"csrf_token": csrf_token(page.text), **DETAILS, **CONSENTS, **fields}
    return client.post(booking_url(salon, start), data=data, environ_base=environ)


def post_form(client, page_url, action, **data):
    """Post ``data`` to ``action`` with the CSRF token of ``page_url``."""
    page = client.get(page_url)
    return client.post(action, data={"csrf_token": csrf_token(page.text), **data})


def block(client, client_id: int, reason="Booked and never came, three times."):
    page = f"/staff/clients/{client_id}"
    return post_form(client, page, f"{page}/block", reason=reason)


def unblock(client, client_id: int):
    page = f"/staff/clients/{client_id}"
    return post_form(client, page, f"{page}/unblock")


def form_token(client, manage_path: str) -> str:
    """A CSRF token from a booking's manage page, taken while it still offers to cancel."""
    return csrf_token(client.get(manage_path).text)


def late_cancel(client, manage_path: str, token: str):
    """Press "cancel" on a booking's manage page (the clock decides whether it is late)."""
    return client.post(f"{manage_path}/cancel", data={"csrf_token": token})


def save_rules(client, **fields):
    page = client.get("/staff/booking-rules")
    assert page.status_code == 200
    data = {
        "csrf_token": csrf_token(page.text),
        "max_future_bookings_per_client": "5",
        "max_future_bookings_per_address": "10",
        "auto_block_after": "0",
        **fields,
    }
    return client.post("/staff/booking-rules", data=data)


# --- the list and search -----------------------------------------------------------


def test_clients_pages_need_a_signed_in_staff_user(client, salon, session):
    mia = add_client(session, salon)
    for url in ("/staff/clients", f"/staff/clients/{mia.id}"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/staff/login")
    response = client.post(f"/staff/clients/{mia.id}/block", data={"reason": "x"})
    assert response.status_code == 400  # no CSRF token: refused before the sign-in check
    assert reload_client(session, mia.id).blocked is False


def test_client_list_shows_everyone_by_name_with_account_and_block_status(
    client, owner_client, salon, session
):
    add_client(session, salon, "zoe Zimmer", "zoe@example.com", phone="+49 30 555")
    mia = add_client(session, salon)
    add_client(session, salon, "Bea Blocked", "bea@example.com", blocked=True)
    session.add(ClientAccount(business_id=salon.business.id, client_id=mia.id, email=mia.email))
    session.commit()

    page = client.get("/staff/clients")
    assert page.status_code == 200
    assert "3 client(s)." in page.text
    text = page.text
    assert text.index("Bea Blocked") < text.index("Mia Example") < text.index("zoe Zimmer")
    assert f'href="/staff/clients/{mia.id}"' in text
    assert "status-blocked" in text
    assert "<td>Yes</td>" in text and "<td>No</td>" in text
    assert 'href="/staff/clients"' in client.get("/staff/").text  # the nav link


@pytest.mark.parametrize(
    ("query", "found", "missed"),
    [
        ("MIA", "Mia Example", "Oskar Other"),
        ("OSKAR@EXAMPLE", "Oskar Other", "Mia Example"),
        ("ample.org", "Oskar Other", "Mia Example"),
        ("301234", "Mia Example", "Oskar Other"),
        ("30 1234", "Mia Example", "Oskar Other"),
        ("+49 (30) 123-4567", "Mia Example", "Oskar Other"),
    ],
)
def test_search_matches_name_email_or_phone_ignoring_case_and_spacing(
    client, owner_client, salon, session, query, found, missed
):
    add_client(session, salon, phone="+49 30 1234567")
    add_client(session, salon, "Oskar Other", "oskar@example.org", phone="+44 20 7946 0000")
    page = client.get("/staff/clients", query_string={"q": query})
    assert page.status_code == 200
    assert found in page.text
    assert missed not in page.text
    assert "1 client(s) match" in page.text


def test_search_takes_wildcards_literally_and_says_when_nothing_matches(
    client, owner_client, salon, session
):
    add_client(session, salon)
    for query in ("%", "_", "\\"):
        page = client.get("/staff/clients", query_string={"q": query})
        assert page.status_code == 200
        assert "Mia Example" not in page.text
        assert "0 client(s) match" in page.text
    response = client.get("/staff/clients", query_string={"q": "x" * 201})
    assert response.status_code == 400
    assert "Search for at most 200 characters." in response.text


def test_client_list_pages_by_fifty_and_refuses_a_bad_page(client, owner_client, salon, session):
    for n in range(60):
        session.add(
            Client(business_id=salon.business.id, name=f"Client {n:03d}", email=f"c{n}@example.com")
        )
    session.commit()

    first = client.get("/staff/clients")
    assert "Client 049" in first.text and "Client 050" not in first.text
    assert "Page 1 of 2." in first.text
    assert 'href="/staff/clients?page=2"' in first.text
    second = client.get("/staff/clients?page=2")
    assert "Client 050" in second.text and "Client 059" in second.text
    assert "Client 049" not in second.text
    assert 'href="/staff/clients?page=1"' in second.text
    # The search is kept from page to page.
    searched = client.get("/staff/clients", query_string={"q": "client", "page": "2"})
    assert "Client 059" in searched.text
    assert 'href="/staff/clients?q=client&amp;page=1"' in searched.text

    for bad in ("0", "-1", "abc", "1.5", "9999999", "²"):
        response = client.get("/staff/clients", query_string={"page": bad})
        assert response.status_code == 400, bad
        assert "That page number is not valid" in response.text
    past_the_end = client.get("/staff/clients?page=3")
    assert past_the_end.status_code == 404
    assert "There is no page 3; the list has 2." in past_the_end.text


def test_another_businesss_client_is_not_found(client, owner_client, salon, session):
    rival = make_business(session, slug="rival", name="Rival Studio")
    session.commit()
    rita = Client(business_id=rival.id, name="Rita Rival", email="rita@example.com")
    session.add(rita)
    session.commit()

    assert "Rita Rival" not in client.get("/staff/clients?q=rita").text
    assert client.get(f"/staff/clients/{rita.id}").status_code == 404
    assert client.get("/staff/clients/99999999999").status_code == 404
    own = add_client(session, salon)
    token = csrf_token(client.get(f"/staff/clients/{own.id}").text)
    for action in ("block", "unblock"):
        response = client.post(
            f"/staff/clients/{rita.id}/{action}", data={"csrf_token": token, "reason": "x"}
        )
        assert response.status_code == 404
        assert "There is no such client at this business." in response.text
    assert reload_client(session, rita.id).blocked is False


# --- a client's page ------------------------------------------------------------------------


def test_client_page_shows_bookings_consents_counts_and_account(
    client, owner_client, salon, session, make_booking
):
    browser = client.application.test_client()  # the client's own browser
    assert book_online(browser, salon, address="203.0.113.9").status_code == 303
    booking = session.scalars(select(Booking)).one()
    mia = booking.client
    past = make_booking(client=mia, start=NOW - timedelta(days=7), created_by="staff")
    session.add(
        BookingEvent(
            business_id=salon.business.id,
            booking_id=past.id,
            client_id=mia.id,
            kind="no_show",
            created_at=NOW,
        )
    )
    session.add(
        BookingEvent(
            business_id=salon.business.id,
            booking_id=booking.id,
            client_id=mia.id,
            kind="late_cancel_refused",
            created_at=NOW,
        )
    )
    session.commit()

    page = client.get(f"/staff/clients/{mia.id}")
    assert page.status_code == 200
    text = page.text
    assert "mia@example.com" in text and "+49 30 1234567" in text
    assert "<dt>Account</dt><dd>No</dd>" in text
    assert "<dt>No-shows</dt><dd>1</dd>" in text
    assert "<dt>Late attempts</dt><dd>1 " in text
    # Both bookings, newest first, linked to the staff booking page.
    assert text.index(f'href="/staff/bookings/{booking.id}"') < text.index(
        f'href="/staff/bookings/{past.id}"'
    )
    assert "Tuesday, 03 March 2026, 10:00" in text
    assert "the client online" in text and "<td>staff</td>" in text
    # The consents: which documents, which versions, when and from where.
    consents = text[text.index('id="consents-heading"') :]
    assert "Terms and conditions</td><td>1</td>" in consents
    assert "Cancellation policy</td><td>1</td>" in consents
    assert "Monday, 02 March 2026, 07:00" in consents
    assert consents.count("203.0.113.9") == 2
    assert "No-show" in text  # the status of the past booking

    session.add(ClientAccount(business_id=salon.business.id, client_id=mia.id, email=mia.email))
    session.commit()
    assert "<dt>Account</dt><dd>Yes</dd>" in client.get(f"/staff/clients/{mia.id}").text


def test_client_page_of_a_client_without_bookings(client, owner_client, salon, session):
    mia = add_client(session, salon)
    page = client.get(f"/staff/clients/{mia.id}").text
    assert "No bookings." in page
    assert "None recorded." in page
    assert "style=" not in page and "<script" not in page


# --- blocking by hand ------------------------------------------------------------------------


def test_blocking_asks_for_a_reason_and_is_audited_with_old_and_new(
    client, owner_client, salon, session
):
    mia = add_client(session, salon)
    response = block(client, mia.id, reason="   ")
    assert response.status_code == 422
    assert "Please say why the client is blocked" in response.text
    response = block(client, mia.id, reason="x" * 501)
    assert response.status_code == 422
    assert "The reason may have at most 500 characters." in response.text
    assert reload_client(session, mia.id).blocked is False

    response = block(client, mia.id, reason="Three no-shows in January.")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/staff/clients/{mia.id}"
    mia = reload_client(session, mia.id)
    assert (mia.blocked, mia.blocked_reason, mia.blocked_at) == (
        True,
        "Three no-shows in January.",
        NOW,
    )
    [event] = audit_events(session, "client.blocked")
    assert event.actor_label == "owner@salon.example"
    assert event.details["client"] == mia.id
    assert event.details["changes"]["blocked"] == [False, True]
    assert event.details["changes"]["blocked_reason"] == ["", "Three no-shows in January."]
    page = client.get(f"/staff/clients/{mia.id}").text
    assert "Mia Example is blocked" in page
    assert "Three no-shows in January." in page
    assert "Unblock Mia Example" in page

    again = block(client, mia.id)
    assert again.status_code == 409
    assert len(audit_events(session, "client.blocked")) == 1

    assert unblock(client, mia.id).status_code == 303
    mia = reload_client(session, mia.id)
    assert (mia.blocked, mia.blocked_reason, mia.blocked_at) == (False, "", None)
    [event] = audit_events(session, "client.unblocked")
    assert event.details["changes"]["blocked"] == [True, False]
    assert event.details["changes"]["blocked_reason"] == ["Three no-shows in January.", ""]
    response = unblock(client, mia.id)
    assert response.status_code == 409
    assert "This client is not blocked; nothing was changed." in response.text


def test_blocked_client_cannot_book_online_and_nothing_is_saved(
    app, client, staff_browser, salon, session
):
    add_client(session, salon, blocked=True, blocked_reason="No-shows")
    for address in ("mia@example.com", "MIA@Example.COM"):
        response = book_online(client, salon, email=address)
        assert response.status_code == 403
        assert CONTACT in response.text
        assert "Booking not possible online" in response.text
        assert 'href="/b/salon/"' in response.text  # back to the business's page
    assert count(session, Booking) == 0
    assert count(session, Client) == 1
    # Another client books as usual.
    assert book_online(client, salon, email="noah@example.com").status_code == 303


def test_blocked_client_with_an_account_is_refused_whatever_the_case_of_the_address(
    app, client, salon, session
):
    """The account's own client record is not blocked; a differently spelt one is."""
    settings = SecuritySettings.defaults(salon.business.id)
    settings.client_accounts_enabled = True
    session.add(settings)
    session.commit()
    add_client(session, salon, email="Mia@Example.com", blocked=True)
    page = client.get("/b/salon/account/signup")
    client.post(
        "/b/salon/account/signup",
        data={
            "csrf_token": csrf_token(page.text),
            **DETAILS,
            "password": ACCOUNT_PASSWORD,
            "confirm": ACCOUNT_PASSWORD,
        },
    )
    session.rollback()
    account = session.scalars(select(ClientAccount)).one()
    assert account.email == "mia@example.com"
    account.email_verified_at = NOW
    session.commit()
    page = client.get("/b/salon/account/login")
    response = client.post(
        "/b/salon/account/login",
        data={
            "csrf_token": csrf_token(page.text),
            "email": "MIA@example.com",
            "password": ACCOUNT_PASSWORD,
        },
    )
    assert response.status_code == 302

    details = client.get(booking_url(salon))
    assert details.status_code == 403
    assert CONTACT in details.text
    token = csrf_token(client.get("/b/salon/account/").text)
    response = client.post(booking_url(salon), data={"csrf_token": token, **DETAILS, **CONSENTS})
    assert response.status_code == 403
    assert CONTACT in response.text
    assert count(session, Booking) == 0


def test_blocked_account_holder_is_refused_under_any_address(client, salon, session):
    """Matched by the account: its client is blocked, whatever e-mail the form says."""
    settings = SecuritySettings.defaults(salon.business.id)
    settings.client_accounts_enabled = True
    session.add(settings)
    mia = add_client(session, salon, blocked=True)
    session.add(
        ClientAccount(
            business_id=salon.business.id,
            client_id=mia.id,
            email="mia.account@example.com",
            email_verified_at=NOW,
        )
    )
    session.commit()
    # A guest typing the account's address is refused too.
    response = book_online(client, salon, email="MIA.ACCOUNT@example.com")
    assert response.status_code == 403
    assert CONTACT in response.text
    assert count(session, Booking) == 0


def test_staff_can_still_book_for_a_blocked_client(client, owner_client, salon, session):
    mia = add_client(session, salon, blocked=True)
    url = f"/staff/bookings/new?service={salon.service.id}&provider=any&day=2026-03-03"
    page = client.get(url)
    response = client.post(
        url, data={"csrf_token": csrf_token(page.text), "start": SLOT_PARAM, **DETAILS}
    )
    assert response.status_code == 303
    booking = session.scalars(select(Booking)).one()
    assert (booking.client_id, booking.created_by, booking.status) == (mia.id, "staff", "confirmed")
    assert booking.ip_address == ""
    assert reload_client(session, mia.id).blocked is True


def test_unblocked_client_can_book_again(client, staff_browser, salon, session):
    mia = add_client(session, salon)
    assert block(staff_browser, mia.id).status_code == 303
    assert book_online(client, salon).status_code == 403
    assert unblock(staff_browser, mia.id).status_code == 303
    response = book_online(client, salon)
    assert response.status_code == 303
    booking = session.scalars(select(Booking)).one()
    assert booking.client_id == mia.id
    assert booking.ip_address == "127.0.0.1"


# --- blocking automatically ------------------------------------------------------------------


def test_late_cancellation_attempts_block_the_client_automatically(
    app, client, owner, salon, session, clock
):
    set_rules(session, salon, auto_block_after=2)
    first = path_of(book_online(client, salon))
    second = path_of(book_online(client, salon, start=LATER_SLOT_PARAM))
    token = form_token(client, first)
    clock.move_to(TOO_LATE)

    # Pressing cancel twice on one booking is one late attempt.
    for _ in range(2):
        response = late_cancel(client, first, token)
        assert response.status_code == 409
        assert "This booking can no longer be cancelled online" in response.text
    mia = session.scalars(select(Client)).one()
    assert reload_client(session, mia.id).blocked is False
    assert count(session, BookingEvent) == 2

    assert late_cancel(client, second, token).status_code == 409
    mia = reload_client(session, mia.id)
    assert mia.blocked is True
    assert mia.blocked_reason == "Blocked automatically after 2 late cancellations or no-shows"
    assert mia.blocked_at == TOO_LATE
    [event] = audit_events(session, "client.blocked")
    assert (event.actor_kind, event.actor_label, event.actor_id) == ("system", "system", None)
    assert event.details["changes"]["blocked"] == [False, True]
    assert event.details["rule"] == 2
    # Both bookings stand; the client now has to ask the business.
    assert {b.status for b in session.scalars(select(Booking))} == {"confirmed"}
    staff_browser = app.test_client()
    assert sign_in(staff_browser).status_code == 302
    page = staff_browser.get(f"/staff/clients/{mia.id}").text
    assert "<dt>Late attempts</dt><dd>2 " in page
    assert "Blocked automatically after 2 late cancellations or no-shows" in page
    clock.move_to(NOW)
    response = book_online(client, salon, start="2026-03-04T09:00Z")
    assert response.status_code == 403
    assert CONTACT in response.text


def test_no_shows_marked_by_staff_block_the_client_automatically(
    client, owner_client, salon, session, make_booking
):
    set_rules(session, salon, auto_block_after=2)
    mia = add_client(session, salon)
    bookings = [make_booking(client=mia, start=NOW - timedelta(days=days)) for days in (1, 8)]
    for n, booking in enumerate(bookings, start=1):
        page = f"/staff/bookings/{booking.id}"
        assert post_form(client, page, f"{page}/no-show").status_code == 303
        assert reload_client(session, mia.id).blocked is (n == 2)
    mia = reload_client(session, mia.id)
    assert mia.blocked_reason == "Blocked automatically after 2 late cancellations or no-shows"
    [event] = audit_events(session, "client.blocked")
    assert event.actor_kind == "system"
    assert "<dt>No-shows</dt><dd>2</dd>" in client.get(f"/staff/clients/{mia.id}").text


def test_late_attempts_and_no_shows_count_together(
    client, owner_client, salon, session, clock, make_booking
):
    set_rules(session, salon, auto_block_after=2)
    manage = path_of(book_online(client, salon))
    mia = session.scalars(select(Client)).one()
    past = make_booking(client=mia, start=NOW - timedelta(days=1))
    page = f"/staff/bookings/{past.id}"
    assert post_form(client, page, f"{page}/no-show").status_code == 303
    assert reload_client(session, mia.id).blocked is False
    token = form_token(client, manage)
    clock.move_to(TOO_LATE)
    assert late_cancel(client, manage, token).status_code == 409
    assert reload_client(session, mia.id).blocked is True


def test_without_the_rule_events_are_recorded_but_nobody_is_blocked(client, salon, session, clock):
    assert salon.business.auto_block_after == 0
    manage = path_of(book_online(client, salon))
    token = form_token(client, manage)
    clock.move_to(TOO_LATE)
    for _ in range(3):
        assert late_cancel(client, manage, token).status_code == 409
    assert count(session, BookingEvent) == 3
    assert session.scalars(select(Client)).one().blocked is False
    assert audit_events(session, "client.blocked") == []


def test_unblocking_starts_the_count_afresh(
    client, owner_client, salon, session, clock, make_booking
):
    set_rules(session, salon, auto_block_after=1)
    mia = add_client(session, salon)
    first, second = (make_booking(client=mia, start=NOW - timedelta(days=days)) for days in (1, 2))
    page = f"/staff/bookings/{first.id}"
    assert post_form(client, page, f"{page}/no-show").status_code == 303
    assert reload_client(session, mia.id).blocked is True
    clock.move_to(NOW + timedelta(minutes=5))
    assert unblock(client, mia.id).status_code == 303
    assert reload_client(session, mia.id).blocked is False
    clock.move_to(NOW + timedelta(minutes=10))
    page = f"/staff/bookings/{second.id}"
    assert post_form(client, page, f"{page}/no-show").status_code == 303
    assert reload_client(session, mia.id).blocked is True
    assert len(audit_events(session, "client.blocked")) == 2


def test_late_reschedule_attempts_count_and_other_events_are_refused(salon, session, make_booking):
    set_rules(session, salon, auto_block_after=2)
    mia = add_client(session, salon)
    first, second = (
        make_booking(client=mia, start=SLOT + timedelta(hours=hours)) for hours in (0, 1)
    )
    note_client_event(session, salon.business, mia.id, "late_reschedule_refused", first.id, NOW)
    session.commit()
    assert mia.blocked is False
    note_client_event(session, salon.business, mia.id, "late_cancel_refused", second.id, NOW)
    session.commit()
    assert mia.blocked is True
    with pytest.raises(ValueError, match="not a client event"):
        note_client_event(session, salon.business, mia.id, "rescheduled", first.id, NOW)


# --- booking limits -------------------------------------------------------------------------


def test_booking_limit_per_client_email(client, staff_browser, salon, session, make_booking):
    set_rules(session, salon, max_future_bookings_per_client=2)
    assert book_online(client, salon).status_code == 303
    assert book_online(client, salon, start=LATER_SLOT_PARAM).status_code == 303

    response = book_online(
        client, salon, start="2026-03-03T11:00Z", email="MIA@example.com", address="198.51.100.7"
    )
    assert response.status_code == 409
    assert "You already have 2 upcoming bookings with Salon Test" in response.text
    assert "Please cancel one first, or contact Salon Test to book more." in response.text
    assert count(session, Booking) == 2

    # A cancelled booking frees a place; a past one does not count.
    session.rollback()
    first = session.scalars(select(Booking).order_by(Booking.start_at)).first()
    first.status = "cancelled"
    session.commit()
    assert book_online(client, salon, start="2026-03-03T11:00Z").status_code == 303
    session.rollback()
    mia = session.scalars(select(Client)).one()
    make_booking(client=mia, start=NOW - timedelta(days=1))
    # Staff are not limited, and their bookings leave the client's own allowance alone.
    url = f"/staff/bookings/new?service={salon.service.id}&provider=any&day=2026-03-03"
    page = staff_browser.get(url)
    response = staff_browser.post(
        url,
        data={"csrf_token": csrf_token(page.text), "start": "2026-03-03T12:00Z", **DETAILS},
    )
    assert response.status_code == 303
    assert count(session, Booking) == 5
    assert book_online(client, salon, start="2026-03-03T13:00Z").status_code == 409


def test_booking_limit_per_address(client, salon, session):
    set_rules(session, salon, max_future_bookings_per_address=2)
    office = "192.0.2.10"
    for n, start in enumerate((SLOT_PARAM, LATER_SLOT_PARAM)):
        response = book_online(client, salon, start, address=office, email=f"p{n}@example.com")
        assert response.status_code == 303
    session.rollback()
    assert {b.ip_address for b in session.scalars(select(Booking))} == {office}

    response = book_online(
        client, salon, "2026-03-03T11:00Z", address=office, email="p3@example.com"
    )
    assert response.status_code == 409
    assert "2 upcoming bookings have already been made online from your network" in response.text
    assert CONTACT in response.text
    assert count(session, Booking) == 2
    assert count(session, Client) == 2
    # From another address the same person may book.
    response = book_online(
        client, salon, "2026-03-03T11:00Z", address="2001:db8::1", email="p3@example.com"
    )
    assert response.status_code == 303


def test_a_limit_of_zero_means_no_limit(client, salon, session):
    set_rules(session, salon, max_future_bookings_per_client=0, max_future_bookings_per_address=0)
    for hour in range(9, 16):
        assert book_online(client, salon, f"2026-03-03T{hour:02d}:00Z").status_code == 303
    assert count(session, Booking) == 7


def test_default_limits_allow_five_bookings_per_client(client, salon, session):
    for hour in range(9, 14):
        assert book_online(client, salon, f"2026-03-03T{hour:02d}:00Z").status_code == 303
    response = book_online(client, salon, "2026-03-03T14:00Z")
    assert response.status_code == 409
    assert "You already have 5 upcoming bookings" in response.text


# --- the owner's rules ------------------------------------------------------------------------


def test_owner_sets_the_client_rules_and_each_change_is_audited(
    client, owner_client, salon, session
):
    page = client.get("/staff/booking-rules").text
    assert 'name="max_future_bookings_per_client"' in page and 'value="5"' in page
    assert 'name="max_future_bookings_per_address"' in page and 'value="10"' in page
    assert 'name="auto_block_after"' in page
    assert "style=" not in page

    response = save_rules(
        client,
        max_future_bookings_per_client="3",
        max_future_bookings_per_address="0",
        auto_block_after=" 4 ",
    )
    assert response.status_code == 303
    session.rollback()
    session.refresh(salon.business)
    business = salon.business
    assert (
        business.max_future_bookings_per_client,
        business.max_future_bookings_per_address,
        business.auto_block_after,
    ) == (3, 0, 4)
    [event] = audit_events(session, "settings.changed")
    assert event.details == {
        "area": "booking_rules",
        "changes": {
            "max_future_bookings_per_client": [5, 3],
            "max_future_bookings_per_address": [10, 0],
            "auto_block_after": [0, 4],
        },
    }


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("auto_block_after", "21", "Enter a number from 1 to 20, or 0 to never block"),
        ("auto_block_after", "-1", "Enter a number from 1 to 20, or 0 to never block"),
        ("auto_block_after", "two", "Enter a number from 1 to 20, or 0 to never block"),
        ("auto_block_after", "", "Enter a number from 1 to 20, or 0 to never block"),
        ("max_future_bookings_per_client", "101", "Enter a number from 1 to 100, or 0 for no"),
        ("max_future_bookings_per_client", "1.5", "Enter a number from 1 to 100, or 0 for no"),
        ("max_future_bookings_per_address", "1e3", "Enter a number from 1 to 100, or 0 for no"),
        ("max_future_bookings_per_address", "٣", "Enter a number from 1 to 100, or 0 for no"),
    ],
)
def test_client_rules_are_validated_with_clear_messages(
    client, owner_client, salon, session, field, value, message
):
    response = save_rules(client, **{field: value})
    assert response.status_code == 422
    # Once beside the field and once in the error summary, as a link to the field.
    assert response.text.count(message) == 2
    assert f'href="#{field}">' in response.text
    assert audit_events(session, "settings.changed") == []
    session.refresh(salon.business)
    assert salon.business.auto_block_after == 0
    assert salon.business.max_future_bookings_per_client == 5


def test_non_owner_staff_see_and_block_clients_but_not_change_the_rules(
    client, staff_member, salon, session
):
    mia = add_client(session, salon)
    assert sign_in(client, STAFF_EMAIL, STAFF_PASSWORD).status_code == 302
    assert "Mia Example" in client.get("/staff/clients").text
    assert client.get(f"/staff/clients/{mia.id}").status_code == 200
    assert block(client, mia.id).status_code == 303
    [event] = audit_events(session, "client.blocked")
    assert event.actor_label == STAFF_EMAIL
    assert unblock(client, mia.id).status_code == 303

    assert client.get("/staff/booking-rules").status_code == 403
    token = csrf_token(client.get("/staff/clients").text)
    response = client.post(
        "/staff/booking-rules", data={"csrf_token": token, "auto_block_after": "1"}
    )
    assert response.status_code == 403
    session.rollback()
    session.refresh(salon.business)
    assert salon.business.auto_block_after == 0


def test_the_rules_of_one_business_do_not_reach_another(client, salon, session):
    """A blocked client at one business books freely at another under the same address."""
    add_client(session, salon, blocked=True)
    other = make_business(session, slug="other", name="Other Place")
    service = make_service(session, other, name="Massage")
    make_provider(session, other, [service], name="Sam")
    session.commit()
    url = f"/b/other/services/{service.id}/book?provider=any&start={SLOT_PARAM}"
    page = client.get(url)
    response = client.post(url, data={"csrf_token": csrf_token(page.text), **DETAILS})
    assert response.status_code == 303
