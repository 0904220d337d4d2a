"""The whole client flow through the Flask test client: book, manage, cancel."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from portal.booking.models import Booking, BookingConsent
from portal.mail.models import OutboxMessage
from tests.conftest import SLOT, csrf_token, outbox, path_of
from tests.factories import DETAILS

#: SLOT (Tuesday 3 March 2026, 10:00 in Berlin) as the booking URL writes it.
SLOT_PARAM = "2026-03-03T09:00Z"


def booking_url(salon, provider="any", start=SLOT_PARAM) -> str:
    return f"/b/salon/services/{salon.service.id}/book?provider={provider}&start={start}"


def post_booking(client, salon, **fields):
    page = client.get(booking_url(salon))
    assert page.status_code == 200
    data = {"csrf_token": csrf_token(page.text), **DETAILS, **fields}
    return client.post(booking_url(salon), data=data)


def count_bookings(session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(Booking))


def test_services_page_lists_the_business_services(client, salon):
    page = client.get("/b/salon/")
    assert page.status_code == 200
    assert "Haircut" in page.text
    assert f"/b/salon/services/{salon.service.id}" in page.text


def test_slot_page_shows_free_times_in_the_business_timezone(client, salon):
    page = client.get(f"/b/salon/services/{salon.service.id}?provider=any&day=2026-03-03")
    assert page.status_code == 200
    # 09:00 local is 08:00 UTC in winter: the page shows local wall-clock times.
    assert ">09:00<" in page.text
    assert ">16:30<" in page.text
    assert ">17:00<" not in page.text
    assert "start=2026-03-03T08:00Z" in page.text


def test_booking_without_consents_is_refused_and_input_kept(client, salon, session):
    response = post_booking(client, salon)
    assert response.status_code == 422
    assert "Please accept the terms and conditions to book." in response.text
    assert "Please accept the cancellation policy to book." in response.text
    assert 'value="Mia Example"' in response.text
    assert 'value="mia@example.com"' in response.text
    assert count_bookings(session) == 0


def test_booking_with_one_consent_missing_is_refused(client, salon, session):
    response = post_booking(client, salon, accept_terms="y")
    assert response.status_code == 422
    assert "Please accept the cancellation policy to book." in response.text
    assert "Please accept the terms and conditions" not in response.text
    assert count_bookings(session) == 0


def test_policy_summary_and_checkbox_stand_above_the_confirm_button(client, salon):
    page = client.get(booking_url(salon)).text
    summary = page.index("Cancel free of charge until 24 hours before.")
    checkbox = page.index('name="accept_policy"')
    button = page.index("Confirm booking")
    assert summary < checkbox < button
    assert "/b/salon/cancellation-policy" in page
    assert "/b/salon/terms" in page


def test_complete_booking_records_consents_and_sends_confirmation(app, client, salon, session):
    response = post_booking(client, salon, accept_terms="y", accept_policy="y")
    assert response.status_code == 303
    manage_path = path_of(response)
    assert manage_path.startswith("/b/salon/manage/")
    assert response.headers["Location"] == f"{manage_path}?done=booked"

    booking = session.scalars(select(Booking)).one()
    assert booking.start_at == SLOT
    assert booking.end_at == SLOT + timedelta(minutes=30)
    assert booking.status == "confirmed"
    assert booking.client.email == "mia@example.com"
    token = manage_path.rsplit("/", 1)[1]
    assert len(token) >= 43  # 256 bits in URL-safe base64
    assert token not in booking.manage_token_hash
    consents = session.scalars(select(BookingConsent).order_by(BookingConsent.kind)).all()
    assert [c.kind for c in consents] == ["cancellation_policy", "terms"]
    assert all(c.ip_address == "127.0.0.1" for c in consents)
    assert consents[0].policy_version.version == 1
    assert consents[1].terms_version.version == 1

    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert "Your booking is confirmed" in page.text
    assert "Tuesday, 03 March 2026, 10:00" in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"

    [sent] = outbox(app)
    message = email.message_from_bytes(sent.read_bytes(), policy=email.policy.default)
    assert message["To"] == "Mia Example <mia@example.com>"
    body = message.get_body(("plain",)).get_content()
    assert f"http://portal.test{manage_path}" in body
    ics = message.get_payload()[1]
    assert ics.get_content_type() == "text/calendar"
    calendar = ics.get_payload(decode=True).decode()
    assert "DTSTART:20260303T090000Z" in calendar
    assert "DTEND:20260303T093000Z" in calendar


def test_the_manage_page_says_what_just_happened_only_while_it_is_true(client, salon):
    manage_path = path_of(post_booking(client, salon, accept_terms="y", accept_policy="y"))
    page = client.get(manage_path)
    assert "Your booking is confirmed" not in page.text  # opened later, from the e-mail
    client.post(f"{manage_path}/cancel", data={"csrf_token": csrf_token(page.text)})
    stale = client.get(f"{manage_path}?done=booked")
    assert stale.status_code == 200
    assert "Your booking is confirmed" not in stale.text


def test_an_unknown_outcome_in_the_manage_address_is_refused(client, salon):
    manage_path = path_of(post_booking(client, salon, accept_terms="y", accept_policy="y"))
    response = client.get(f"{manage_path}?done=paid")
    assert response.status_code == 400
    assert "This page address is not valid. Please open your link again." in response.text


def test_cancellation_inside_the_window_frees_the_slot(app, client, salon, session):
    manage_path = path_of(post_booking(client, salon, accept_terms="y", accept_policy="y"))
    page = client.get(manage_path)
    response = client.post(f"{manage_path}/cancel", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 303
    assert response.headers["Location"] == f"{manage_path}?done=cancelled"
    assert "Your booking is cancelled" in client.get(response.headers["Location"]).text
    assert "Your booking is cancelled" not in client.get(manage_path).text
    session.rollback()
    booking = session.scalars(select(Booking)).one()
    assert booking.status == "cancelled"
    assert booking.cancelled_by == "client"
    assert len(outbox(app)) == 2
    cancellation = email.message_from_bytes(outbox(app)[1].read_bytes())
    assert cancellation["Subject"].startswith("Booking cancelled")
    # The slot is offered again and can be booked by someone else.
    slots = client.get(f"/b/salon/services/{salon.service.id}?day=2026-03-03").text
    assert "start=2026-03-03T09:00Z" in slots
    assert post_booking(client, salon, accept_terms="y", accept_policy="y").status_code == 303


def test_late_cancellation_is_refused_with_a_warning(client, salon, session, clock):
    manage_path = path_of(post_booking(client, salon, accept_terms="y", accept_policy="y"))
    page = client.get(manage_path)
    token = csrf_token(page.text)
    clock.move_to(SLOT - timedelta(hours=23))
    page = client.get(manage_path)
    assert "Cancel this booking" not in page.text
    assert "The time to cancel online ended" in page.text
    response = client.post(f"{manage_path}/cancel", data={"csrf_token": token})
    assert response.status_code == 409
    assert "This booking can no longer be cancelled online" in response.text
    assert "Monday, 02 March 2026, 10:00" in response.text
    session.rollback()
    assert session.scalars(select(Booking)).one().status == "confirmed"


def test_terms_and_policy_pages_show_the_current_version(client, salon):
    terms = client.get("/b/salon/terms")
    assert terms.status_code == 200
    assert "Be on time." in terms.text
    assert "Version 1" in terms.text
    policy = client.get("/b/salon/cancellation-policy")
    assert policy.status_code == 200
    assert "Prepayment" in policy.text


def test_booking_without_terms_or_policy_needs_no_checkbox(client, salon, session):
    salon.business.terms_enabled = False
    salon.business.cancellation_policy_enabled = False
    session.commit()
    page = client.get(booking_url(salon)).text
    assert "accept_terms" not in page
    assert "accept_policy" not in page
    assert post_booking(client, salon).status_code == 303
    booking = session.scalars(select(Booking)).one()
    assert booking.consents == []
    assert booking.policy_version is None


def test_the_booking_request_only_queues_its_confirmation(app, client, salon, session):
    response = post_booking(client, salon, accept_terms="y", accept_policy="y")
    assert response.status_code == 303
    assert not list(Path(app.config["OUTBOX_PATH"]).glob("*.eml"))  # nothing sent in the request
    [queued] = session.scalars(select(OutboxMessage)).all()
    assert (queued.kind, queued.status, queued.recipient) == (
        "booking.confirmation",
        "pending",
        DETAILS["email"],
    )
    token = path_of(response).rsplit("/", 1)[-1]
    assert token.encode() not in queued.payload_sealed  # the manage link is sealed at rest
    [sent] = outbox(app)  # the worker's step writes and sends it
    assert token in sent.read_text()
    session.rollback()
    assert session.get(OutboxMessage, queued.id).status == "sent"
    assert session.get(OutboxMessage, queued.id).payload_sealed is None


def test_a_confirmation_that_cannot_be_written_fails_and_the_booking_stands(
    app, client, salon, session, monkeypatch, caplog
):
    from portal.mail import outbox as mail_outbox

    def broken(*_args, **_kwargs):
        raise RuntimeError("template missing")

    monkeypatch.setitem(mail_outbox._renderers, "booking.confirmation", broken)
    response = post_booking(client, salon, accept_terms="y", accept_policy="y")
    assert response.status_code == 303
    assert client.get(response.headers["Location"]).status_code == 200
    assert count_bookings(session) == 1
    assert outbox(app) == []
    session.rollback()
    [failed] = session.scalars(select(OutboxMessage)).all()
    assert failed.status == "failed"
    assert "template missing" in failed.last_error
    assert "could not write outbox message" in caplog.text
