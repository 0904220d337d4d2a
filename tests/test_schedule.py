"""Staff bookings and calendar: dashboard, chart, day and week views, staff actions, approval."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.booking.availability import Slot
from portal.booking.models import Booking, BookingEvent
from portal.clients.models import Client
from portal.policies.service import publish_terms
from portal.schedule import service as schedule_service
from portal.schedule.service import weekly_activity
from tests.conftest import NOW, STAFF_EMAIL, STAFF_PASSWORD, csrf_token, outbox, path_of, sign_in
from tests.factories import CONSENTS, DETAILS, make_business, make_provider, make_service

#: Tuesday 3 March 2026, 10:00 in Berlin: a slot clients can book at NOW.
SLOT = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
SLOT_PARAM = "2026-03-03T09:00Z"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def book_online(client, salon, start=SLOT_PARAM, **details):
    """A client books through the public flow; returns the response to the POST."""
    url = f"/b/salon/services/{salon.service.id}/book?provider=any&start={start}"
    page = client.get(url)
    assert page.status_code == 200, page.text
    data = {"csrf_token": csrf_token(page.text), **DETAILS, **CONSENTS, **details}
    return client.post(url, data=data)


def post_form(client, page_url, action, **data):
    """Post ``data`` to ``action`` with the CSRF token of ``page_url``."""
    page = client.get(page_url)
    return client.post(action, data={"csrf_token": csrf_token(page.text), **data})


def reload(session, booking) -> Booking:
    """The booking as the requests left it (a commit alone does not expire what we hold)."""
    session.rollback()
    session.expire_all()
    return session.get(Booking, booking.id)


def audit_kinds(session) -> list[str]:
    session.rollback()
    return list(session.scalars(select(AuditEvent.kind).order_by(AuditEvent.id)))


def mails(app):
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in outbox(app)
    ]


def body_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def section(html: str, heading_id: str) -> str:
    """The HTML from a section's heading to the next section."""
    start = html.index(f'id="{heading_id}"')
    end = html.find("<section", start)
    return html[start : end if end != -1 else len(html)]


@pytest.fixture
def rival_booking(rival, make_booking):
    """A pending booking at Rival Studio, at the salon's SLOT."""
    return make_booking(
        business=rival.business,
        service=rival.service,
        provider=rival.provider,
        name="Rita Rival",
        status="pending",
    )


# Dashboard ---------------------------------------------------------------------


def test_dashboard_shows_today_and_tomorrow_in_the_business_timezone(
    client, owner_client, salon, session, make_booking
):
    make_booking(start=utc(2026, 3, 2, 9, 0), name="Today Morning")
    # 23:30 UTC on Monday is 00:30 on Tuesday in Berlin: tomorrow, not today.
    make_booking(start=utc(2026, 3, 2, 23, 30), name="Tuesday Early")
    make_booking(start=utc(2026, 3, 3, 15, 30), name="Tomorrow Late")
    # 23:30 UTC on Tuesday is already Wednesday in Berlin.
    make_booking(start=utc(2026, 3, 3, 23, 30), name="Wednesday Early")
    make_booking(start=utc(2026, 3, 2, 12, 0), name="Gone Away", status="cancelled")
    make_booking(start=utc(2026, 3, 1, 12, 0), name="Yesterday Person")

    page = client.get("/staff/")
    assert page.status_code == 200
    today = section(page.text, "today-heading")
    tomorrow = section(page.text, "tomorrow-heading")
    assert "Monday, 02 March 2026" in today
    assert "Today Morning" in today and "10:00–10:30" in today
    assert "Tuesday Early" not in today
    assert "Tuesday Early" in tomorrow and "00:30" in tomorrow
    assert "Tomorrow Late" in tomorrow and "16:30" in tomorrow
    assert "Wednesday Early" not in page.text
    assert "Gone Away" not in page.text
    assert "Yesterday Person" not in page.text


def test_dashboard_counts_pending_requests_with_approve_and_decline(
    client, owner_client, salon, session, make_booking
):
    salon.business.approve_bookings = True
    session.commit()
    first = make_booking(start=SLOT, name="Ann Request", status="pending")
    make_booking(start=SLOT + timedelta(hours=2), name="Ben Request", status="pending")
    make_booking(start=NOW - timedelta(days=1), name="Old Request", status="pending")

    page = client.get("/staff/").text
    pending = section(page, "pending-heading")
    assert '<span class="pending-count">2</span>' in pending
    assert "Ann Request" in pending and "Ben Request" in pending
    assert "Old Request" not in pending
    assert f'action="/staff/bookings/{first.id}/approve"' in pending
    assert f'action="/staff/bookings/{first.id}/decline"' in pending


def test_staff_pages_have_no_inline_styles_or_scripts(
    client, owner_client, salon, session, make_booking
):
    booking = make_booking(start=SLOT)
    for url in (
        "/staff/",
        "/staff/bookings?view=day&date=2026-03-03",
        "/staff/bookings?view=week",
        f"/staff/bookings/{booking.id}",
        f"/staff/bookings/new?service={salon.service.id}&provider=any&day=2026-03-03",
        "/staff/booking-rules",
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        assert "style=" not in page.text, url
        assert "<script" not in page.text, url


# The weekly chart --------------------------------------------------------------

#: The chart's first week starts on Monday 15 December 2025 (eleven weeks before NOW's).
FIRST_WEEK = utc(2025, 12, 15, 8, 0)


@pytest.fixture
def activity(session, salon, make_booking):
    """Bookings, cancellations and refused late cancellations at known instants."""

    def made(at, **overrides):
        return make_booking(start=at + timedelta(days=3), created_at=at, **overrides)

    made(utc(2026, 3, 2, 5, 0))  # Monday 06:00 Berlin: this week
    made(utc(2026, 3, 1, 23, 30))  # Sunday in UTC, but Monday 00:30 in Berlin: this week
    made(utc(2026, 3, 1, 22, 30))  # Sunday 23:30 in Berlin: the week before
    cancelled = made(
        utc(2026, 2, 10, 9, 0),
        status="cancelled",
        cancelled_at=utc(2026, 2, 24, 9, 0),
        cancelled_by="client",
    )
    made(FIRST_WEEK)  # the first week of the chart
    made(FIRST_WEEK - timedelta(days=1))  # before the chart
    made(utc(2026, 2, 11, 9, 0), status="declined", decided_at=utc(2026, 2, 12, 9, 0))
    for at in (utc(2026, 2, 25, 9, 0), utc(2026, 2, 26, 9, 0)):
        session.add(
            BookingEvent(
                business_id=salon.business.id,
                booking_id=cancelled.id,
                client_id=cancelled.client_id,
                kind="late_cancel_refused",
                created_at=at,
            )
        )
    session.add(
        BookingEvent(
            business_id=salon.business.id,
            booking_id=cancelled.id,
            client_id=cancelled.client_id,
            kind="no_show",
            created_at=utc(2026, 2, 25, 10, 0),
        )
    )
    # Another business's activity never shows.
    other = make_business(session, slug="other", name="Other")
    other_service = make_service(session, other)
    other_provider = make_provider(session, other, [other_service])
    make_booking(
        business=other,
        service=other_service,
        provider=other_provider,
        name="O",
        status="cancelled",
        cancelled_at=NOW,
    )


def test_weekly_activity_counts_per_local_week(session, salon, activity):
    weeks = weekly_activity(session, salon.business, NOW)
    assert len(weeks) == 12
    assert weeks[0].start.isoformat() == "2025-12-15"
    assert weeks[-1].start.isoformat() == "2026-03-02"
    by_week = {w.start.isoformat(): (w.made, w.cancelled, w.late_refused) for w in weeks}
    assert by_week["2026-03-02"] == (2, 0, 0)
    # Two presses of "cancel" on one booking are one late cancellation, as on the client page.
    assert by_week["2026-02-23"] == (1, 1, 1)
    assert by_week["2026-02-09"] == (2, 0, 0)
    assert by_week["2025-12-15"] == (1, 0, 0)
    assert sum(w.made for w in weeks) == 6
    assert sum(w.cancelled for w in weeks) == 1
    assert sum(w.late_refused for w in weeks) == 1


def test_dashboard_chart_and_table_show_the_weekly_numbers(client, owner_client, activity):
    page = client.get("/staff/").text
    chart = section(page, "activity-heading")
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in chart
    assert 'role="img" aria-labelledby="activity-title activity-desc"' in chart
    assert '<title id="activity-title">' in chart
    assert "6 bookings made, 1 cancellation and 1 refused late cancellation in all" in chart
    assert chart.count('<rect class="chart-bar ') == 36
    assert "<title>Week of 02 Mar: 2 bookings made</title>" in chart
    assert "<title>Week of 23 Feb: 1 refused late cancellations</title>" in chart
    rows = re.findall(
        r'<tr><th scope="row">([^<]+)</th><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td></tr>', chart
    )
    assert len(rows) == 12
    table = {week: tuple(map(int, counts)) for week, *counts in rows}
    assert table["02 Mar 2026"] == (2, 0, 0)
    assert table["23 Feb 2026"] == (1, 1, 1)
    assert table["15 Dec 2025"] == (1, 0, 0)
    assert table["16 Feb 2026"] == (0, 0, 0)


def test_the_tallest_bar_fills_the_scale(client, owner_client, activity):
    page = client.get("/staff/").text
    heights = [
        float(h) for h in re.findall(r'class="chart-bar [^"]+"[^>]* height="([\d.]+)"', page)
    ]
    assert max(heights) == pytest.approx(260 - 12 - 34)
    assert min(heights) == 0


def test_an_empty_chart_still_renders(client, owner_client):
    page = client.get("/staff/").text
    assert "0 bookings made, 0 cancellations and 0 refused late cancellations" in page
    assert page.count('<rect class="chart-bar ') == 36


# Day and week views ----------------------------------------------------------------


@pytest.fixture
def second_provider(session, salon):
    provider = make_provider(session, salon.business, [salon.service], name="Kim")
    session.commit()
    return provider


def test_day_view_shows_the_bookings_of_that_local_day_by_provider(
    client, owner_client, salon, session, second_provider, make_booking
):
    make_booking(start=utc(2026, 3, 2, 23, 30), name="Just After Midnight")
    make_booking(start=utc(2026, 3, 3, 9, 0), name="Alex Client")
    make_booking(start=utc(2026, 3, 3, 10, 0), name="Kim Client", provider=second_provider)
    make_booking(start=utc(2026, 3, 3, 23, 30), name="Next Day Person")
    make_booking(start=utc(2026, 3, 3, 12, 0), name="Cancelled Person", status="cancelled")

    page = client.get("/staff/bookings?view=day&date=2026-03-03")
    assert page.status_code == 200
    assert "Tuesday, 03 March 2026" in page.text
    # The grid's columns: Alex is the first provider (column 2), Kim the second.
    blocks = {
        found.group(2): (found.group(1), found.group(0))
        for found in re.finditer(
            r'class="cal-block [^"]*\bgc(\d+)\b[^"]*">.*?<span class="cal-client">([^<]+)</span>'
            r".*?</a>",
            page.text,
            re.S,
        )
    }
    assert blocks["Alex Client"][0] == "2" and "10:00–10:30" in blocks["Alex Client"][1]
    assert blocks["Just After Midnight"][0] == "2"
    assert "00:30–01:00" in blocks["Just After Midnight"][1]
    assert blocks["Cancelled Person"][0] == "2" and "Cancelled" in blocks["Cancelled Person"][1]
    assert blocks["Kim Client"][0] == "3"
    assert "Next Day Person" not in page.text
    assert 'href="/staff/bookings?view=day&amp;date=2026-03-02&amp;provider=all"' in page.text
    assert 'href="/staff/bookings?view=day&amp;date=2026-03-04&amp;provider=all"' in page.text


def test_week_view_shows_monday_to_sunday_and_filters_by_provider(
    client, owner_client, salon, session, second_provider, make_booking
):
    make_booking(start=utc(2026, 3, 3, 9, 0), name="Tuesday Alex")
    make_booking(start=utc(2026, 3, 8, 15, 0), name="Sunday Kim", provider=second_provider)
    make_booking(start=utc(2026, 3, 9, 9, 0), name="Next Week")
    make_booking(start=utc(2026, 3, 1, 9, 0), name="Last Week")

    page = client.get("/staff/bookings?view=week&date=2026-03-05&provider=all").text
    assert "Week of Monday, 02 March 2026 to Sunday, 08 March 2026" in page
    assert "Tuesday Alex" in page and "Sunday Kim" in page
    assert "Next Week" not in page and "Last Week" not in page
    assert "date=2026-02-23" in page and "date=2026-03-09" in page

    only_kim = client.get(
        f"/staff/bookings?view=week&date=2026-03-05&provider={second_provider.id}"
    )
    assert only_kim.status_code == 200
    assert "Sunday Kim" in only_kim.text
    assert "Tuesday Alex" not in only_kim.text


def test_calendar_defaults_to_today(client, owner_client):
    page = client.get("/staff/bookings")
    assert page.status_code == 200
    assert "Monday, 02 March 2026" in page.text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("view=month", "Choose the day, week or list view."),
        ("date=2026-13-01", "That date is not valid."),
        ("date=yesterday", "That date is not valid."),
        ("date=0001-01-01", "That date is not valid."),
        ("date=2026-03-02T10:00", "That date is not valid."),
        ("provider=kim", "That provider choice is not valid."),
        ("provider=%C2%B2", "That provider choice is not valid."),
        ("provider=99999999999999999", "That provider choice is not valid."),
    ],
)
def test_calendar_refuses_bad_parameters_with_a_message(client, owner_client, query, message):
    response = client.get(f"/staff/bookings?{query}")
    assert response.status_code == 400
    assert message in response.text


def test_calendar_of_another_business_provider_is_not_found(client, owner_client, rival_booking):
    response = client.get(f"/staff/bookings?provider={rival_booking.provider_id}")
    assert response.status_code == 404
    assert "Robin" not in response.text


# Booking detail ------------------------------------------------------------------------


def test_detail_shows_client_service_and_consents_with_versions(client, owner, salon, session):
    publish_terms(session, salon.business, "Be on time, please.")
    session.commit()
    manage = book_online(client, salon)
    assert manage.status_code == 303
    booking = session.scalars(select(Booking)).one()

    sign_in(client)
    page = client.get(f"/staff/bookings/{booking.id}")
    assert page.status_code == 200
    text = page.text
    assert "Mia Example" in text and "mia@example.com" in text and "+49 30 1234567" in text
    assert "Haircut" in text and "Alex" in text
    assert "Tuesday, 03 March 2026, 10:00 – 10:30 (Europe/Berlin)" in text
    assert "Terms and conditions, version 2" in text
    assert "Cancellation policy, version 1" in text
    assert "accepted Monday, 02 March 2026, 07:00 from 127.0.0.1" in text
    assert "booked by the client online" in text


def test_booking_of_another_business_is_not_found(client, owner_client, rival_booking):
    assert client.get(f"/staff/bookings/{rival_booking.id}").status_code == 404
    dashboard = "/staff/"
    for action in ("cancel", "approve", "decline", "no-show"):
        response = post_form(
            client, dashboard, f"/staff/bookings/{rival_booking.id}/{action}", reason="Nope"
        )
        assert response.status_code == 404, action
    assert client.get("/staff/bookings/99999999999999999999").status_code == 404


def test_staff_pages_need_a_sign_in(client, salon, session, make_booking):
    booking = make_booking(start=SLOT)
    for url in ("/staff/bookings", f"/staff/bookings/{booking.id}", "/staff/bookings/new"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/staff/login" in response.headers["Location"]


# Staff cancellation ------------------------------------------------------------------------


def test_staff_cancel_late_inside_the_client_window_works_and_emails_the_reason(
    app, client, owner, salon, session, clock
):
    manage_path = path_of(book_online(client, salon))
    booking = session.scalars(select(Booking)).one()
    clock.move_to(SLOT - timedelta(hours=2))
    # The client may no longer cancel...
    assert "Cancel this booking" not in client.get(manage_path).text

    # ...but staff may.
    sign_in(client)
    detail = f"/staff/bookings/{booking.id}"
    response = post_form(client, detail, f"{detail}/cancel", reason="  Alex is ill today.  ")
    assert response.status_code == 303
    assert response.headers["Location"] == detail

    booking = reload(session, booking)
    assert booking.status == "cancelled"
    assert booking.cancelled_by == "staff"
    assert booking.cancel_reason == "Alex is ill today."
    assert booking.cancelled_at == SLOT - timedelta(hours=2)
    assert "booking.cancelled_by_staff" in audit_kinds(session)
    event = session.scalars(select(AuditEvent).where(AuditEvent.kind.like("booking.%"))).one()
    assert event.details == {"booking": booking.id, "reason": "Alex is ill today."}
    assert event.actor_label == owner.email

    cancellation = mails(app)[-1]
    assert cancellation["To"] == "Mia Example <mia@example.com>"
    assert cancellation["Subject"].startswith("Booking cancelled")
    body = body_of(cancellation)
    assert "Salon Test has cancelled your booking." in body
    assert "Reason: Alex is ill today." in body

    page = client.get(detail).text
    assert "cancelled by staff (reason: Alex is ill today.)" in page
    # The client sees who cancelled and why.
    public = client.get(manage_path).text
    assert "Salon Test has cancelled this booking" in public
    assert "Alex is ill today." in public


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "Please give a reason for the cancellation"),
        ("   ", "Please give a reason for the cancellation"),
        ("x" * 501, "The reason may have at most 500 characters."),
    ],
)
def test_staff_cancel_needs_a_reason_of_at_most_500_characters(
    app, client, owner_client, salon, session, reason, message, make_booking
):
    booking = make_booking(start=SLOT)
    detail = f"/staff/bookings/{booking.id}"
    response = post_form(client, detail, f"{detail}/cancel", reason=reason)
    assert response.status_code == 422
    assert message in response.text
    assert reload(session, booking).status == "confirmed"
    assert outbox(app) == []


def test_a_reason_of_exactly_500_characters_is_accepted(
    client, owner_client, salon, session, make_booking
):
    booking = make_booking(start=SLOT)
    detail = f"/staff/bookings/{booking.id}"
    assert post_form(client, detail, f"{detail}/cancel", reason="y" * 500).status_code == 303
    assert reload(session, booking).cancel_reason == "y" * 500


def test_cancelling_twice_or_after_the_appointment_is_refused(
    client, owner_client, salon, session, make_booking
):
    cancelled = make_booking(start=SLOT, status="cancelled", cancelled_by="client")
    detail = f"/staff/bookings/{cancelled.id}"
    response = post_form(client, "/staff/", f"{detail}/cancel", reason="Again")
    assert response.status_code == 409
    assert "already cancelled or declined" in response.text

    over = make_booking(start=NOW - timedelta(hours=3), name="Past Person")
    response = post_form(client, "/staff/", f"/staff/bookings/{over.id}/cancel", reason="Late")
    assert response.status_code == 409
    assert "This appointment is over" in response.text
    assert reload(session, over).status == "confirmed"


# Approval ------------------------------------------------------------------------------------


@pytest.fixture
def approving(session, salon):
    salon.business.approve_bookings = True
    session.commit()
    return salon


def test_pending_booking_holds_the_slot_and_decline_frees_it(
    app, client, owner, approving, session
):
    salon = approving
    response = book_online(client, salon)
    assert response.status_code == 303
    manage_path = path_of(response)
    assert response.headers["Location"] == f"{manage_path}?done=booked"
    page = client.get(response.headers["Location"]).text
    assert "Your booking is requested, waiting for approval" in page
    assert "Requested, waiting for approval" in page
    booking = session.scalars(select(Booking)).one()
    assert booking.status == "pending"
    request_mail = mails(app)[0]
    assert request_mail["Subject"].startswith("Booking requested")
    assert "waiting for approval" in body_of(request_mail)
    assert "STATUS:TENTATIVE" in request_mail.get_payload()[1].get_payload(decode=True).decode()

    # The pending request holds the time: nobody else can book it.
    slots = client.get(f"/b/salon/services/{salon.service.id}?day=2026-03-03").text
    assert f"start={SLOT_PARAM}" not in slots
    other = client.get(f"/b/salon/services/{salon.service.id}/book?provider=any&start={SLOT_PARAM}")
    assert other.status_code == 409

    sign_in(client)
    response = post_form(
        client,
        "/staff/",
        f"/staff/bookings/{booking.id}/decline",
        reason="We are closed for a training day.",
        return_to="dashboard",
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/"
    booking = reload(session, booking)
    assert booking.status == "declined"
    assert booking.decided_at == NOW
    assert booking.cancel_reason == "We are closed for a training day."
    assert "booking.declined" in audit_kinds(session)

    declined = mails(app)[-1]
    assert declined["Subject"].startswith("Booking declined")
    assert "We are closed for a training day." in body_of(declined)

    # Declined frees the slot.
    slots = client.get(f"/b/salon/services/{salon.service.id}?day=2026-03-03").text
    assert f"start={SLOT_PARAM}" in slots
    public = client.get(manage_path).text
    assert "could not accept this booking request" in public
    assert "Cancel this booking" not in public


def test_approving_confirms_the_request_and_emails_the_client(
    app, client, owner, approving, session
):
    book_online(client, approving)
    booking = session.scalars(select(Booking)).one()
    sign_in(client)
    detail = f"/staff/bookings/{booking.id}"
    assert "This booking waits for approval" in client.get(detail).text
    response = post_form(client, detail, f"{detail}/approve", return_to="booking")
    assert response.status_code == 303
    assert response.headers["Location"] == detail
    booking = reload(session, booking)
    assert booking.status == "confirmed"
    assert booking.decided_at == NOW
    assert "booking.approved" in audit_kinds(session)
    approved = mails(app)[-1]
    assert approved["Subject"].startswith("Booking confirmed")
    assert "has confirmed your booking request" in body_of(approved)
    assert "STATUS:CONFIRMED" in approved.get_payload()[1].get_payload(decode=True).decode()
    # A decision is made once.
    again = post_form(client, detail, f"{detail}/approve")
    assert again.status_code == 409
    assert "not waiting for approval" in again.text


def test_a_request_whose_time_has_begun_cannot_be_approved(
    client, owner_client, salon, session, make_booking
):
    booking = make_booking(start=NOW - timedelta(minutes=10), status="pending")
    detail = f"/staff/bookings/{booking.id}"
    response = post_form(client, detail, f"{detail}/approve")
    assert response.status_code == 409
    assert "cannot be approved" in response.text
    assert reload(session, booking).status == "pending"


def test_decline_reason_is_optional_but_limited(
    app, client, owner_client, salon, session, make_booking
):
    booking = make_booking(start=SLOT, status="pending")
    detail = f"/staff/bookings/{booking.id}"
    too_long = post_form(client, detail, f"{detail}/decline", reason="z" * 501)
    assert too_long.status_code == 422
    assert "at most 500 characters" in too_long.text
    assert post_form(client, detail, f"{detail}/decline").status_code == 303
    assert reload(session, booking).status == "declined"
    assert "Reason:" not in body_of(mails(app)[-1])


def test_staff_bookings_stand_even_while_approval_is_on(client, owner_client, approving, session):
    response = book_as_staff(client, approving)
    assert response.status_code == 303
    assert session.scalars(select(Booking)).one().status == "confirmed"


# Booking for a client ------------------------------------------------------------------------


def new_booking_url(salon, provider="any", day="2026-03-03") -> str:
    return f"/staff/bookings/new?service={salon.service.id}&provider={provider}&day={day}"


def book_as_staff(client, salon, start=SLOT_PARAM, **fields):
    url = new_booking_url(salon)
    page = client.get(url)
    assert page.status_code == 200
    data = {"csrf_token": csrf_token(page.text), "start": start, **DETAILS, **fields}
    return client.post(url, data=data)


def test_staff_created_booking_has_created_by_staff_and_no_consents(
    app, client, owner_client, salon, session
):
    page = client.get(new_booking_url(salon)).text
    assert f'value="{SLOT_PARAM}"' in page
    assert "accept_terms" not in page and "accept_policy" not in page

    response = book_as_staff(client, salon)
    assert response.status_code == 303
    booking = session.scalars(select(Booking)).one()
    assert response.headers["Location"] == f"/staff/bookings/{booking.id}"
    assert booking.created_by == "staff"
    assert booking.status == "confirmed"
    assert booking.consents == []
    assert booking.start_at == SLOT
    assert booking.client.email == "mia@example.com"
    # The business's current policy governs the client's online cancellation.
    assert booking.policy_version.version == 1
    assert "booking.created_by_staff" in audit_kinds(session)

    [confirmation] = mails(app)
    assert confirmation["Subject"].startswith("Booking confirmed")
    link = re.search(r"http://portal\.test(/b/salon/manage/\S+)", body_of(confirmation))
    assert link, body_of(confirmation)
    assert client.get(link.group(1)).status_code == 200

    detail = client.get(f"/staff/bookings/{booking.id}").text
    assert "None: staff made this booking for the client." in detail
    assert "booked by staff for the client" in detail


def test_staff_booking_form_explains_what_is_missing(
    client, owner_client, salon, session, make_booking
):
    response = book_as_staff(client, salon, start="", name="", email="not-an-address")
    assert response.status_code == 422
    assert "Please pick a time." in response.text
    assert "Please enter the client&#39;s name." in response.text
    assert "Please enter a valid e-mail address" in response.text
    taken = make_booking(start=utc(2026, 3, 3, 10, 0))
    response = book_as_staff(client, salon, start="2026-03-03T10:00Z")
    assert response.status_code == 422
    assert "That time is no longer free." in response.text
    assert session.scalars(select(Booking)).all() == [taken]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("service=abc&provider=any&day=2026-03-03", "Please choose a service from the list."),
        ("service=999999&provider=any&day=2026-03-03", "Please choose a service from the list."),
        (
            "service={service}&provider=999&day=2026-03-03",
            "Please choose a provider from the list.",
        ),
        ("service={service}&provider=any&day=03/03/2026", "Please pick a day, like 2026-03-02."),
        ("service={service}&provider=any&day=2026-02-01", "Bookings can be made from"),
        ("service={service}&provider=any&day=2027-01-01", "Bookings can be made from"),
    ],
)
def test_slot_search_refuses_bad_choices_with_a_message(
    client, owner_client, salon, query, message
):
    response = client.get("/staff/bookings/new?" + query.format(service=salon.service.id))
    assert response.status_code == 422
    assert message in response.text


def test_a_service_of_another_business_cannot_be_booked_by_staff(
    client, owner_client, rival_booking
):
    response = client.get(
        f"/staff/bookings/new?service={rival_booking.service_id}&provider=any&day=2026-03-03"
    )
    assert response.status_code == 422
    assert "Massage" not in response.text


def test_a_provider_who_does_not_offer_the_service_is_refused(client, owner_client, salon, session):
    other_service = make_service(session, salon.business, name="Colour")
    lee = make_provider(session, salon.business, [other_service], name="Lee")
    session.commit()
    response = client.get(new_booking_url(salon, provider=lee.id))
    assert response.status_code == 422
    assert "Lee does not offer Haircut." in response.text


# No-shows ---------------------------------------------------------------------------------------


def test_marking_a_past_booking_as_no_show_records_the_event(
    client, owner_client, salon, session, make_booking
):
    booking = make_booking(start=NOW - timedelta(days=1))
    detail = f"/staff/bookings/{booking.id}"
    assert "Mark as a no-show" in client.get(detail).text
    response = post_form(client, detail, f"{detail}/no-show")
    assert response.status_code == 303
    booking = reload(session, booking)
    assert booking.no_show is True
    event = session.scalars(select(BookingEvent)).one()
    assert (event.kind, event.booking_id, event.client_id) == (
        "no_show",
        booking.id,
        booking.client_id,
    )
    assert event.created_at == NOW
    assert "booking.no_show" in audit_kinds(session)
    page = client.get(detail).text
    assert "marked as a no-show" in page
    assert "Mark as a no-show" not in page

    again = post_form(client, detail, f"{detail}/no-show")
    assert again.status_code == 409
    assert "already marked as a no-show" in again.text


def test_a_future_or_cancelled_booking_cannot_be_a_no_show(
    client, owner_client, salon, session, make_booking
):
    future = make_booking(start=SLOT)
    response = post_form(client, "/staff/", f"/staff/bookings/{future.id}/no-show")
    assert response.status_code == 409
    assert "has not begun yet" in response.text
    cancelled = make_booking(
        start=NOW - timedelta(days=1), name="Cancelled One", status="cancelled"
    )
    response = post_form(client, "/staff/", f"/staff/bookings/{cancelled.id}/no-show")
    assert response.status_code == 409
    assert "Only a confirmed booking" in response.text
    session.rollback()
    assert session.scalars(select(BookingEvent)).all() == []


# Booking rules and roles -----------------------------------------------------------------------


def test_owner_switches_approval_on_and_the_change_is_audited(client, owner_client, salon, session):
    page = client.get("/staff/booking-rules")
    assert page.status_code == 200
    response = client.post(
        "/staff/booking-rules",
        data={"csrf_token": csrf_token(page.text), "approve_bookings": "y"},
    )
    assert response.status_code == 303
    session.rollback()
    session.refresh(salon.business)
    assert salon.business.approve_bookings is True
    event = session.scalars(select(AuditEvent).where(AuditEvent.kind == "settings.changed")).one()
    assert event.details == {
        "area": "booking_rules",
        "changes": {"approve_bookings": [False, True]},
    }
    # Saving the same value again records nothing.
    page = client.get("/staff/booking-rules")
    client.post(
        "/staff/booking-rules",
        data={"csrf_token": csrf_token(page.text), "approve_bookings": "y"},
    )
    assert audit_kinds(session).count("settings.changed") == 1


def test_non_owner_staff_can_view_and_cancel_but_not_change_booking_rules(
    client, staff_member, salon, session, make_booking
):
    booking = make_booking(start=SLOT)
    assert sign_in(client, STAFF_EMAIL, STAFF_PASSWORD).status_code == 302
    assert client.get("/staff/").status_code == 200
    assert client.get("/staff/bookings?view=week").status_code == 200
    detail = f"/staff/bookings/{booking.id}"
    assert client.get(detail).status_code == 200
    assert post_form(client, detail, f"{detail}/cancel", reason="Closed").status_code == 303
    assert reload(session, booking).status == "cancelled"

    assert client.get("/staff/booking-rules").status_code == 403
    page = client.get("/staff/")
    assert "Booking rules" not in page.text
    response = client.post(
        "/staff/booking-rules",
        data={"csrf_token": csrf_token(page.text), "approve_bookings": "y"},
    )
    assert response.status_code == 403
    session.rollback()
    session.refresh(salon.business)
    assert salon.business.approve_bookings is False


def test_a_time_taken_while_staff_fill_in_the_form_is_refused_and_leaves_no_trace(
    app, client, owner_client, salon, session, make_booking, monkeypatch
):
    page = client.get(new_booking_url(salon))
    make_booking(start=SLOT, name="Quick Rival")
    # The page still offers the time, as it did when staff opened it.
    still_offered = Slot(SLOT, SLOT + timedelta(minutes=30), (salon.provider.id,))
    real_free_slots = schedule_service.free_slots
    monkeypatch.setattr(
        schedule_service, "free_slots", lambda *args: [still_offered, *real_free_slots(*args)]
    )
    data = {"csrf_token": csrf_token(page.text), "start": SLOT_PARAM, **DETAILS}
    response = client.post(new_booking_url(salon), data=data)
    assert response.status_code == 409
    assert "That time was taken a moment ago. Please pick another." in response.text
    assert 'value="Mia Example"' in response.text
    session.rollback()
    assert len(session.scalars(select(Booking)).all()) == 1
    assert session.scalars(select(Client).where(Client.email == DETAILS["email"])).first() is None
    assert "booking.created_by_staff" not in audit_kinds(session)
    assert outbox(app) == []
