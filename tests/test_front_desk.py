"""The front desk: book for a found or new client (with or without e-mail), prefilled
from the calendar; staff moves; bookings outside the rules; internal notes."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.booking.models import Booking
from portal.booking.reminders import queue_due_reminders
from portal.booking.service import SlotTaken
from portal.businesses.models import Business
from portal.clients.models import Client
from portal.extensions import db as portal_db
from portal.mail.models import OutboxMessage
from portal.policies.service import current_policy
from portal.schedule import frontdesk
from tests.conftest import NOW, STAFF_EMAIL, STAFF_PASSWORD, csrf_token, sign_in
from tests.factories import make_client, redeem_gift_card
from tests.test_hipaa import SECURE, owner_signs_in, set_hipaa
from tests.test_schedule import body_of, mails, post_form, reload
from tests.test_staff_2fa import enrol

#: Tuesday 3 March 2026 in Berlin (UTC+1): 10:00, 11:00 and 12:00 local.
TEN, ELEVEN, NOON = (datetime(2026, 3, 3, hour, 0, tzinfo=UTC) for hour in (9, 10, 11))
NEW_URL = "/staff/bookings/new"


def events(session, kind: str) -> list[AuditEvent]:
    session.rollback()
    return list(
        session.scalars(select(AuditEvent).where(AuditEvent.kind == kind).order_by(AuditEvent.id))
    )


def client_messages(session) -> list[OutboxMessage]:
    """Outbox rows addressed to clients (staff news goes to staff addresses)."""
    session.rollback()
    return list(
        session.scalars(
            select(OutboxMessage).where(~OutboxMessage.recipient.like("%@salon.example"))
        )
    )


def book_url(salon, **params) -> str:
    query = {"service": salon.service.id, "provider": "any", "day": "2026-03-03", **params}
    return NEW_URL + "?" + "&".join(f"{k}={v}" for k, v in query.items())


def post_booking(client, url, **data):
    page = client.get(url)
    assert page.status_code == 200, page.text
    return client.post(url, data={"csrf_token": csrf_token(page.text), **data})


# Finding the client ---------------------------------------------------------------------


def test_client_search_finds_by_name_email_or_phone_of_this_business_only(
    client, owner_client, session, salon, rival
):
    make_client(
        session,
        salon.business,
        name="Nora Lindqvist",
        email="nora@example.com",
        phone="+49 30 777 8888",
    )
    make_client(session, rival.business, name="Nora Rival", email="nora@rival.example")
    session.commit()
    for query in ("nora", "NORA@EXAMPLE", "7778888"):
        page = client.get(book_url(salon, find=query)).text
        assert "Nora Lindqvist" in page, query
        assert "Nora Rival" not in page and "rival.example" not in page
    page = client.get(book_url(salon, find="zzz-nobody")).text
    assert "name, e-mail or phone contains “zzz-nobody”" in page


def test_client_search_lists_at_most_ten(client, owner_client, session, salon):
    for number in range(12):
        make_client(session, salon.business, name=f"Pat {number:02d}")
    session.commit()
    page = client.get(book_url(salon, find="pat")).text
    assert page.count("Pat ") == 10


def test_a_found_client_is_booked_without_typing_their_details(
    app, client, owner_client, session, salon
):
    nora = make_client(session, salon.business, name="Nora Lindqvist", email="nora@example.com")
    session.commit()
    url = book_url(salon, client=nora.id)
    page = client.get(url).text
    assert "Nora Lindqvist" in page and 'name="email"' not in page
    response = post_booking(client, url, start="2026-03-03T09:00Z")
    assert response.status_code == 303
    booking = session.scalars(select(Booking)).one()
    assert booking.client_id == nora.id
    assert [m.recipient for m in client_messages(session)] == ["nora@example.com"]


def test_a_client_of_another_business_cannot_be_chosen(client, owner_client, session, salon, rival):
    stranger = make_client(session, rival.business, name="Robin Rival")
    session.commit()
    response = client.get(book_url(salon, client=stranger.id))
    assert response.status_code == 400
    assert "There is no such client at this business." in response.text


# Walk-ins without e-mail -------------------------------------------------------------------


def test_a_walk_in_without_email_is_booked_and_sends_nothing(
    app, client, owner_client, session, salon
):
    page = client.get(book_url(salon)).text
    assert "Without an e-mail address the client gets no e-mails" in page
    response = post_booking(client, book_url(salon), start="2026-03-03T09:00Z", name="Walk In")
    assert response.status_code == 303
    assert "has no e-mail address, so no e-mail was sent" in client.get(response.location).text
    booking = session.scalars(select(Booking)).one()
    assert booking.client.email is None
    assert client_messages(session) == []
    # Nor a reminder later: the reminder job skips a client without an address.
    with app.app_context():
        assert queue_due_reminders(portal_db, TEN - timedelta(hours=2)) == 0
    assert client_messages(session) == []
    assert all(m["To"].addresses[0].addr_spec.endswith("@salon.example") for m in mails(app))


def test_two_walk_ins_without_email_are_two_clients(client, owner_client, session, salon):
    for start, name in (("2026-03-03T09:00Z", "Walk In"), ("2026-03-03T10:00Z", "Walk In")):
        assert post_booking(client, book_url(salon), start=start, name=name).status_code == 303
    assert [c.email for c in session.scalars(select(Client))] == [None, None]


def test_clients_without_email_show_no_email(client, owner_client, session, salon, make_booking):
    walk_in = make_client(session, salon.business, name="Walk In", email=None)
    booking = make_booking(client=walk_in)
    assert "no e-mail" in client.get("/staff/clients").text
    assert "no e-mail" in client.get(f"/staff/clients/{walk_in.id}").text
    assert "no e-mail" in client.get(f"/staff/bookings/{booking.id}").text


def test_the_public_booking_form_still_requires_an_email(client, salon):
    url = f"/b/salon/services/{salon.service.id}/book?provider=any&start=2026-03-03T09:00Z"
    page = client.get(url)
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token(page.text),
            "name": "No Mail",
            "email": "",
            "phone": "+49 30 1234567",
            "accept_terms": "y",
            "accept_policy": "y",
        },
    )
    assert response.status_code == 422
    assert "e-mail" in response.text


# Prefilled from the calendar ------------------------------------------------------------------


def test_a_calendar_cell_prefills_provider_day_time_and_the_first_service(
    client, owner_client, session, salon
):
    nora = make_client(session, salon.business, name="Nora Lindqvist")
    session.commit()
    url = f"{NEW_URL}?provider={salon.provider.id}&day=2026-03-03&time=11:00&client={nora.id}"
    page = client.get(url)
    assert page.status_code == 200
    assert re.search(r'<input checked [^>]*value="2026-03-03T10:00Z"', page.text)
    assert f'<option selected value="{salon.service.id}">' in page.text
    assert "Nora Lindqvist" in page.text
    response = client.post(
        url, data={"csrf_token": csrf_token(page.text), "start": "2026-03-03T10:00Z"}
    )
    assert response.status_code == 303
    booking = session.scalars(select(Booking)).one()
    assert (booking.start_at, booking.client_id) == (ELEVEN, nora.id)


def test_a_prefilled_time_that_is_not_free_says_so(client, owner_client, salon, make_booking):
    make_booking(start=ELEVEN)
    page = client.get(f"{NEW_URL}?provider={salon.provider.id}&day=2026-03-03&time=11:00")
    assert page.status_code == 200
    assert "11:00 is not a free time for this service." in page.text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("time=25:00", "That time is not valid. Use a time like 09:30."),
        ("time=noon", "That time is not valid. Use a time like 09:30."),
        ("client=abc", "That client choice is not valid."),
        ("client=0", "That client choice is not valid."),
        ("client=99999", "There is no such client at this business."),
    ],
)
def test_bad_prefill_values_are_refused_with_400(client, owner_client, salon, query, message):
    response = client.get(f"{NEW_URL}?provider={salon.provider.id}&day=2026-03-03&{query}")
    assert response.status_code == 400
    assert message in response.text


def test_an_unknown_provider_or_day_is_refused_with_a_message(client, owner_client, salon):
    for provider in ("kim", "99999"):
        response = client.get(f"{NEW_URL}?provider={provider}&day=2026-03-03&time=10:00")
        assert response.status_code == 400
        assert "That provider choice is not valid." in response.text
    response = client.get(f"{NEW_URL}?provider={salon.provider.id}&day=03.03.2026")
    assert response.status_code == 422
    assert "Please pick a day" in response.text


def test_the_client_page_leads_with_the_client_and_offers_to_book(
    client, owner_client, session, salon
):
    nora = make_client(session, salon.business, name="Nora Lindqvist")
    session.commit()
    page = client.get(f"/staff/clients/{nora.id}").text
    assert f'href="/staff/bookings/new?client={nora.id}"' in page
    assert "Book for this client" in page
    assert page.index('id="bookings-heading"') < page.index('id="block-heading"')
    assert page.index("Client since") < page.index('id="block-heading"')


# Staff moves ----------------------------------------------------------------------------------


def move(client, booking, start: str, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    url = f"/staff/bookings/{booking.id}/move" + (f"?{query}" if query else "")
    page = client.get(url)
    assert page.status_code == 200, page.text
    return client.post(url, data={"csrf_token": csrf_token(page.text), "start": start})


def test_staff_move_a_booking_the_client_may_no_longer_move_and_the_client_gets_the_ics(
    app, client, owner_client, session, salon, make_booking
):
    soon = NOW + timedelta(hours=3)  # inside the client's 24-hour window
    policy = current_policy(session, salon.business)
    booking = make_booking(start=soon, created_at=NOW - timedelta(days=3), policy_version=policy)
    assert not booking.can_reschedule(NOW)
    assert "Move to another time" in client.get(f"/staff/bookings/{booking.id}").text
    response = move(client, booking, "2026-03-02T13:00Z", day="2026-03-02")
    assert response.status_code == 303
    assert "gets the new time" in client.get(response.location).text
    booking = reload(session, booking)
    assert booking.start_at == datetime(2026, 3, 2, 13, 0, tzinfo=UTC)
    [moved] = events(session, "booking.moved_by_staff")
    assert moved.details["old_start"] == soon.isoformat()
    assert moved.details["new_start"] == "2026-03-02T13:00:00+00:00"
    assert moved.actor_label == "owner@salon.example"
    [mail] = [m for m in mails(app) if m["To"].addresses[0].addr_spec == booking.client.email]
    assert mail["Subject"].startswith("Booking moved")
    [ics] = [part for part in mail.iter_attachments() if part.get_filename() == "booking.ics"]
    assert "DTSTART:20260302T130000Z" in ics.get_content()
    assert "/b/salon/manage/" in body_of(mail)


def test_a_move_keeps_the_reminders_in_step(
    app, client, owner_client, session, salon, make_booking
):
    booking = make_booking(start=NOON)
    assert move(client, booking, "2026-03-04T11:00Z", day="2026-03-04").status_code == 303
    with app.app_context():
        # The old time's reminder is not due; the new one's is, 24 hours before it.
        assert queue_due_reminders(portal_db, NOON - timedelta(hours=23)) == 0
        assert queue_due_reminders(portal_db, datetime(2026, 3, 3, 11, 30, tzinfo=UTC)) == 1


def test_moving_a_walk_in_without_email_sends_nothing(
    client, owner_client, session, salon, make_booking
):
    walk_in = make_client(session, salon.business, name="Walk In", email=None)
    booking = make_booking(client=walk_in, start=TEN)
    response = move(client, booking, "2026-03-03T11:00Z")
    assert response.status_code == 303
    assert client_messages(session) == []


def test_a_second_move_into_a_taken_time_gets_409(
    client, owner_client, session, salon, make_booking
):
    first, second = make_booking(start=TEN), make_booking(start=ELEVEN, name="Ben Other")
    first_page = client.get(f"/staff/bookings/{first.id}/move")
    second_page = client.get(f"/staff/bookings/{second.id}/move")
    assert 'value="2026-03-03T11:00Z"' in first_page.text  # noon local: free for both
    ok = client.post(
        f"/staff/bookings/{first.id}/move",
        data={"csrf_token": csrf_token(first_page.text), "start": "2026-03-03T11:00Z"},
    )
    assert ok.status_code == 303
    late = client.post(
        f"/staff/bookings/{second.id}/move",
        data={"csrf_token": csrf_token(second_page.text), "start": "2026-03-03T11:00Z"},
    )
    assert late.status_code == 409
    assert "That time was taken a moment ago. Please pick another." in late.text
    assert reload(session, second).start_at == ELEVEN


def test_two_staff_moves_racing_for_one_time_exactly_one_wins(
    app, session, salon, owner, make_booking
):
    bookings = [make_booking(start=TEN), make_booking(start=ELEVEN, name="Ben Other")]
    ids = [b.id for b in bookings]
    start_together = threading.Barrier(2)
    outcomes: list[str] = ["", ""]

    def move_one(index: int) -> None:
        with app.app_context():
            writer = portal_db.writer()
            start_together.wait()
            try:
                with writer, writer.begin():
                    booking = writer.get(Booking, ids[index])
                    frontdesk.move_by_staff(
                        writer, booking, NOON, None, owner, NOW, frontdesk.audit.SYSTEM
                    )
                outcomes[index] = "moved"
            except SlotTaken:
                outcomes[index] = "taken"

    threads = [threading.Thread(target=move_one, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["moved", "taken"]
    starts = sorted(reload(session, b).start_at for b in bookings)
    assert NOON in starts and starts.count(NOON) == 1
    assert len(events(session, "booking.moved_by_staff")) == 1


def test_moving_to_a_time_never_offered_or_a_bad_value_is_refused(
    client, owner_client, session, salon, make_booking
):
    booking = make_booking(start=TEN)
    response = move(client, booking, "2026-03-03T21:00Z")
    assert response.status_code == 422
    assert "That time cannot be booked." in response.text
    response = move(client, booking, "not-a-time")
    assert response.status_code == 422
    assert "That time is not valid." in response.text
    assert client.get(f"/staff/bookings/{booking.id}/move?day=yesterday").status_code == 422
    assert reload(session, booking).start_at == TEN


def test_a_cancelled_booking_cannot_be_moved(client, owner_client, session, salon, make_booking):
    booking = make_booking(start=TEN, status="cancelled")
    response = move(client, booking, "2026-03-03T11:00Z")
    assert response.status_code == 409
    assert "cannot be moved" in response.text


# Outside the rules --------------------------------------------------------------------------


def test_the_owner_books_outside_the_opening_hours_with_a_reason_and_it_is_audited(
    client, owner_client, session, salon
):
    page = client.get(book_url(salon)).text
    assert "Outside the rules: another time" in page
    response = post_booking(
        client,
        book_url(salon),
        other_time="19:30",
        override_reason="Regular client, after hours",
        name="Late Lou",
    )
    assert response.status_code == 303
    booking = session.scalars(select(Booking)).one()
    assert booking.start_at == datetime(2026, 3, 3, 18, 30, tzinfo=UTC)
    [override] = events(session, "booking.rules_overridden")
    assert override.details["reason"] == "Regular client, after hours"
    assert override.details["booking"] == booking.id


def test_the_owner_books_within_the_minimum_notice_today(client, owner_client, session, salon):
    url = book_url(salon, day="2026-03-02")  # today; the notice ends after 07:00 local
    response = post_booking(
        client, url, other_time="07:30", override_reason="Walk-in, chair free", name="Now Nina"
    )
    assert response.status_code == 303
    assert session.scalars(select(Booking)).one().start_at == datetime(
        2026, 3, 2, 6, 30, tzinfo=UTC
    )


def test_an_override_needs_a_reason_and_a_valid_time(client, owner_client, session, salon):
    response = post_booking(client, book_url(salon), other_time="19:30", name="Late Lou")
    assert response.status_code == 422
    assert "Please give a reason for booking outside the rules" in response.text
    response = post_booking(
        client, book_url(salon), other_time="7pm", override_reason="x", name="Late Lou"
    )
    assert response.status_code == 422
    assert "Please enter the time as hours and minutes" in response.text
    response = post_booking(
        client, book_url(salon), other_time="19:30", override_reason="x" * 501, name="Late Lou"
    )
    assert response.status_code == 422
    assert session.scalars(select(Booking)).all() == []


def test_staff_without_permission_are_refused_an_override_with_403(
    client, session, salon, staff_member
):
    sign_in(client, STAFF_EMAIL, STAFF_PASSWORD)
    page = client.get(book_url(salon))
    assert "Outside the rules" not in page.text
    response = client.post(
        book_url(salon),
        data={
            "csrf_token": csrf_token(page.text),
            "other_time": "19:30",
            "override_reason": "Please",
            "name": "Late Lou",
        },
    )
    assert response.status_code == 403
    assert "Only the owner may book outside the opening hours" in response.text
    assert session.scalars(select(Booking)).all() == []
    assert events(session, "booking.rules_overridden") == []


def test_staff_may_override_once_the_owner_allows_it_and_each_use_is_audited(
    app, client, session, salon, owner, staff_member, make_booking
):
    sign_in(client)
    response = post_form(
        client,
        "/staff/booking-rules",
        "/staff/booking-rules",
        client_phone="required",
        staff_may_override="y",
        max_future_bookings_per_client="5",
        max_future_bookings_per_address="10",
        auto_block_after="0",
    )
    assert response.status_code == 303
    booking = make_booking(start=TEN)
    session.expire_all()
    assert session.get(Business, salon.business.id).staff_may_override is True
    client = app.test_client()
    sign_in(client, STAFF_EMAIL, STAFF_PASSWORD)
    url = f"/staff/bookings/{booking.id}/move"
    page = client.get(url)
    assert "Outside the rules" in page.text
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token(page.text),
            "other_time": "20:00",
            "override_reason": "Client works late",
        },
    )
    assert response.status_code == 303
    assert reload(session, booking).start_at == datetime(2026, 3, 3, 19, 0, tzinfo=UTC)
    [override] = events(session, "booking.rules_overridden")
    assert (override.actor_label, override.details["reason"]) == (STAFF_EMAIL, "Client works late")
    assert len(events(session, "booking.moved_by_staff")) == 1


def test_an_override_cannot_reach_into_a_past_day(session, salon, owner, make_booking):
    booking = make_booking(start=TEN)
    with pytest.raises(frontdesk.OverrideTooEarly):
        frontdesk.move_by_staff(
            session,
            booking,
            NOW - timedelta(days=1),
            None,
            owner,
            NOW,
            frontdesk.audit.SYSTEM,
            override_reason="typo",
        )


@pytest.fixture
def owner_with_2fa(session, app, owner) -> str:
    """The owner, enrolled in 2FA (HIPAA mode requires it); returns the TOTP secret."""
    secret, _codes = enrol(session, app, owner)
    return secret


# Internal notes -----------------------------------------------------------------------------


def save_note(client, url_page, url_action, text):
    return post_form(client, url_page, url_action, notes=text)


def test_notes_on_a_booking_and_a_client_are_staff_only_plain_text(
    app, client, owner_client, session, salon, make_booking
):
    booking = make_booking(start=TEN)
    page, action = f"/staff/bookings/{booking.id}", f"/staff/bookings/{booking.id}/notes"
    response = save_note(client, page, action, "Allergic to <b>latex</b>\x07\r\nPrefers Alex")
    assert response.status_code == 303
    booking = reload(session, booking)
    assert booking.staff_notes == "Allergic to <b>latex</b>\nPrefers Alex"
    html = client.get(page).text
    assert "Allergic to &lt;b&gt;latex&lt;/b&gt;" in html
    client_page = f"/staff/clients/{booking.client_id}"
    response = save_note(client, client_page, f"{client_page}/notes", "Pays cash")
    assert response.status_code == 303
    assert "Pays cash" in client.get(client_page).text
    changed = events(session, "notes.changed")
    assert [e.details.get("booking") for e in changed] == [booking.id, None]
    assert all("latex" not in json.dumps(e.details) for e in changed)
    # Never in the client's e-mails.
    assert move(client, booking, "2026-03-03T11:00Z").status_code == 303
    for mail in mails(app):
        assert "latex" not in mail.as_string() and "Pays cash" not in mail.as_string()


def test_a_note_too_long_is_refused(client, owner_client, session, salon, make_booking):
    booking = make_booking(start=TEN)
    page = f"/staff/bookings/{booking.id}"
    response = save_note(client, page, f"{page}/notes", "x" * 2001)
    assert response.status_code == 422
    assert "The note may have at most 2000 characters." in response.text
    assert reload(session, booking).staff_notes == ""


def test_viewing_notes_is_audited_in_hipaa_mode(
    client,
    session,
    salon,
    owner_with_2fa,
    make_booking,
):
    booking = make_booking(start=TEN)
    booking.staff_notes = "Sensitive"
    booking.client.staff_notes = "Also sensitive"
    session.commit()
    owner_signs_in(client, owner_with_2fa)
    client.get(f"/staff/bookings/{booking.id}")
    assert events(session, "notes.viewed") == []
    set_hipaa(session, salon.business)
    assert client.get(f"/staff/bookings/{booking.id}", **SECURE).status_code == 200
    assert client.get(f"/staff/clients/{booking.client_id}", **SECURE).status_code == 200
    viewed = events(session, "notes.viewed")
    assert [(e.details.get("booking"), e.details["client"]) for e in viewed] == [
        (booking.id, booking.client_id),
        (None, booking.client_id),
    ]


def test_notes_are_in_the_export_and_gone_after_erasure(
    client, owner_client, session, salon, make_booking
):
    kept = make_booking(start=TEN, staff_notes="Booking note")
    gone = make_booking(start=ELEVEN, staff_notes="Other note")
    kept.client.staff_notes = "Client note"
    redeem_gift_card(session, kept, "GIFT-1", created_at=NOW)
    session.commit()
    data = client.get(f"/staff/clients/{kept.client_id}/data.json").get_json()
    assert data["client"]["staff_notes"] == "Client note"
    assert [b["staff_notes"] for b in data["bookings"]] == ["Booking note", "Other note"]
    page = f"/staff/clients/{kept.client_id}/erase"
    response = post_form(client, page, page, password="plum orchard lantern 42")
    assert response.status_code == 303
    gone_id = gone.id
    anonymous = reload(session, kept)
    assert list(session.scalars(select(Booking.id))) == [kept.id] != [gone_id]
    assert anonymous.staff_notes == ""
    assert anonymous.client.staff_notes == ""
