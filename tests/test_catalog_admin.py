"""The owner's business set-up: settings, services, providers, weekly hours, days off."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.booking.models import CANCELLED, Booking
from portal.businesses.models import Business
from portal.catalog.models import DayOff, Provider, Service, WorkingHours
from tests.conftest import csrf_token
from tests.factories import make_service

#: The day after the frozen clock's Monday: a Tuesday with 09:00-17:00 hours.
TUESDAY = date(2026, 3, 3)
WEDNESDAY = date(2026, 3, 4)
#: Before the frozen clock (Monday 2 March 2026, 07:00 in Berlin).
LAST_WEEK = datetime(2026, 2, 24, 9, 0, tzinfo=UTC)
NEXT_WEEK = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
SLOT_PATTERN = re.compile(r'class="slot" href="[^"]*">(\d\d:\d\d)</a>')
NINE_TO_FIVE = [f"{hour:02d}:{minute:02d}" for hour in range(9, 17) for minute in (0, 30)]

# -- helpers ---------------------------------------------------------------------------


def submit(client, url: str, data: dict, *, page: str | None = None):
    """Post ``data`` to ``url`` with the CSRF token of ``page`` (default: ``url`` itself)."""
    token = csrf_token(client.get(page or url).text)
    return client.post(url, data={"csrf_token": token, **data})


def press(client, url: str, page: str):
    """Press a button: a POST with nothing but the CSRF token."""
    return submit(client, url, {}, page=page)


def fresh(session, model, row_id):
    """The row as the requests left it (the reader's objects may be stale)."""
    session.rollback()
    session.expire_all()
    return session.get(model, row_id)


def count(session, model, **where) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(model).filter_by(**where))


def change_events(session, area: str) -> list[dict]:
    session.rollback()
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.kind == "settings.changed").order_by(AuditEvent.id)
    )
    return [event.details for event in events if event.details.get("area") == area]


def client_slots(client, salon, day: date, service_id: int | None = None) -> list[str]:
    """The free times a client sees on ``day``."""
    service_id = service_id or salon.service.id
    page = client.get(f"/b/salon/services/{service_id}?day={day.isoformat()}")
    assert page.status_code == 200
    return SLOT_PATTERN.findall(page.text)


def service_data(**overrides) -> dict:
    data = {
        "name": "Colour",
        "description": "Full colour with a wash.",
        "duration_minutes": "60",
        "price_cents": "55.00",
        "buffer_minutes": "15",
    }
    data.update(overrides)
    return data


BUSINESS_DATA = {
    "name": "Salon Test",
    "timezone": "Europe/Berlin",
    "locale": "en",
    "min_notice_minutes": "60",
    "max_days_ahead": "30",
    "slot_step_minutes": "30",
}


def hours_data(**days) -> dict:
    """The weekly-hours form: 09:00-17:00 every day unless a day is given."""
    data = {}
    for name in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"):
        stretches = days.get(name, [("09:00", "17:00")])
        for number in (1, 2):
            starts, ends = stretches[number - 1] if len(stretches) >= number else ("", "")
            data[f"{name}-start_{number}"] = starts
            data[f"{name}-end_{number}"] = ends
    return data


# -- access ----------------------------------------------------------------------------


def pages(salon) -> list[str]:
    provider = salon.provider.id
    return [
        "/staff/business",
        "/staff/services",
        "/staff/services/new",
        f"/staff/services/{salon.service.id}",
        "/staff/providers",
        "/staff/providers/new",
        f"/staff/providers/{provider}",
        f"/staff/providers/{provider}/hours",
        f"/staff/providers/{provider}/days-off",
    ]


def test_each_setup_page_opens_for_the_owner(owner_client, salon):
    for url in pages(salon):
        response = owner_client.get(url)
        assert response.status_code == 200, url
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_a_staff_member_who_is_not_the_owner_is_refused_every_page(staff_client, salon):
    for url in pages(salon):
        response = staff_client.get(url)
        assert response.status_code == 403, url
        assert "Only the business owner" in response.text
    token = csrf_token(staff_client.get("/staff/").text)
    response = staff_client.post(
        f"/staff/services/{salon.service.id}/delete", data={"csrf_token": token}
    )
    assert response.status_code == 403


def test_a_staff_member_does_not_see_the_setup_links(staff_client):
    page = staff_client.get("/staff/").text
    assert "/staff/services" not in page
    assert "/staff/business" not in page


def test_the_owner_sees_the_setup_links(owner_client):
    page = owner_client.get("/staff/").text
    for link in ("/staff/business", "/staff/services", "/staff/providers"):
        assert f'href="{link}"' in page


def test_a_signed_out_visitor_is_sent_to_sign_in(client, salon):
    response = client.get("/staff/services")
    assert response.status_code == 302
    assert "/staff/login" in response.headers["Location"]


# -- business settings -----------------------------------------------------------------


def test_business_settings_are_saved_and_audited_with_old_and_new_values(
    owner_client, session, salon
):
    data = dict(
        BUSINESS_DATA,
        name="Salon Neu",
        timezone="Europe/Vienna",
        locale="de",
        min_notice_minutes="120",
        max_days_ahead="90",
        slot_step_minutes="15",
    )
    response = submit(owner_client, "/staff/business", data)
    assert response.status_code == 303
    assert "Saved 6 change(s)." in owner_client.get("/staff/business").text
    business = fresh(session, Business, salon.business.id)
    assert (business.name, business.timezone, business.locale) == (
        "Salon Neu",
        "Europe/Vienna",
        "de",
    )
    assert (business.min_notice_minutes, business.max_days_ahead) == (120, 90)
    assert business.slot_step_minutes == 15
    [event] = change_events(session, "business")
    assert event["changes"] == {
        "name": ["Salon Test", "Salon Neu"],
        "timezone": ["Europe/Berlin", "Europe/Vienna"],
        "locale": ["en", "de"],
        "min_notice_minutes": [60, 120],
        "max_days_ahead": [30, 90],
        "slot_step_minutes": [30, 15],
    }


def test_saving_unchanged_business_settings_records_nothing(owner_client, session, salon):
    response = submit(owner_client, "/staff/business", BUSINESS_DATA)
    assert response.status_code == 303
    assert "Nothing changed." in owner_client.get("/staff/business").text
    assert change_events(session, "business") == []


BAD_BUSINESS_SETTINGS = [
    ("name", "  ", "Please enter the business name."),
    ("timezone", "Mars/Olympus", "Unknown timezone &#39;Mars/Olympus&#39;"),
    ("timezone", "localtime", "use an IANA name like Europe/Berlin"),
    ("timezone", "", "Please enter a timezone"),
    ("locale", "fr", "Choose English or Deutsch."),
    ("min_notice_minutes", "-1", "not a negative number"),
    ("min_notice_minutes", "43201", "between 0 and 43200 minutes"),
    ("min_notice_minutes", "soon", "Enter a whole number, like 30."),
    ("min_notice_minutes", "", "Please enter the minimum notice"),
    ("max_days_ahead", "0", "between 1 and 730 days ahead"),
    ("max_days_ahead", "731", "between 1 and 730 days ahead"),
    ("max_days_ahead", "9" * 40, "That number is far too large."),
    ("slot_step_minutes", "7", "The slot step must be a multiple of 5 minutes."),
    ("slot_step_minutes", "245", "The slot step must be between 5 and 240 minutes."),
    ("slot_step_minutes", "0", "The slot step must be between 5 and 240 minutes."),
]


def test_bad_business_settings_are_refused_with_a_message(owner_client, session, salon):
    for field, value, message in BAD_BUSINESS_SETTINGS:
        response = submit(owner_client, "/staff/business", dict(BUSINESS_DATA, **{field: value}))
        assert response.status_code == 422, (field, value)
        assert message in response.text, (field, value)
        assert "Nothing was saved" in response.text
    business = fresh(session, Business, salon.business.id)
    assert (business.name, business.timezone, business.max_days_ahead) == (
        "Salon Test",
        "Europe/Berlin",
        30,
    )
    assert change_events(session, "business") == []


def test_max_days_ahead_changes_the_booking_window_clients_see(owner_client, salon):
    far_day = (date(2026, 3, 2) + timedelta(days=10)).isoformat()
    page = owner_client.get(f"/b/salon/services/{salon.service.id}").text
    assert f"day={far_day}" in page
    submit(owner_client, "/staff/business", dict(BUSINESS_DATA, max_days_ahead="3"))
    page = owner_client.get(f"/b/salon/services/{salon.service.id}").text
    assert f"day={far_day}" not in page
    response = owner_client.get(f"/b/salon/services/{salon.service.id}?day={far_day}")
    assert response.status_code == 400
    assert "Bookings open 3 days ahead" in response.text


def test_slot_step_and_notice_change_the_times_clients_see(owner_client, salon):
    assert client_slots(owner_client, salon, TUESDAY) == NINE_TO_FIVE
    submit(owner_client, "/staff/business", dict(BUSINESS_DATA, slot_step_minutes="60"))
    assert client_slots(owner_client, salon, TUESDAY) == [f"{h:02d}:00" for h in range(9, 17)]
    # Two days of notice: nothing is bookable on Tuesday any more.
    submit(
        owner_client,
        "/staff/business",
        dict(BUSINESS_DATA, slot_step_minutes="60", min_notice_minutes="2880"),
    )
    page = owner_client.get(f"/b/salon/services/{salon.service.id}").text
    assert f"day={TUESDAY.isoformat()}" not in page


# -- services --------------------------------------------------------------------------


def test_a_new_service_appears_for_clients_at_once(owner_client, session, salon):
    data = service_data(providers=[str(salon.provider.id)])
    response = submit(owner_client, "/staff/services/new", data)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/staff/services")
    session.rollback()
    service = session.scalars(select(Service).where(Service.name == "Colour")).one()
    assert (service.duration_minutes, service.price_cents, service.buffer_minutes) == (60, 5500, 15)
    assert service.description == "Full colour with a wash."
    assert [p.name for p in service.providers] == ["Alex"]
    public = owner_client.get("/b/salon/").text
    assert "Colour" in public
    assert "€55.00" in public
    assert client_slots(owner_client, salon, TUESDAY, service.id)[:2] == ["09:00", "09:30"]
    [event] = change_events(session, "services")
    assert event["action"] == "created"
    assert event["service_id"] == service.id
    assert event["changes"]["price_cents"] == [None, 5500]
    assert event["changes"]["providers"] == [None, "Alex"]


PRICES = [("35", 3500), ("35.5", 3550), ("35.50", 3550), ("35,50", 3550), ("0", 0), (" 7.05 ", 705)]


def test_prices_are_typed_as_decimals_and_stored_in_cents(owner_client, session, salon):
    for number, (typed, cents) in enumerate(PRICES):
        name = f"Colour {number}"
        data = service_data(name=name, price_cents=typed)
        assert submit(owner_client, "/staff/services/new", data).status_code == 303
        session.rollback()
        service = session.scalars(select(Service).where(Service.name == name)).one()
        assert service.price_cents == cents, typed


def test_the_edit_page_shows_the_price_as_a_decimal(owner_client, salon):
    page = owner_client.get(f"/staff/services/{salon.service.id}").text
    assert 'value="30.00"' in page


BAD_SERVICE_INPUT = [
    ("name", "", "Please enter the service&#39;s name."),
    ("name", "x" * 201, "Keep the name under 200 characters."),
    ("name", "haircut", "There is already a service called &#39;haircut&#39;"),
    ("description", "x" * 2001, "Keep the description under 2000 characters."),
    ("duration_minutes", "4", "The duration must be between 5 and 720 minutes."),
    ("duration_minutes", "721", "The duration must be between 5 and 720 minutes."),
    ("duration_minutes", "1.5", "Enter a whole number, like 30."),
    ("duration_minutes", "", "Please enter the duration in minutes."),
    ("price_cents", "-5", "The price cannot be negative."),
    ("price_cents", "35.001", "Use at most two decimals, like 35.50."),
    ("price_cents", "35 EUR", "Enter a price like 35.00."),
    ("price_cents", "", "Please enter a price, like 35.00 (0 if it is free)."),
    ("price_cents", "1000000.01", "The price must be at most 1000000.00."),
    ("buffer_minutes", "241", "The buffer must be between 0 and 240 minutes."),
    ("buffer_minutes", "-1", "not a negative number"),
    ("providers", "99999", "Choose providers from the list."),
    ("providers", "alex", "Choose providers from the list."),
]


def test_bad_service_input_is_refused_with_a_message(owner_client, session, salon):
    for field, value, message in BAD_SERVICE_INPUT:
        response = submit(owner_client, "/staff/services/new", service_data(**{field: value}))
        assert response.status_code == 422, (field, value)
        assert message in response.text, (field, value)
    assert count(session, Service) == 1
    assert change_events(session, "services") == []


def test_a_provider_of_another_business_cannot_be_given_a_service(
    owner_client, session, salon, rival
):
    robin = rival.provider
    response = submit(owner_client, "/staff/services/new", service_data(providers=[str(robin.id)]))
    assert response.status_code == 422
    assert "Choose providers from the list." in response.text
    assert count(session, Service, business_id=salon.business.id) == 1


def test_editing_a_service_is_audited_with_old_and_new_values(owner_client, session, salon):
    url = f"/staff/services/{salon.service.id}"
    data = service_data(
        name="Haircut", description="", duration_minutes="45", price_cents="45", buffer_minutes="0"
    )
    response = submit(owner_client, url, data)  # no provider ticked: Alex no longer does it
    assert response.status_code == 303
    service = fresh(session, Service, salon.service.id)
    assert (service.duration_minutes, service.price_cents, service.providers) == (45, 4500, [])
    [event] = change_events(session, "services")
    assert event["action"] == "updated"
    assert event["changes"] == {
        "duration_minutes": [30, 45],
        "price_cents": [3000, 4500],
        "providers": ["Alex", ""],
    }
    # Without a provider, clients find no free time for it.
    assert client_slots(owner_client, salon, TUESDAY) == []


def test_future_bookings_stop_a_service_being_deleted(owner_client, session, salon, make_booking):
    for days in (0, 1, 2):
        make_booking(start=NEXT_WEEK + timedelta(days=days))
    make_booking(start=LAST_WEEK)
    url = f"/staff/services/{salon.service.id}"
    response = press(owner_client, f"{url}/delete", url)
    assert response.status_code == 409
    assert "3 upcoming bookings use this service; cancel or move them first." in response.text
    service = fresh(session, Service, salon.service.id)
    assert service.active
    assert count(session, Booking) == 4
    assert change_events(session, "services") == []
    assert "Haircut" in owner_client.get("/b/salon/").text


def test_one_future_booking_is_named_in_the_singular(owner_client, session, salon, make_booking):
    make_booking(start=NEXT_WEEK)
    url = f"/staff/services/{salon.service.id}"
    response = press(owner_client, f"{url}/delete", url)
    assert response.status_code == 409
    assert "1 upcoming booking uses this service" in response.text


def test_a_service_with_only_past_bookings_is_archived(owner_client, session, salon, make_booking):
    booking = make_booking(start=LAST_WEEK)
    make_booking(start=NEXT_WEEK, status=CANCELLED)
    url = f"/staff/services/{salon.service.id}"
    response = press(owner_client, f"{url}/delete", url)
    assert response.status_code == 303
    assert "it is archived" in owner_client.get("/staff/services").text
    service = fresh(session, Service, salon.service.id)
    assert service is not None
    assert not service.active
    assert session.get(Booking, booking.id).service_id == service.id
    assert "Haircut" not in owner_client.get("/b/salon/").text
    assert owner_client.get(f"/b/salon/services/{service.id}").status_code == 404
    [event] = change_events(session, "services")
    assert (event["action"], event["changes"]) == ("archived", {"active": [True, False]})


def test_an_archived_service_can_be_restored(owner_client, session, salon, make_booking):
    make_booking(start=LAST_WEEK)
    url = f"/staff/services/{salon.service.id}"
    press(owner_client, f"{url}/delete", url)
    response = press(owner_client, f"{url}/restore", "/staff/services")
    assert response.status_code == 303
    assert fresh(session, Service, salon.service.id).active
    assert "Haircut" in owner_client.get("/b/salon/").text


def test_restoring_is_refused_while_another_service_has_the_name(
    owner_client, session, salon, make_booking
):
    make_booking(start=LAST_WEEK)
    url = f"/staff/services/{salon.service.id}"
    press(owner_client, f"{url}/delete", url)
    submit(owner_client, "/staff/services/new", service_data(name="Haircut"))
    response = press(owner_client, f"{url}/restore", "/staff/services")
    assert response.status_code == 303
    page = owner_client.get("/staff/services").text
    assert "There is already a service called &#39;Haircut&#39;" in page
    assert not fresh(session, Service, salon.service.id).active


def test_a_service_without_bookings_is_deleted(owner_client, session, salon):
    url = f"/staff/services/{salon.service.id}"
    response = press(owner_client, f"{url}/delete", url)
    assert response.status_code == 303
    assert "Haircut is deleted." in owner_client.get("/staff/services").text
    assert fresh(session, Service, salon.service.id) is None
    assert fresh(session, Provider, salon.provider.id).services == []
    [event] = change_events(session, "services")
    assert (event["action"], event["changes"]) == ("deleted", {"name": ["Haircut", None]})


def test_a_service_of_another_business_is_not_found(owner_client, session, salon, rival):
    massage = rival.service
    url = f"/staff/services/{massage.id}"
    assert owner_client.get(url).status_code == 404
    token = csrf_token(owner_client.get("/staff/services/new").text)
    for target in (url, f"{url}/delete", f"{url}/restore"):
        response = owner_client.post(target, data={"csrf_token": token, **service_data()})
        assert response.status_code == 404, target
        assert "There is no such service at this business." in response.text
    service = fresh(session, Service, massage.id)
    assert (service.name, service.active) == ("Deep Tissue Massage", True)
    assert owner_client.get(f"/staff/services/{2**40}").status_code == 404


# -- providers -------------------------------------------------------------------------


def test_a_new_provider_is_offered_to_clients_once_they_have_hours(owner_client, session, salon):
    response = submit(
        owner_client, "/staff/providers/new", {"name": "Sam", "services": [str(salon.service.id)]}
    )
    assert response.status_code == 303
    session.rollback()
    sam = session.scalars(select(Provider).where(Provider.name == "Sam")).one()
    assert response.headers["Location"].endswith(f"/staff/providers/{sam.id}/hours")
    assert [s.name for s in sam.services] == ["Haircut"]
    page = owner_client.get(f"/b/salon/services/{salon.service.id}").text
    assert f"provider={sam.id}" in page
    hours = f"/staff/providers/{sam.id}/hours"
    submit(owner_client, hours, hours_data(tuesday=[("12:00", "13:00")]))
    url = f"/b/salon/services/{salon.service.id}?provider={sam.id}&day={TUESDAY.isoformat()}"
    assert SLOT_PATTERN.findall(owner_client.get(url).text) == ["12:00", "12:30"]
    [event] = change_events(session, "providers")[:1]
    assert event["action"] == "created"
    assert event["changes"] == {"name": [None, "Sam"], "services": [None, "Haircut"]}


def test_editing_a_provider_is_audited_with_old_and_new_values(owner_client, session, salon):
    colour = make_service(session, salon.business, name="Colour")
    session.commit()
    url = f"/staff/providers/{salon.provider.id}"
    response = submit(owner_client, url, {"name": "Alexandra", "services": [str(colour.id)]})
    assert response.status_code == 303
    provider = fresh(session, Provider, salon.provider.id)
    assert provider.name == "Alexandra"
    assert [s.name for s in provider.services] == ["Colour"]
    [event] = change_events(session, "providers")
    assert event["changes"] == {
        "name": ["Alex", "Alexandra"],
        "services": ["Haircut", "Colour"],
    }


BAD_PROVIDER_INPUT = [
    ({"name": ""}, "Please enter the provider&#39;s name."),
    ({"name": "Sam", "services": "12345"}, "Choose services from the list."),
]


def test_bad_provider_input_is_refused_with_a_message(owner_client, session, salon):
    for data, message in BAD_PROVIDER_INPUT:
        response = submit(owner_client, "/staff/providers/new", data)
        assert response.status_code == 422, data
        assert message in response.text, data
    assert count(session, Provider) == 1


def test_the_hours_page_shows_the_current_hours(owner_client, salon):
    page = owner_client.get(f"/staff/providers/{salon.provider.id}/hours").text
    assert 'id="tuesday-start_1" name="tuesday-start_1" type="time" value="09:00"' in page
    assert 'name="tuesday-start_2" type="time" value=""' in page


def test_new_weekly_hours_change_the_slots_a_client_sees(owner_client, session, salon):
    assert client_slots(owner_client, salon, TUESDAY) == NINE_TO_FIVE
    url = f"/staff/providers/{salon.provider.id}/hours"
    data = hours_data(tuesday=[("14:00", "15:00"), ("10:00", "11:00")], wednesday=[])
    response = submit(owner_client, url, data)
    assert response.status_code == 303
    assert client_slots(owner_client, salon, TUESDAY) == ["10:00", "10:30", "14:00", "14:30"]
    page = owner_client.get(f"/b/salon/services/{salon.service.id}").text
    assert f"day={WEDNESDAY.isoformat()}" not in page
    [event] = change_events(session, "providers")
    assert event["action"] == "hours"
    assert event["changes"] == {
        "Tuesday": ["09:00-17:00", "10:00-11:00, 14:00-15:00"],
        "Wednesday": ["09:00-17:00", "closed"],
    }
    session.rollback()
    assert count(session, WorkingHours, provider_id=salon.provider.id) == 7


BAD_TUESDAY_HOURS = [
    ([("17:00", "09:00")], "The end must be after the start."),
    ([("09:00", "09:00")], "The end must be after the start."),
    ([("09:00", "13:00"), ("12:00", "17:00")], "The two stretches overlap."),
    ([("9am", "17:00")], "Use HH:MM between 00:00 and 23:59, like 09:30."),
    ([("09:00", "24:00")], "Use HH:MM between 00:00 and 23:59, like 09:30."),
    ([("09:00", "")], "Enter both a start and an end, or leave both empty."),
]


def test_bad_weekly_hours_are_refused_with_a_message(owner_client, session, salon):
    url = f"/staff/providers/{salon.provider.id}/hours"
    for tuesday, message in BAD_TUESDAY_HOURS:
        response = submit(owner_client, url, hours_data(tuesday=tuesday))
        assert response.status_code == 422, tuesday
        assert message in response.text, tuesday
    assert client_slots(owner_client, salon, TUESDAY) == NINE_TO_FIVE
    assert change_events(session, "providers") == []


def test_a_day_off_removes_the_day_for_clients_until_it_is_taken_back(owner_client, session, salon):
    url = f"/staff/providers/{salon.provider.id}/days-off"
    response = submit(owner_client, url, {"day": TUESDAY.isoformat(), "note": "Training"})
    assert response.status_code == 303
    page = owner_client.get(url).text
    assert "Tuesday, 03 March 2026" in page
    assert "Training" in page
    assert client_slots(owner_client, salon, TUESDAY) == []
    assert client_slots(owner_client, salon, WEDNESDAY) == NINE_TO_FIVE
    session.rollback()
    day_off = session.scalars(select(DayOff)).one()
    response = press(owner_client, f"{url}/{day_off.id}/remove", url)
    assert response.status_code == 303
    assert client_slots(owner_client, salon, TUESDAY) == NINE_TO_FIVE
    added, removed = change_events(session, "providers")
    assert added["changes"] == {"day_off": [None, "2026-03-03 Training"]}
    assert removed["changes"] == {"day_off": ["2026-03-03 Training", None]}


def test_today_may_be_taken_off(owner_client, session, salon):
    url = f"/staff/providers/{salon.provider.id}/days-off"
    response = submit(owner_client, url, {"day": "2026-03-02", "note": ""})
    assert response.status_code == 303
    assert count(session, DayOff) == 1


BAD_DAYS_OFF = [
    ("2026-03-01", "That day has passed; choose today or a later day."),
    ("03/14/2026", "Enter a date like 2026-03-14."),
    ("2026-02-30", "Enter a date like 2026-03-14."),
    ("2026-W11-6", "Enter a date like 2026-03-14."),
    ("", "Please enter the day, like 2026-03-14."),
]


def test_bad_days_off_are_refused_with_a_message(owner_client, session, salon):
    url = f"/staff/providers/{salon.provider.id}/days-off"
    for day, message in BAD_DAYS_OFF:
        response = submit(owner_client, url, {"day": day, "note": "x"})
        assert response.status_code == 422, day
        assert message in response.text, day
    assert count(session, DayOff) == 0


def test_the_same_day_off_cannot_be_added_twice(owner_client, session, salon):
    url = f"/staff/providers/{salon.provider.id}/days-off"
    submit(owner_client, url, {"day": TUESDAY.isoformat(), "note": ""})
    response = submit(owner_client, url, {"day": TUESDAY.isoformat(), "note": ""})
    assert response.status_code == 422
    assert "Alex already has 03 March 2026 off." in response.text
    assert count(session, DayOff) == 1


def test_future_bookings_stop_a_provider_being_deleted(owner_client, session, salon, make_booking):
    make_booking(start=NEXT_WEEK)
    make_booking(start=NEXT_WEEK + timedelta(hours=2))
    url = f"/staff/providers/{salon.provider.id}"
    response = press(owner_client, f"{url}/delete", url)
    assert response.status_code == 409
    assert "2 upcoming bookings are with this provider; cancel or move them first." in (
        response.text
    )
    assert fresh(session, Provider, salon.provider.id).active
    assert change_events(session, "providers") == []


def test_a_provider_with_only_past_bookings_is_archived(owner_client, session, salon, make_booking):
    make_booking(start=LAST_WEEK)
    url = f"/staff/providers/{salon.provider.id}"
    response = press(owner_client, f"{url}/delete", url)
    assert response.status_code == 303
    assert "they are archived" in owner_client.get("/staff/providers").text
    provider = fresh(session, Provider, salon.provider.id)
    assert not provider.active
    page = owner_client.get(f"/b/salon/services/{salon.service.id}").text
    assert f"provider={provider.id}" not in page
    assert client_slots(owner_client, salon, TUESDAY) == []
    [event] = change_events(session, "providers")
    assert (event["action"], event["changes"]) == ("archived", {"active": [True, False]})


def test_a_provider_without_bookings_is_deleted_with_their_hours(owner_client, session, salon):
    submit(
        owner_client,
        f"/staff/providers/{salon.provider.id}/days-off",
        {"day": TUESDAY.isoformat(), "note": ""},
    )
    url = f"/staff/providers/{salon.provider.id}"
    response = press(owner_client, f"{url}/delete", url)
    assert response.status_code == 303
    assert "Alex is deleted." in owner_client.get("/staff/providers").text
    assert fresh(session, Provider, salon.provider.id) is None
    assert count(session, WorkingHours) == 0
    assert count(session, DayOff) == 0
    assert fresh(session, Service, salon.service.id).providers == []


def test_a_provider_of_another_business_is_not_found(owner_client, session, salon, rival):
    robin = rival.provider
    base = f"/staff/providers/{robin.id}"
    for url in (base, f"{base}/hours", f"{base}/days-off"):
        assert owner_client.get(url).status_code == 404, url
    token = csrf_token(owner_client.get("/staff/providers/new").text)
    for url in (base, f"{base}/hours", f"{base}/days-off", f"{base}/delete", f"{base}/restore"):
        response = owner_client.post(url, data={"csrf_token": token, "name": "Mine now"})
        assert response.status_code == 404, url
    assert fresh(session, Provider, robin.id).name == "Robin"


def test_a_day_off_of_another_provider_is_not_found(owner_client, session, salon, rival):
    robin = rival.provider
    robin.days_off.append(DayOff(day=TUESDAY))
    session.commit()
    day_off_id = robin.days_off[0].id
    url = f"/staff/providers/{salon.provider.id}/days-off"
    response = press(owner_client, f"{url}/{day_off_id}/remove", url)
    assert response.status_code == 404
    assert count(session, DayOff) == 1
