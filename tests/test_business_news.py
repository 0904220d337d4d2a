"""Booking news for the business, the members' choices, the provider link, the daily agenda."""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta
from email import policy

import pytest
from sqlalchemy import select

from portal.accounts.models import StaffUser
from portal.accounts.service import create_staff_user
from portal.audit.models import AuditEvent
from portal.booking import business_news
from portal.booking.agenda import queue_due_agendas
from portal.booking.models import Booking
from portal.businesses.models import Business
from portal.catalog import service as catalog
from portal.catalog.models import Provider
from portal.mail.models import DROPPED, OutboxMessage
from portal.staff import notification_prefs as prefs
from tests.conftest import NOW, OWNER_EMAIL, STAFF_EMAIL, csrf_token, outbox, sign_in
from tests.factories import DETAILS, make_provider
from tests.test_catalog_admin import BUSINESS_DATA, submit
from tests.test_hipaa import set_hipaa
from tests.test_reschedule import book, move
from tests.test_schedule import book_as_staff, book_online, post_form

CLIENT_EMAIL = DETAILS["email"]
UNA_EMAIL = "una@salon.example"
#: Tuesday 3 March 2026, 11:00 in Berlin: a later slot to move a booking to.
ELEVEN = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
NEW_BOOKING_SUBJECT = "New booking: Haircut, 03 Mar 2026 10:00 – Mia Example"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- helpers ---------------------------------------------------------------------------


def mails(app) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(path.read_bytes(), policy=policy.default) for path in outbox(app)
    ]


def recipient(message) -> str:
    return message["To"].addresses[0].addr_spec


def subject(message) -> str:
    """The subject as a reader shows it (Python folds a long subject with an extra blank)."""
    return " ".join(str(message["Subject"]).split())


def news(app) -> dict[str, list[str]]:
    """The subjects of the business's e-mails (everything not to the client), by recipient."""
    found: dict[str, list[str]] = {}
    for message in mails(app):
        if recipient(message) != CLIENT_EMAIL:
            found.setdefault(recipient(message), []).append(subject(message))
    return found


def news_to(app, address: str) -> list[email.message.EmailMessage]:
    return [message for message in mails(app) if recipient(message) == address]


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(("html",)).get_content()


def fresh(session, model, row_id):
    session.rollback()
    session.expire_all()
    return session.get(model, row_id)


def change_events(session, area: str) -> list[dict]:
    session.rollback()
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.kind == "settings.changed").order_by(AuditEvent.id)
    )
    return [event.details for event in events if event.details.get("area") == area]


@pytest.fixture
def team(session, salon, owner, staff_member):
    """Olivia (owner), Sam (staff, signs in as the provider Alex) and Una (staff, no provider)."""
    una = create_staff_user(
        session,
        salon.business,
        email=UNA_EMAIL,
        password="quiet meadow lantern 5150",
        role="staff",
        name="Una Unlinked",
    )
    provider = session.get(Provider, salon.provider.id)
    provider.staff_user_id = staff_member.id
    session.commit()
    return una


def choose(session, user, scope=None, events="new,moved,cancelled,pending") -> None:
    member = session.get(StaffUser, user.id)
    member.notify_scope = scope
    member.notify_events = events
    session.commit()


def the_booking(session) -> Booking:
    session.rollback()
    session.expire_all()
    return session.scalars(select(Booking)).one()


# -- who hears of a booking ------------------------------------------------------------


def test_a_client_booking_is_news_for_the_owner_and_the_linked_provider(
    app, client, session, salon, team
):
    assert book_online(client, salon).status_code == 303
    booking = the_booking(session)

    assert news(app) == {
        OWNER_EMAIL: [NEW_BOOKING_SUBJECT],
        STAFF_EMAIL: [NEW_BOOKING_SUBJECT],
    }
    [message] = news_to(app, STAFF_EMAIL)
    assert message["From"].addresses[0].display_name == "Salon Test"
    assert message["To"].addresses[0].display_name == "Sam Staff"
    text = text_of(message)
    for fact in ("Mia Example", CLIENT_EMAIL, "+49 30 1234567", "Haircut", "Alex"):
        assert fact in text
    assert "Tuesday, 03 March 2026, 10:00 – 10:30 (Europe/Berlin)" in text
    assert "A client booked an appointment at Salon Test." in text
    assert f"http://portal.test/staff/bookings/{booking.id}" in text
    assert "http://portal.test/staff/notifications" in text
    assert f"http://portal.test/staff/bookings/{booking.id}" in html_of(message)
    # The client still gets exactly their own confirmation.
    assert [m["Subject"] for m in news_to(app, CLIENT_EMAIL)] == [
        "Booking confirmed: Haircut, 03 Mar 2026 10:00"
    ]


def test_members_hear_only_of_the_bookings_they_chose(app, client, session, salon, team):
    choose(session, team, scope="all")  # Una: every booking
    owner = session.scalars(select(StaffUser).filter_by(email=OWNER_EMAIL)).one()
    choose(session, owner, scope="none")

    assert book_online(client, salon).status_code == 303

    assert sorted(news(app)) == [STAFF_EMAIL, UNA_EMAIL]


def test_own_means_the_bookings_of_the_provider_one_signs_in_as(app, client, session, salon, team):
    bea = make_provider(session, salon.business, [salon.service], name="Bea")
    session.commit()
    url = f"/b/salon/services/{salon.service.id}/book?provider={bea.id}&start=2026-03-03T09:00Z"
    page = client.get(url)
    data = {"csrf_token": csrf_token(page.text), **DETAILS, "accept_terms": "y"}
    data["accept_policy"] = "y"
    assert client.post(url, data=data).status_code == 303

    # Bea signs in as nobody: only the owner (all bookings) hears of it; not Sam (Alex).
    assert list(news(app)) == [OWNER_EMAIL]


def test_members_hear_only_of_the_events_they_chose(app, client, session, salon, team):
    owner = session.scalars(select(StaffUser).filter_by(email=OWNER_EMAIL)).one()
    choose(session, owner, scope="all", events="cancelled")
    manage_path = book(client, salon)
    assert list(news(app)) == [STAFF_EMAIL]

    page = client.get(manage_path)
    client.post(f"{manage_path}/cancel", data={"csrf_token": csrf_token(page.text)})

    subjects = news(app)
    assert subjects[OWNER_EMAIL] == ["Booking cancelled: Haircut, 03 Mar 2026 10:00 – Mia Example"]
    assert subjects[STAFF_EMAIL] == [
        NEW_BOOKING_SUBJECT,
        "Booking cancelled: Haircut, 03 Mar 2026 10:00 – Mia Example",
    ]
    [cancelled] = news_to(app, OWNER_EMAIL)
    assert "was cancelled by the client; the time is free again." in text_of(cancelled)


def test_an_invited_member_who_has_not_joined_hears_nothing(app, client, session, salon, owner):
    create_staff_user(session, salon.business, email="new@salon.example", password=None)
    session.commit()
    choose(
        session,
        session.scalars(select(StaffUser).filter_by(email="new@salon.example")).one(),
        "all",
    )
    assert book_online(client, salon).status_code == 303
    assert list(news(app)) == [OWNER_EMAIL]


# -- the events ------------------------------------------------------------------------


def test_a_request_awaiting_approval_is_news_with_the_approve_page(
    app, client, session, salon, team
):
    business = session.get(Business, salon.business.id)
    business.approve_bookings = True
    session.commit()
    assert book_online(client, salon).status_code == 303
    booking = the_booking(session)
    assert booking.status == "pending"

    awaiting = "Booking awaiting your approval: Haircut, 03 Mar 2026 10:00 – Mia Example"
    assert news(app) == {OWNER_EMAIL: [awaiting], STAFF_EMAIL: [awaiting]}
    text = text_of(news_to(app, STAFF_EMAIL)[0])
    assert "waiting for your approval" in text
    assert f"Approve or decline it here:\nhttp://portal.test/staff/bookings/{booking.id}" in text

    # The owner approves: Sam hears of a new (confirmed) booking; the owner, who acted, does not.
    sign_in(client)
    detail = f"/staff/bookings/{booking.id}"
    assert post_form(client, detail, f"{detail}/approve").status_code == 303
    subjects = news(app)
    assert subjects[OWNER_EMAIL] == [awaiting]
    assert subjects[STAFF_EMAIL] == [awaiting, NEW_BOOKING_SUBJECT]
    approved = news_to(app, STAFF_EMAIL)[-1]
    assert "was approved and is confirmed" in text_of(approved)


def test_a_declined_request_is_cancellation_news(app, client, session, salon, team):
    business = session.get(Business, salon.business.id)
    business.approve_bookings = True
    session.commit()
    assert book_online(client, salon).status_code == 303
    booking = the_booking(session)
    sign_in(client)
    detail = f"/staff/bookings/{booking.id}"
    response = post_form(client, detail, f"{detail}/decline", reason="Fully booked")
    assert response.status_code == 303
    assert news(app)[STAFF_EMAIL][-1] == (
        "Booking request declined: Haircut, 03 Mar 2026 10:00 – Mia Example"
    )


def test_a_move_by_the_client_is_news(app, client, session, salon, team):
    manage_path = book(client, salon)
    # Sent after the move, the news of the booking still has the time it was booked for.
    assert move(client, manage_path, ELEVEN).status_code == 303
    moved = "Booking moved: Haircut, 03 Mar 2026 11:00 – Mia Example"
    assert news(app)[STAFF_EMAIL] == [NEW_BOOKING_SUBJECT, moved]
    message = news_to(app, OWNER_EMAIL)[-1]
    assert "has moved to a new time" in text_of(message)
    assert "11:00 – 11:30" in text_of(message)


def test_a_staff_cancellation_is_news_for_the_others_not_the_one_who_cancelled(
    app, client, session, salon, team
):
    book(client, salon)
    booking = the_booking(session)
    sign_in(client)  # the owner
    detail = f"/staff/bookings/{booking.id}"
    assert post_form(client, detail, f"{detail}/cancel", reason="Alex is ill").status_code == 303

    subjects = news(app)
    cancelled = "Booking cancelled: Haircut, 03 Mar 2026 10:00 – Mia Example"
    assert subjects[OWNER_EMAIL] == [NEW_BOOKING_SUBJECT]
    assert subjects[STAFF_EMAIL] == [NEW_BOOKING_SUBJECT, cancelled]
    text = text_of(news_to(app, STAFF_EMAIL)[-1])
    assert "was cancelled by staff" in text
    assert "Reason: Alex is ill" in text


def test_a_booking_staff_made_is_news_for_the_others(app, client, session, salon, team):
    sign_in(client)  # the owner books for the client
    assert book_as_staff(client, salon).status_code == 303
    assert news(app) == {STAFF_EMAIL: [NEW_BOOKING_SUBJECT]}
    assert "Staff booked an appointment for a client" in text_of(news_to(app, STAFF_EMAIL)[0])


def test_hipaa_news_names_neither_client_nor_service(app, session, salon, team, make_booking):
    set_hipaa(session, salon.business)  # (its pages need HTTPS: the news is queued directly)
    booking = make_booking(status="pending")
    business = session.get(Business, salon.business.id)
    with app.test_request_context():
        for event in prefs.EVENTS:
            business_news.tell(session, business, booking, event)
    session.commit()

    business_mail = [m for m in mails(app) if recipient(m) != CLIENT_EMAIL]
    assert len(business_mail) == 2 * len(prefs.EVENTS)  # to Olivia and Sam each
    for message in business_mail:
        raw = message.as_string()
        for secret in ("Mia", "Example", "1234567", "Haircut", "Alex"):
            assert secret not in raw, (secret, message["Subject"])
        assert "Salon Test" in message["Subject"]
        assert f"/staff/bookings/{booking.id}" in text_of(message)
        assert "Tuesday, 03 March 2026, 10:00 (Europe/Berlin)" in text_of(message)
    assert {subject(m) for m in business_mail} == {
        "New booking: 03 Mar 2026 10:00 – Salon Test",
        "Booking awaiting your approval: 03 Mar 2026 10:00 – Salon Test",
        "Booking moved: 03 Mar 2026 10:00 – Salon Test",
        "Booking cancelled: 03 Mar 2026 10:00 – Salon Test",
    }


def test_news_of_a_purged_booking_is_dropped(app, client, session, salon, team):
    assert book_online(client, salon).status_code == 303
    booking = the_booking(session)
    session.delete(session.get(Booking, booking.id))
    session.commit()
    assert news(app) == {}
    session.rollback()
    kinds = session.scalars(
        select(OutboxMessage.status).where(OutboxMessage.kind == "booking.business_news")
    ).all()
    assert kinds == [DROPPED, DROPPED]


# -- the member's settings page -------------------------------------------------------


def test_a_member_sees_the_role_default_and_saves_a_choice_audited(
    app, client, session, salon, team
):
    sign_in(client, STAFF_EMAIL, "velvet harbour cinnamon 77")
    page = client.get("/staff/notifications")
    assert page.status_code == 200
    assert 'checked id="scope-1" name="scope" type="radio" value="own"' in page.text
    assert "Your own bookings are those of: Alex." in page.text
    assert 'href="/staff/notifications"' in page.text  # in the navigation

    response = client.post(
        "/staff/notifications",
        data={"csrf_token": csrf_token(page.text), "scope": "all", "events": ["new", "cancelled"]},
    )
    assert response.status_code == 303
    assert "Saved 2 change(s)." in client.get("/staff/notifications").text
    member = fresh(
        session, StaffUser, session.scalars(select(StaffUser.id).filter_by(email=STAFF_EMAIL)).one()
    )
    assert (member.notify_scope, member.notify_events) == ("all", "new,cancelled")
    [event] = change_events(session, "notifications")
    assert event["changes"] == {
        "notify_scope": ["own", "all"],
        "notify_events": ["new,pending,moved,cancelled", "new,cancelled"],
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"scope": "everything", "events": ["new"]},
            "Choose all bookings, only your own, or none.",
        ),
        ({"scope": "all", "events": ["sometimes"]}, "Choose the news from the list."),
    ],
)
def test_a_choice_the_page_does_not_offer_is_refused(
    app, client, session, salon, team, data, message
):
    sign_in(client, STAFF_EMAIL, "velvet harbour cinnamon 77")
    page = client.get("/staff/notifications")
    response = client.post(
        "/staff/notifications", data={"csrf_token": csrf_token(page.text), **data}
    )
    assert response.status_code == 422
    assert message in response.text
    member = fresh(
        session, StaffUser, session.scalars(select(StaffUser.id).filter_by(email=STAFF_EMAIL)).one()
    )
    assert member.notify_scope is None
    assert change_events(session, "notifications") == []


def test_the_owner_defaults_to_all_bookings(owner_client):
    page = owner_client.get("/staff/notifications").text
    assert 'checked id="scope-0" name="scope" type="radio" value="all"' in page


def test_preferences_are_checked_by_the_domain_too(session, salon, owner):
    with pytest.raises(prefs.PreferenceError):
        prefs.check("everything", ["new"])
    with pytest.raises(prefs.PreferenceError):
        prefs.check("own", ["new", "daily"])
    assert prefs.check("none", []).events == frozenset()


# -- the provider link -----------------------------------------------------------------


def test_the_owner_links_a_provider_to_a_staff_member(owner_client, session, salon, staff_member):
    url = f"/staff/providers/{salon.provider.id}"
    page = owner_client.get(url)
    assert "This provider signs in as" in page.text
    assert "Sam Staff (sam@salon.example)" in page.text
    response = submit(
        owner_client,
        url,
        {
            "name": "Alex",
            "services": [str(salon.service.id)],
            "staff_user_id": str(staff_member.id),
        },
    )
    assert response.status_code == 303
    assert fresh(session, Provider, salon.provider.id).staff_user_id == staff_member.id
    [event] = [e for e in change_events(session, "providers") if "signs_in_as" in e["changes"]]
    assert event["changes"]["signs_in_as"] == [None, STAFF_EMAIL]

    # Nobody again.
    response = submit(
        owner_client,
        url,
        {"name": "Alex", "services": [str(salon.service.id)], "staff_user_id": ""},
    )
    assert response.status_code == 303
    assert fresh(session, Provider, salon.provider.id).staff_user_id is None


def test_a_new_provider_can_be_linked_at_once(owner_client, session, salon, staff_member):
    response = submit(
        owner_client,
        "/staff/providers/new",
        {"name": "Sam", "services": [str(salon.service.id)], "staff_user_id": str(staff_member.id)},
    )
    assert response.status_code == 303
    session.rollback()
    sam = session.scalars(select(Provider).filter_by(name="Sam")).one()
    assert sam.staff_user_id == staff_member.id


def test_a_staff_member_of_another_business_cannot_be_linked(owner_client, session, salon, rival):
    rita = create_staff_user(
        session,
        rival.business,
        email="rita@rival.example",
        password="quiet orchard velvet 3141",
        role="owner",
    )
    session.commit()
    url = f"/staff/providers/{salon.provider.id}"
    assert "rita@rival.example" not in owner_client.get(url).text
    for value in (str(rita.id), "999999", "nobody"):
        response = submit(
            owner_client,
            url,
            {"name": "Alex", "services": [str(salon.service.id)], "staff_user_id": value},
        )
        assert response.status_code == 422
        assert "Choose a staff member of this business from the list." in response.text
    assert fresh(session, Provider, salon.provider.id).staff_user_id is None
    # The domain refuses it too, whatever the form offered.
    business = session.get(Business, salon.business.id)
    provider = session.get(Provider, salon.provider.id)
    owner = session.scalars(select(StaffUser).filter_by(email=OWNER_EMAIL)).one()
    with pytest.raises(catalog.CatalogError):
        catalog.update_provider(
            session, business, provider, "Alex", catalog.Actor(owner, NOW), staff_user_id=rita.id
        )
    session.rollback()


# -- the business's e-mail settings ----------------------------------------------------


def test_business_email_settings_are_saved_and_audited(owner_client, session, salon):
    data = dict(
        BUSINESS_DATA,
        contact_email="hello@salon.example",
        reminder_hours="48,2",
        agenda_time="07:30",
    )
    response = submit(owner_client, "/staff/business", data)
    assert response.status_code == 303, response.text
    business = fresh(session, Business, salon.business.id)
    assert (business.contact_email, business.reminder_hours, business.agenda_minute) == (
        "hello@salon.example",
        "48,2",
        450,
    )
    [event] = change_events(session, "business")
    assert event["changes"] == {
        "contact_email": ["", "hello@salon.example"],
        "reminder_hours": ["24", "48,2"],
        "agenda_minute": [None, 450],
    }
    page = owner_client.get("/staff/business").text
    assert 'value="07:30"' in page
    assert '<option selected value="48,2">' in page

    # No reminders, no agenda, no reply address.
    data.update(contact_email="", reminder_hours="", agenda_time="")
    assert submit(owner_client, "/staff/business", data).status_code == 303
    business = fresh(session, Business, salon.business.id)
    assert (business.contact_email, business.reminder_hours, business.agenda_minute) == (
        "",
        "",
        None,
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("contact_email", "not an address", "Enter a valid e-mail address"),
        ("reminder_hours", "12", "Choose the reminders from the list."),
        ("agenda_time", "25:00", "Use HH:MM between 00:00 and 23:59"),
    ],
)
def test_bad_business_email_settings_are_refused(
    owner_client, session, salon, field, value, message
):
    response = submit(owner_client, "/staff/business", dict(BUSINESS_DATA, **{field: value}))
    assert response.status_code == 422
    assert message in response.text
    business = fresh(session, Business, salon.business.id)
    assert (business.contact_email, business.reminder_hours, business.agenda_minute) == (
        "",
        "24",
        None,
    )
    assert change_events(session, "business") == []


def test_the_domain_checks_the_email_settings_too(session, salon, owner):
    business = session.get(Business, salon.business.id)
    actor = catalog.Actor(session.get(StaffUser, owner.id), NOW)
    for values in (
        {"contact_email": "nope"},
        {"reminder_hours": "72"},
        {"agenda_minute": 1440},
    ):
        with pytest.raises(catalog.CatalogError):
            catalog.update_business(session, business, values, actor)
    session.rollback()


# -- the daily agenda ------------------------------------------------------------------


@pytest.fixture
def agenda_at_half_past_seven(session, salon, team):
    business = session.get(Business, salon.business.id)
    business.agenda_minute = 7 * 60 + 30
    session.commit()


def queue(app, now=None) -> int:
    with app.app_context():
        return queue_due_agendas(app.extensions["portal_db"], now or datetime.now(UTC))


def agendas(app) -> list[email.message.EmailMessage]:
    return [m for m in mails(app) if subject(m).startswith("Agenda")]


def test_the_agenda_goes_once_at_or_after_its_time(
    app, session, salon, team, clock, make_booking, agenda_at_half_past_seven
):
    make_booking(start=utc(2026, 3, 2, 9, 0), name="Mia Example")  # 10:00 today
    make_booking(start=utc(2026, 3, 2, 14, 0), name="Paul Pending", status="pending")
    make_booking(start=utc(2026, 3, 2, 12, 0), name="Gone Away", status="cancelled")
    make_booking(start=utc(2026, 3, 3, 9, 0), name="Tomorrow Person")

    assert queue(app) == 0  # 07:00 in Berlin: not yet
    clock.move_to(NOW + timedelta(minutes=30))
    assert queue(app) == 1
    assert queue(app) == 0  # not twice
    clock.move_to(NOW + timedelta(hours=5))
    assert queue(app) == 0

    [agenda] = agendas(app)
    assert recipient(agenda) == STAFF_EMAIL  # Alex signs in as Sam; Una is no provider
    assert subject(agenda) == "Agenda of Alex for Monday, 02 March 2026: 2 booking(s)"
    text = text_of(agenda)
    assert "10:00–10:30  Haircut – Mia Example" in text
    assert "15:00–15:30  Haircut – Paul Pending (awaiting approval)" in text
    assert "Gone Away" not in text and "Tomorrow Person" not in text
    assert "Mia Example" in html_of(agenda)


def test_a_day_without_bookings_has_an_agenda_saying_so(
    app, session, salon, team, clock, agenda_at_half_past_seven
):
    clock.move_to(NOW + timedelta(hours=1))
    assert queue(app) == 1
    [agenda] = agendas(app)
    assert "No bookings today." in text_of(agenda)


def test_an_agenda_missed_yesterday_is_not_sent_today(
    app, session, salon, team, clock, agenda_at_half_past_seven
):
    # The worker was down from Monday morning until Tuesday 07:00 (before the agenda time).
    clock.move_to(datetime(2026, 3, 3, 6, 0, tzinfo=UTC))
    assert queue(app) == 0
    clock.move_to(datetime(2026, 3, 3, 6, 30, tzinfo=UTC))
    assert queue(app) == 1
    session.rollback()
    keys = session.scalars(select(OutboxMessage.dedupe_key)).all()
    assert keys == [f"agenda:{salon.provider.id}:2026-03-03"]


def test_no_agenda_without_a_time_or_for_an_inactive_member(
    app, session, salon, team, clock, staff_member
):
    clock.move_to(NOW + timedelta(hours=3))
    assert queue(app) == 0  # no agenda time set
    business = session.get(Business, salon.business.id)
    business.agenda_minute = 0
    session.get(StaffUser, staff_member.id).active = False
    session.commit()
    assert queue(app) == 0


def test_a_hipaa_agenda_names_nobody(
    app, session, salon, team, clock, make_booking, agenda_at_half_past_seven
):
    set_hipaa(session, salon.business)
    make_booking(start=utc(2026, 3, 2, 9, 0), name="Mia Example")
    clock.move_to(NOW + timedelta(minutes=45))
    assert queue(app) == 1
    [agenda] = agendas(app)
    raw = agenda.as_string()
    for secret in ("Mia", "Example", "Haircut"):
        assert secret not in raw, secret
    assert "10:00–10:30" in text_of(agenda)
