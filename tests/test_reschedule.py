"""A client moves their booking from the manage page, under the rescheduling rule they accepted."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from portal.booking.models import Booking, BookingEvent
from portal.booking.service import (
    AlreadyCancelled,
    RescheduleTooLate,
    SameTime,
    SlotTaken,
    SlotUnavailable,
    reschedule,
)
from portal.policies.service import publish_policy
from tests.conftest import NOW, SLOT, csrf_token, outbox, path_of
from tests.factories import CONSENTS, DETAILS, make_provider
from tests.test_flow import booking_url

#: Tuesday 3 March 2026 in Berlin (UTC+1): 10:00, 10:30, 11:00 and 14:00 local.
TEN = SLOT
HALF_PAST_TEN = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
ELEVEN = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
TWO_PM = datetime(2026, 3, 3, 13, 0, tzinfo=UTC)
#: The default policy lets clients move a booking until 24 hours before: Monday 10:00 local.
DEADLINE = TEN - timedelta(hours=24)
JUST_BEFORE_DEADLINE = DEADLINE - timedelta(minutes=1)
JUST_AFTER_DEADLINE = DEADLINE + timedelta(minutes=1)

UID = re.compile(r"^UID:(\S+)", re.MULTILINE)
SEQUENCE = re.compile(r"^SEQUENCE:(\d+)", re.MULTILINE)


def iso(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%MZ")


def book(client, salon, start: datetime = TEN, **details) -> str:
    """Book ``start`` with both consents; return the manage page's path."""
    url = booking_url(salon, start=iso(start))
    page = client.get(url)
    assert page.status_code == 200
    data = {"csrf_token": csrf_token(page.text), **DETAILS, **CONSENTS, **details}
    response = client.post(url, data=data)
    assert response.status_code == 303
    return path_of(response)


def move(client, manage_path: str, start, provider="any", token=None):
    """Post a new time, with the CSRF token of the manage page."""
    token = token or csrf_token(client.get(manage_path).text)
    value = iso(start) if isinstance(start, datetime) else start
    return client.post(
        f"{manage_path}/reschedule",
        data={"csrf_token": token, "start": value, "provider": provider},
    )


def the_booking(session, email_address: str = DETAILS["email"]) -> Booking:
    session.rollback()
    session.expire_all()
    return session.scalars(
        select(Booking).join(Booking.client).where(Booking.client.has(email=email_address))
    ).one()


def events(session, kind: str) -> list[BookingEvent]:
    session.rollback()
    return list(session.scalars(select(BookingEvent).where(BookingEvent.kind == kind)))


def calendar_of(path) -> str:
    message = email.message_from_bytes(path.read_bytes())
    attachment = message.get_payload()[1]
    assert attachment.get_content_type() == "text/calendar"
    return attachment.get_payload(decode=True).decode()


# -- the manage page -------------------------------------------------------------------


def test_manage_page_offers_a_change_of_time_inside_the_window(client, salon):
    manage_path = book(client, salon)
    page = client.get(manage_path).text
    assert "Change the time" in page
    assert f'href="{manage_path}/reschedule"' in page
    assert "You can move this booking to another free time until Monday, 02 March 2026, 10:00" in (
        page
    )


def test_reschedule_page_lists_free_times_with_the_calendar_of_booking(client, salon):
    manage_path = book(client, salon)
    page = client.get(f"{manage_path}/reschedule?day=2026-03-03")
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert '<ul class="calendar' in page.text
    assert (
        "Your booking now: <strong>Haircut</strong> with Alex, Tuesday, 03 March 2026, 10:00"
        in (page.text)
    )
    # The booking's own time is not offered: choosing it would change nothing.
    assert f"start={iso(TEN)}" not in page.text
    assert f"start={iso(HALF_PAST_TEN)}" in page.text
    assert ">09:00<" in page.text and ">16:30<" in page.text


def test_choosing_a_time_asks_to_confirm_the_move(client, salon):
    manage_path = book(client, salon)
    page = client.get(f"{manage_path}/reschedule?provider=any&start={iso(TWO_PM)}")
    assert page.status_code == 200
    assert "Move your booking from Tuesday, 03 March 2026, 10:00 to" in page.text
    assert "<strong>Tuesday, 03 March 2026, 14:00</strong> with Alex" in page.text
    assert f'name="start" value="{iso(TWO_PM)}"' in page.text
    assert "Move my booking" in page.text


# -- moving inside the window ----------------------------------------------------------


def test_reschedule_inside_the_window_moves_the_booking_and_keeps_the_token(
    app, client, salon, session, clock
):
    manage_path = book(client, salon)
    before = the_booking(session)
    clock.move_to(JUST_BEFORE_DEADLINE)

    response = move(client, manage_path, TWO_PM)
    assert response.status_code == 303
    assert response.headers["Location"] == f"{manage_path}?done=rescheduled"

    after = the_booking(session)
    assert after.id == before.id
    assert after.manage_token_hash == before.manage_token_hash
    assert after.start_at == TWO_PM
    assert after.end_at == TWO_PM + timedelta(minutes=30)
    assert after.rescheduled_at == JUST_BEFORE_DEADLINE
    assert after.status == "confirmed"
    assert [c.kind for c in after.consents] == ["terms", "cancellation_policy"]

    page = client.get(response.headers["Location"]).text
    assert "Your booking has a new time" in page
    assert "Tuesday, 03 March 2026, 14:00" in page

    # The old time is free again, for anyone.
    slots = client.get(f"/b/salon/services/{salon.service.id}?day=2026-03-03").text
    assert f"start={iso(TEN)}" in slots
    assert f"start={iso(TWO_PM)}" not in slots


def test_the_client_gets_an_updated_calendar_entry_by_e_mail(app, client, salon):
    manage_path = book(client, salon)
    outbox(app)  # the worker sends the confirmation before the client moves the booking
    assert move(client, manage_path, TWO_PM).status_code == 303

    confirmation, moved = outbox(app)
    message = email.message_from_bytes(moved.read_bytes(), policy=email.policy.default)
    assert message["To"] == "Mia Example <mia@example.com>"
    assert message["Subject"] == "Booking moved: Haircut, 03 Mar 2026 14:00"
    body = message.get_body(("plain",)).get_content()
    assert "Tuesday, 03 March 2026, 14:00" in body
    assert f"http://portal.test{manage_path}" in body

    first, second = calendar_of(confirmation), calendar_of(moved)
    assert UID.search(first).group(1) == UID.search(second).group(1)
    assert SEQUENCE.search(first).group(1) == "0"
    assert SEQUENCE.search(second).group(1) == "1"
    assert "DTSTART:20260303T130000Z" in second
    assert "METHOD:PUBLISH" in second

    # Each further change carries a higher sequence, the cancellation too.
    assert move(client, manage_path, ELEVEN).status_code == 303
    assert SEQUENCE.search(calendar_of(outbox(app)[2])).group(1) == "2"
    token = csrf_token(client.get(manage_path).text)
    assert client.post(f"{manage_path}/cancel", data={"csrf_token": token}).status_code == 303
    assert SEQUENCE.search(calendar_of(outbox(app)[3])).group(1) == "3"


def test_a_booking_may_move_a_little_within_its_own_time(client, salon, session):
    """A 60-minute booking at 10:00 moves to 10:30: only its own time overlaps."""
    salon.service.duration_minutes = 60
    session.commit()
    manage_path = book(client, salon)

    page = client.get(f"{manage_path}/reschedule?day=2026-03-03").text
    assert f"start={iso(HALF_PAST_TEN)}" in page
    assert move(client, manage_path, HALF_PAST_TEN).status_code == 303
    booking = the_booking(session)
    assert (booking.start_at, booking.end_at) == (HALF_PAST_TEN, HALF_PAST_TEN + timedelta(hours=1))


def test_a_booking_may_move_to_another_provider(client, salon, session):
    other = make_provider(session, salon.business, [salon.service], name="Bea")
    session.commit()
    manage_path = book(client, salon, **{"name": "Mia Example"})

    page = client.get(f"{manage_path}/reschedule?provider={other.id}&day=2026-03-03").text
    # With another provider the same time is a real change.
    assert f"start={iso(TEN)}" in page
    assert move(client, manage_path, TEN, provider=str(other.id)).status_code == 303
    booking = the_booking(session)
    assert (booking.provider_id, booking.start_at) == (other.id, TEN)


# -- refused moves ---------------------------------------------------------------------


def test_late_reschedule_is_refused_with_a_warning_and_recorded(app, client, salon, session, clock):
    manage_path = book(client, salon)
    token = csrf_token(client.get(manage_path).text)
    clock.move_to(JUST_AFTER_DEADLINE)

    page = client.get(manage_path).text
    assert f'href="{manage_path}/reschedule"' not in page
    assert "The time to change the booking online ended at Monday, 02 March 2026, 10:00" in page

    # Opening the page is refused with the warning, but is not counted as an attempt.
    opened = client.get(f"{manage_path}/reschedule")
    assert opened.status_code == 409
    assert "can no longer be changed online" in opened.text
    assert events(session, "late_reschedule_refused") == []

    response = move(client, manage_path, TWO_PM, token=token)
    assert response.status_code == 409
    assert "The time of this booking can no longer be changed online" in response.text
    assert "bookings can be moved until Monday, 02 March 2026, 10:00" in response.text
    booking = the_booking(session)
    assert booking.start_at == TEN and booking.rescheduled_at is None
    [event] = events(session, "late_reschedule_refused")
    assert (event.booking_id, event.client_id) == (booking.id, booking.client_id)
    assert event.created_at == JUST_AFTER_DEADLINE
    assert len(outbox(app)) == 1


def test_never_mode_hides_the_link_and_refuses_a_direct_post(client, salon, session):
    publish_policy(
        session,
        salon.business,
        summary="Bookings cannot be moved online.",
        reschedule_mode="never",
    )
    session.commit()
    manage_path = book(client, salon)

    page = client.get(manage_path).text
    assert f'href="{manage_path}/reschedule"' not in page
    assert "The time of this booking cannot be changed online" in page
    assert client.get(f"{manage_path}/reschedule").status_code == 409

    response = move(client, manage_path, TWO_PM)
    assert response.status_code == 409
    assert "bookings cannot be moved online" in response.text
    assert the_booking(session).start_at == TEN
    assert len(events(session, "late_reschedule_refused")) == 1


def test_the_rule_of_the_accepted_version_governs(client, salon, session, clock):
    """Booked under v1 (until 24 hours before); v2 allows moves any time; v1 still applies."""
    manage_path = book(client, salon)
    token = csrf_token(client.get(manage_path).text)
    publish_policy(session, salon.business, summary="Move any time.", reschedule_mode="any_time")
    session.commit()
    clock.move_to(JUST_AFTER_DEADLINE)
    assert move(client, manage_path, TWO_PM, token=token).status_code == 409

    # A booking made under v2 may be moved until it starts.
    later = book(client, salon, ELEVEN, email="noah@example.com", name="Noah")
    assert "time until Tuesday, 03 March 2026, 11:00" in client.get(later).text
    assert move(client, later, TWO_PM).status_code == 303


def test_a_time_another_booking_holds_is_refused_with_409(client, salon, session, make_booking):
    manage_path = book(client, salon)
    make_booking(start=TWO_PM, name="Holder")
    page = client.get(f"{manage_path}/reschedule?day=2026-03-03").text
    assert f"start={iso(TWO_PM)}" not in page

    response = move(client, manage_path, TWO_PM)
    assert response.status_code == 409
    assert "This time was just taken" in response.text
    assert the_booking(session).start_at == TEN


def test_a_slot_taken_between_choosing_and_confirming_is_refused(client, salon, session):
    manage_path = book(client, salon)
    page = client.get(f"{manage_path}/reschedule?provider=any&start={iso(TWO_PM)}")
    token = csrf_token(page.text)
    # Someone else books 14:00 meanwhile.
    book(client, salon, TWO_PM, email="noah@example.com", name="Noah")

    refused = move(client, manage_path, TWO_PM, token=token)
    assert refused.status_code == 409
    assert "This time was just taken" in refused.text
    assert "Your booking was not changed: it stays at Tuesday, 03 March 2026, 10:00" in refused.text
    assert the_booking(session).start_at == TEN
    again = client.get(f"{manage_path}/reschedule?provider=any&start={iso(TWO_PM)}")
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("start", "message"),
    [
        ("", "No time was chosen"),
        ("tomorrow", "That time is not valid"),
        ("2026-03-03T09:10Z", "That time cannot be booked"),
        ("2026-03-03T03:00Z", "That time cannot be booked"),
        ("2026-03-02T06:30Z", "That time cannot be booked"),
        ("2026-05-03T09:00Z", "That time cannot be booked"),
        (iso(TEN), "Your booking is already at that time"),
    ],
)
def test_a_bad_start_is_refused_with_400(client, salon, session, start, message):
    manage_path = book(client, salon)
    response = move(client, manage_path, start)
    assert response.status_code == 400
    assert message in response.text
    assert the_booking(session).start_at == TEN


def test_an_unknown_provider_is_refused(client, salon):
    manage_path = book(client, salon)
    assert move(client, manage_path, TWO_PM, provider="abc").status_code == 400
    assert move(client, manage_path, TWO_PM, provider="999").status_code == 404


def test_a_move_needs_the_csrf_token(client, salon, session):
    manage_path = book(client, salon)
    response = client.post(
        f"{manage_path}/reschedule", data={"start": iso(TWO_PM), "provider": "any"}
    )
    assert response.status_code == 400
    assert the_booking(session).start_at == TEN


def test_an_unknown_link_is_not_found(client, salon):
    assert client.get("/b/salon/manage/not-a-token/reschedule").status_code == 404
    page = client.get("/b/salon/")
    response = client.post(
        "/b/salon/manage/not-a-token/reschedule",
        data={"csrf_token": csrf_token(client.get("/staff/login").text), "start": iso(TWO_PM)},
    )
    assert page.status_code == 200
    assert response.status_code == 404


def test_a_cancelled_booking_cannot_be_moved(client, salon, session):
    manage_path = book(client, salon)
    token = csrf_token(client.get(manage_path).text)
    assert client.post(f"{manage_path}/cancel", data={"csrf_token": token}).status_code == 303
    assert client.get(f"{manage_path}/reschedule").status_code == 409
    response = move(client, manage_path, TWO_PM, token=token)
    assert response.status_code == 409
    assert "This booking was already cancelled" in response.text
    assert the_booking(session).start_at == TEN


def test_late_cancellation_is_recorded_as_a_booking_event(client, salon, session, clock):
    manage_path = book(client, salon)
    token = csrf_token(client.get(manage_path).text)
    clock.move_to(JUST_AFTER_DEADLINE)
    assert client.post(f"{manage_path}/cancel", data={"csrf_token": token}).status_code == 409
    [event] = events(session, "late_cancel_refused")
    assert event.booking_id == the_booking(session).id


# -- the domain function ---------------------------------------------------------------


def test_reschedule_checks_the_new_time_and_keeps_the_row(session, salon, make_booking):
    # Both made without any policy.
    booking = make_booking(start=TEN)
    make_booking(start=TWO_PM, name="Holder")
    with pytest.raises(SlotTaken):
        reschedule(session, booking, TWO_PM, NOW)
    with pytest.raises(SlotUnavailable):
        reschedule(session, booking, TEN + timedelta(minutes=10), NOW)
    with pytest.raises(SameTime):
        reschedule(session, booking, TEN, NOW)
    token_hash = booking.manage_token_hash

    moved = reschedule(session, booking, ELEVEN, NOW)
    assert moved is booking
    assert (booking.start_at, booking.end_at, booking.rescheduled_at) == (
        ELEVEN,
        ELEVEN + timedelta(minutes=30),
        NOW,
    )
    assert booking.manage_token_hash == token_hash
    # Without a policy, a booking may be moved until it starts.
    with pytest.raises(RescheduleTooLate):
        reschedule(session, booking, TEN, ELEVEN)
    booking.status = "cancelled"
    with pytest.raises(AlreadyCancelled):
        reschedule(session, booking, TEN, NOW)
    session.rollback()
