"""Client reminders, with the clock moved across their marks (issue 13)."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta
from email import policy
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from portal.booking.models import CANCELLED, Booking, BookingReminder
from portal.booking.reminders import REMINDER, queue_due_reminders, reminder_hours
from portal.businesses.models import Business
from portal.clock import utcnow
from portal.mail.models import DROPPED, OutboxMessage
from portal.policies.models import CANCEL_ANY_TIME
from portal.policies.service import publish_policy
from tests.conftest import NOW, csrf_token, outbox
from tests.test_hipaa import set_hipaa
from tests.test_reschedule import book, move, the_booking

#: Thursday 5 March 2026, 10:00 in Berlin: three days after NOW.
THURSDAY = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
#: Friday 6 March 2026, 10:00 in Berlin.
FRIDAY = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
DAY = timedelta(hours=24)
TWO_HOURS = timedelta(hours=2)


def set_reminders(session, salon, hours: str) -> None:
    session.rollback()
    session.get(Business, salon.business.id).reminder_hours = hours
    session.commit()


def run_job(app) -> int:
    with app.app_context():
        return queue_due_reminders(app.extensions["portal_db"], utcnow())


def mails(app) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in outbox(app)]


def raw_reminders(app) -> list[bytes]:
    raw = [p.read_bytes() for p in outbox(app)]
    return [r for r in raw if b"Subject: Reminder" in r]


def reminder_mails(app) -> list[email.message.EmailMessage]:
    return [m for m in mails(app) if m["Subject"].startswith("Reminder")]


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(("html",)).get_content()


def queued(session) -> list[tuple[int, datetime]]:
    session.rollback()
    rows = session.scalars(select(BookingReminder).order_by(BookingReminder.id))
    return [(row.hours_before, row.start_at) for row in rows]


@pytest.fixture
def reminding(session, salon):
    """The salon sends reminders 24 and 2 hours ahead."""
    set_reminders(session, salon, "24,2")
    return salon


# -- the marks -------------------------------------------------------------------------


def test_one_reminder_after_the_24h_mark_and_one_after_the_2h_mark(
    app, client, session, reminding, clock
):
    book(client, reminding, THURSDAY)

    clock.move_to(THURSDAY - DAY - MINUTE)
    assert run_job(app) == 0
    assert reminder_mails(app) == []

    clock.move_to(THURSDAY - DAY)
    assert run_job(app) == 1
    assert run_job(app) == 0
    assert [m["Subject"] for m in reminder_mails(app)] == ["Reminder: Haircut, Thu 05 Mar 10:00"]

    clock.move_to(THURSDAY - TWO_HOURS - MINUTE)
    assert run_job(app) == 0

    clock.move_to(THURSDAY - TWO_HOURS + MINUTE)
    assert run_job(app) == 1
    assert run_job(app) == 0
    assert len(reminder_mails(app)) == 2
    assert queued(session) == [(24, THURSDAY), (2, THURSDAY)]

    clock.move_to(THURSDAY + MINUTE)
    assert run_job(app) == 0


def test_a_worker_down_across_both_marks_sends_only_the_nearer_reminder(
    app, client, session, reminding, clock
):
    book(client, reminding, THURSDAY)
    clock.move_to(THURSDAY - timedelta(hours=1))
    assert run_job(app) == 1
    assert run_job(app) == 0
    assert queued(session) == [(2, THURSDAY)]
    assert len(reminder_mails(app)) == 1


def test_a_booking_made_inside_the_24h_window_gets_only_the_2h_reminder(
    app, client, session, reminding, clock
):
    clock.move_to(THURSDAY - timedelta(hours=20))
    # Past the 24-hour deadline: the form showed the warning (its hidden field says so).
    book(client, reminding, THURSDAY, deadline_notice="shown")
    assert run_job(app) == 0
    clock.move_to(THURSDAY - TWO_HOURS)
    assert run_job(app) == 1
    assert queued(session) == [(2, THURSDAY)]
    assert len(reminder_mails(app)) == 1


def test_no_reminders_when_the_business_sends_none(app, client, session, salon, clock):
    set_reminders(session, salon, "")
    manage_path = book(client, salon, THURSDAY)
    assert 'id="reminders"' not in client.get(manage_path).text
    clock.move_to(THURSDAY - TWO_HOURS)
    assert run_job(app) == 0


def test_the_lead_times_are_read_leniently():
    assert reminder_hours(Business(reminder_hours="48, 2,2,x,0,-1,9999")) == [2, 48]
    assert reminder_hours(Business(reminder_hours="")) == []


# -- cancelled, past, moved ------------------------------------------------------------


def test_a_cancelled_booking_gets_no_reminder(app, client, session, reminding, clock):
    manage_path = book(client, reminding, THURSDAY)
    page = client.get(manage_path)
    cancelled = client.post(f"{manage_path}/cancel", data={"csrf_token": csrf_token(page.text)})
    assert cancelled.status_code == 303
    clock.move_to(THURSDAY - TWO_HOURS)
    assert run_job(app) == 0
    assert reminder_mails(app) == []


def test_a_reminder_queued_before_a_cancellation_is_not_sent(
    app, client, session, reminding, clock
):
    book(client, reminding, THURSDAY)
    clock.move_to(THURSDAY - DAY)
    assert run_job(app) == 1
    # Staff cancel before the worker delivers it.
    booking = the_booking(session)
    booking.status, booking.cancelled_at, booking.cancelled_by = CANCELLED, utcnow(), "staff"
    session.commit()
    assert reminder_mails(app) == []
    session.rollback()
    message = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == REMINDER)).one()
    assert message.status == DROPPED  # no longer applies: not a failure for the owner


def test_a_past_booking_gets_no_reminder(app, session, reminding, make_booking, clock):
    make_booking(start=NOW - timedelta(hours=1), created_at=NOW - 3 * DAY)
    assert run_job(app) == 0
    assert reminder_mails(app) == []


@pytest.fixture
def moves_any_time(session, reminding):
    """The salon's policy lets clients move a booking until it starts."""
    session.rollback()
    publish_policy(
        session,
        session.get(Business, reminding.business.id),
        summary="Move any time; cancel until 24 hours before.",
        reschedule_mode=CANCEL_ANY_TIME,
    )
    session.commit()
    return reminding


def test_a_booking_moved_after_its_24h_reminder_gets_one_for_its_new_time(
    app, client, session, moves_any_time, clock
):
    manage_path = book(client, moves_any_time, THURSDAY)
    clock.move_to(THURSDAY - DAY)
    assert run_job(app) == 1
    assert len(reminder_mails(app)) == 1

    clock.move_to(THURSDAY - DAY + timedelta(minutes=5))
    assert move(client, manage_path, FRIDAY).status_code == 303
    assert run_job(app) == 0

    clock.move_to(FRIDAY - DAY)
    assert run_job(app) == 1
    assert run_job(app) == 0
    assert [m["Subject"] for m in reminder_mails(app)] == [
        "Reminder: Haircut, Thu 05 Mar 10:00",
        "Reminder: Haircut, Fri 06 Mar 10:00",
    ]
    assert queued(session) == [(24, THURSDAY), (24, FRIDAY)]


def test_a_reminder_queued_for_the_old_time_is_dropped(app, client, session, moves_any_time, clock):
    manage_path = book(client, moves_any_time, THURSDAY)
    clock.move_to(THURSDAY - DAY)
    assert run_job(app) == 1
    assert move(client, manage_path, FRIDAY).status_code == 303
    # The queued reminder names Thursday; the worker writes it after the move.
    assert reminder_mails(app) == []


def test_a_booking_moved_into_the_window_gets_no_late_reminder(
    app, client, session, moves_any_time, clock
):
    manage_path = book(client, moves_any_time, FRIDAY)
    # Thursday 08:00 UTC: moved to 16:00 local the same day, eight hours ahead.
    clock.move_to(THURSDAY - timedelta(hours=1))
    afternoon = THURSDAY + timedelta(hours=6)
    assert move(client, manage_path, afternoon).status_code == 303
    assert run_job(app) == 0
    clock.move_to(afternoon - TWO_HOURS)
    assert run_job(app) == 1
    assert queued(session) == [(2, afternoon)]


# -- the switch and the one-click address ----------------------------------------------


def test_reminders_switched_off_on_the_manage_page_are_not_sent(
    app, client, session, reminding, clock
):
    manage_path = book(client, reminding, THURSDAY)
    page = client.get(manage_path)
    assert "Switch reminders off" in page.text
    response = client.post(
        f"{manage_path}/reminders",
        data={"csrf_token": csrf_token(page.text), "reminders": "off"},
    )
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == manage_path
    assert the_booking(session).reminders_off is True
    assert "Switch reminders on" in client.get(manage_path).text

    clock.move_to(THURSDAY - TWO_HOURS)
    assert run_job(app) == 0
    assert reminder_mails(app) == []


def test_the_switch_needs_the_csrf_token_and_a_clear_choice(client, session, reminding):
    manage_path = book(client, reminding, THURSDAY)
    token = csrf_token(client.get(manage_path).text)
    assert client.post(f"{manage_path}/reminders", data={"reminders": "off"}).status_code == 400
    bad = client.post(f"{manage_path}/reminders", data={"csrf_token": token, "reminders": "x"})
    assert bad.status_code == 400
    assert the_booking(session).reminders_off is False
    back_on = {"csrf_token": token, "reminders": "on"}
    assert client.post(f"{manage_path}/reminders", data=back_on).status_code == 303
    assert the_booking(session).reminders_off is False


def test_one_click_unsubscribe_works_without_csrf_and_get_changes_nothing(
    app, client, session, reminding, clock
):
    book(client, reminding, THURSDAY)
    clock.move_to(THURSDAY - DAY)
    run_job(app)
    (reminder,) = reminder_mails(app)
    address = reminder["List-Unsubscribe"].strip("<>")
    assert reminder["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    path = urlsplit(address).path
    assert address.startswith("http://portal.test/b/salon/manage/")
    assert address in text_of(reminder)

    confirm = client.get(path)
    assert confirm.status_code == 200
    assert "Switch reminders off" in confirm.text
    assert confirm.headers["Referrer-Policy"] == "no-referrer"
    assert the_booking(session).reminders_off is False

    assert client.post(path, data={}).status_code == 400
    assert the_booking(session).reminders_off is False

    # As a mail provider posts it: no cookies, no CSRF token.
    fresh = app.test_client()
    done = fresh.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert "Reminders are off" in done.text
    assert the_booking(session).reminders_off is True

    clock.move_to(THURSDAY - TWO_HOURS)
    assert run_job(app) == 0
    assert fresh.post(path + "x", data={"List-Unsubscribe": "One-Click"}).status_code == 404


# -- what a reminder says --------------------------------------------------------------


def test_a_reminder_carries_the_manage_link_the_deadline_and_list_unsubscribe(
    app, client, session, reminding, clock
):
    set_reminders(session, reminding, "48")
    manage_path = book(client, reminding, THURSDAY)
    clock.move_to(THURSDAY - 2 * DAY)
    assert run_job(app) == 1
    (reminder,) = reminder_mails(app)
    text = text_of(reminder)
    assert "Hello Mia Example," in text
    assert "Haircut" in text and "Alex" in text
    assert "Thursday, 05 March 2026, 10:00" in text
    assert f"http://portal.test{manage_path}\n" in text
    assert "Free cancellation until Wednesday, 04 March 2026, 10:00." in text
    assert reminder["To"] == "Mia Example <mia@example.com>"
    assert reminder["List-Unsubscribe"].startswith("<http://portal.test/b/salon/manage/")
    # The header names the URL as it is (not RFC 2047-encoded, which no provider would follow).
    (raw,) = raw_reminders(app)
    assert b"\nList-Unsubscribe: <http://portal.test/b/salon/manage/" in raw
    assert b"\nList-Unsubscribe-Post: List-Unsubscribe=One-Click" in raw
    html = html_of(reminder)
    assert f'href="http://portal.test{manage_path}"' in html
    assert "Free cancellation until Wednesday, 04 March 2026, 10:00." in html
    assert "/unsubscribe" in html
    # Only reminders can be switched off: the confirmation has no such header.
    confirmation = next(m for m in mails(app) if m["Subject"].startswith("Booking confirmed"))
    assert confirmation["List-Unsubscribe"] is None


def test_a_reminder_after_the_deadline_says_the_free_period_has_ended(
    app, client, session, reminding, clock
):
    book(client, reminding, THURSDAY)
    clock.move_to(THURSDAY - TWO_HOURS)
    run_job(app)
    (reminder,) = reminder_mails(app)
    assert "The free cancellation period has ended." in text_of(reminder)


def test_a_booking_without_a_sealed_token_gets_a_reminder_without_link(
    app, session, reminding, make_booking, clock
):
    """Made before reminders existed (or bare): no link, no List-Unsubscribe; no policy."""
    make_booking(start=THURSDAY, created_at=NOW)
    clock.move_to(THURSDAY - DAY)
    assert run_job(app) == 1
    (reminder,) = reminder_mails(app)
    text = text_of(reminder)
    assert "use the link in your confirmation e-mail" in text
    assert "/manage/" not in text
    assert "You can cancel online any time before the appointment." in text
    assert reminder["List-Unsubscribe"] is None


def test_hipaa_reminders_name_neither_client_nor_service(app, client, session, reminding, clock):
    manage_path = book(client, reminding, THURSDAY)
    set_hipaa(session, reminding.business)
    clock.move_to(THURSDAY - DAY)
    assert run_job(app) == 1
    (reminder,) = reminder_mails(app)
    assert reminder["Subject"] == "Reminder: your appointment at Salon Test, Thu 05 Mar 10:00"
    assert reminder["To"] == "mia@example.com"
    text, html = text_of(reminder), html_of(reminder)
    assert manage_path in text and manage_path in html
    assert "Thursday, 05 March 2026, 10:00" in text
    (raw,) = raw_reminders(app)
    # The random token could spell a name by chance; what is checked is everything else.
    token = manage_path.rsplit("/", 1)[1]
    for secret in ("Mia Example", "Mia", "Haircut", "Alex"):
        for part in (raw.decode(), text, html, str(reminder["Subject"]), str(reminder["To"])):
            assert secret not in part.replace(token, ""), secret
    assert reminder["List-Unsubscribe"] is not None


def test_reminders_are_written_in_the_business_language(app, client, session, reminding, clock):
    book(client, reminding, THURSDAY)
    session.rollback()
    session.get(Business, reminding.business.id).locale = "de"
    session.commit()
    clock.move_to(THURSDAY - DAY)
    run_job(app)
    session.rollback()
    message = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == REMINDER)).one()
    assert message.locale == "de"


def test_the_reminder_row_and_its_message_commit_together(app, client, session, reminding, clock):
    book(client, reminding, THURSDAY)
    clock.move_to(THURSDAY - DAY)
    run_job(app)
    session.rollback()
    booking = session.scalars(select(Booking)).one()
    message = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == REMINDER)).one()
    assert message.recipient == "mia@example.com"
    assert message.business_id == booking.business_id
    assert message.dedupe_key == f"reminder:{booking.id}:24:{THURSDAY.isoformat()}"
    assert queued(session) == [(24, THURSDAY)]


def test_a_reminder_stuck_until_the_next_mark_is_overtaken_by_it(
    app, client, session, reminding, clock
):
    book(client, reminding, THURSDAY)
    outbox(app)  # the confirmation goes; then the mail server is unreachable for a day
    clock.move_to(THURSDAY - DAY)
    assert run_job(app) == 1
    clock.move_to(THURSDAY - TWO_HOURS)
    assert run_job(app) == 1
    subjects = [m["Subject"] for m in reminder_mails(app)]
    assert subjects == ["Reminder: Haircut, Thu 05 Mar 10:00"]
    session.rollback()
    statuses = sorted(
        (m.status, m.created_at)
        for m in session.scalars(select(OutboxMessage).where(OutboxMessage.kind == REMINDER))
    )
    assert statuses == [(DROPPED, THURSDAY - DAY), ("sent", THURSDAY - TWO_HOURS)]
