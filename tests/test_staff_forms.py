"""Forms owners can fill: defaults, number + unit, the time-zone select, the error summary,
the staff sidebar, and the security page's wording."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal.businesses.models import Business
from portal.catalog.forms import COMMON_TIMEZONES
from portal.catalog.models import Service
from portal.staff.navigation import GROUPS, current_entry, visible_groups
from portal.web.forms import split_minutes
from tests.conftest import csrf_token
from tests.factories import make_provider

BUSINESS_DATA = {
    "name": "Salon Test",
    "timezone": "Europe/Berlin",
    "locale": "en",
    "min_notice_minutes": "60",
    "max_days_ahead": "30",
    "slot_step_minutes": "30",
}
OPTION = re.compile(r'<option(?: selected)? value="([^"]*)"')


def submit(client, url: str, data: dict):
    token = csrf_token(client.get(url).text)
    return client.post(url, data={"csrf_token": token, **data})


def fresh(session, model, row_id):
    session.rollback()
    session.expire_all()
    return session.get(model, row_id)


def select_html(page: str, name: str) -> str:
    match = re.search(rf'<select[^>]*name="{name}".*?</select>', page, re.S)
    assert match, f"no select {name}"
    return match.group(0)


# -- defaults --------------------------------------------------------------------------


def test_a_new_service_starts_at_30_minutes_no_buffer_all_active_providers_ticked(
    session, salon, owner_client
):
    other = make_provider(session, salon.business, [], name="Bea")
    gone = make_provider(session, salon.business, [], name="Gone")
    gone.active = False
    session.commit()
    page = owner_client.get("/staff/services/new").text
    assert re.search(r'id="duration_minutes"[^>]*value="30"', page)
    assert re.search(r'id="buffer_minutes"[^>]*value="0"', page)
    assert 'option selected value="minutes"' in select_html(page, "duration_unit")
    ticked = set(
        re.findall(r'<input checked id="providers-\d+" name="providers"[^>]*value="(\d+)"', page)
    )
    assert ticked == {str(salon.provider.id), str(other.id)}
    assert not re.search(rf'name="providers"[^>]*value="{gone.id}"', page)


def test_a_new_provider_performs_every_active_service(salon, owner_client):
    page = owner_client.get("/staff/providers/new").text
    ticked = re.findall(r'<input checked id="services-\d+" name="services"[^>]*value="(\d+)"', page)
    assert ticked == [str(salon.service.id)]


def test_an_unticked_provider_stays_unticked_when_the_form_comes_back(salon, owner_client):
    response = submit(
        owner_client,
        "/staff/services/new",
        {"name": "", "duration_minutes": "30", "price_cents": "10", "buffer_minutes": "0"},
    )
    assert response.status_code == 422
    assert "<input checked" not in response.text


def test_an_existing_service_shows_its_length_in_the_unit_that_reads_best(
    session, salon, owner_client
):
    salon.service.duration_minutes, salon.service.buffer_minutes = 120, 15
    session.commit()
    page = owner_client.get(f"/staff/services/{salon.service.id}").text
    assert re.search(r'id="duration_minutes"[^>]*value="2"', page)
    assert 'option selected value="hours"' in select_html(page, "duration_unit")
    assert re.search(r'id="buffer_minutes"[^>]*value="15"', page)
    assert 'option selected value="minutes"' in select_html(page, "buffer_unit")


# -- number + unit ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "unit", "minutes"),
    [("90", "minutes", 90), ("3", "hours", 180), ("2", "days", 2880), ("0", "days", 0)],
)
def test_the_minimum_notice_is_saved_from_number_and_unit(
    session, salon, owner_client, number, unit, minutes
):
    data = dict(BUSINESS_DATA, min_notice_minutes=number, min_notice_unit=unit)
    response = submit(owner_client, "/staff/business", data)
    assert response.status_code == 303
    assert fresh(session, Business, salon.business.id).min_notice_minutes == minutes


def test_the_notice_form_shows_the_saved_notice_as_number_and_unit(session, salon, owner_client):
    salon.business.min_notice_minutes = 2880
    session.commit()
    page = owner_client.get("/staff/business").text
    assert re.search(r'id="min_notice_minutes"[^>]*value="2"', page)
    assert 'option selected value="days"' in select_html(page, "min_notice_unit")


@pytest.mark.parametrize(
    ("number", "unit", "message"),
    [
        ("31", "days", "between 0 and 43200 minutes"),
        ("721", "hours", "between 0 and 43200 minutes"),
        ("2", "weeks", "Choose one of the units offered."),
        ("soon", "hours", "Enter a whole number, like 30."),
    ],
)
def test_a_notice_out_of_range_or_in_an_unknown_unit_is_refused(
    session, salon, owner_client, number, unit, message
):
    data = dict(BUSINESS_DATA, min_notice_minutes=number, min_notice_unit=unit)
    response = submit(owner_client, "/staff/business", data)
    assert response.status_code == 422
    assert message in response.text
    assert fresh(session, Business, salon.business.id).min_notice_minutes != 31 * 1440


def test_a_service_length_in_hours_is_saved_in_minutes(session, salon, owner_client):
    data = {
        "name": "Long colour",
        "duration_minutes": "2",
        "duration_unit": "hours",
        "price_cents": "80",
        "buffer_minutes": "15",
        "buffer_unit": "minutes",
        "providers": [str(salon.provider.id)],
    }
    assert submit(owner_client, "/staff/services/new", data).status_code == 303
    session.rollback()
    row = session.scalar(select(Service).where(Service.name == "Long colour"))
    assert (row.duration_minutes, row.buffer_minutes) == (120, 15)


def test_a_service_longer_than_12_hours_is_refused(salon, owner_client):
    data = {"name": "All day", "duration_minutes": "13", "duration_unit": "hours"}
    response = submit(owner_client, "/staff/services/new", dict(data, price_cents="1"))
    assert response.status_code == 422
    assert "The duration must be between 5 and 720 minutes." in response.text


def test_split_minutes_picks_the_largest_whole_unit():
    units = ("minutes", "hours", "days")
    assert split_minutes(0, units) == (0, "minutes")
    assert split_minutes(90, units) == (90, "minutes")
    assert split_minutes(120, units) == (2, "hours")
    assert split_minutes(2880, units) == (2, "days")
    assert split_minutes(1440, ("minutes", "hours")) == (24, "hours")


# -- time zone -------------------------------------------------------------------------


def test_the_time_zone_select_lists_the_common_zones_first_then_every_zone(salon, owner_client):
    page = owner_client.get("/staff/business").text
    options = OPTION.findall(select_html(page, "timezone"))
    assert options[:4] == ["Europe/Berlin", "Europe/Vienna", "Europe/Zurich", "Europe/London"]
    assert options.index("America/New_York") < options.index("Africa/Abidjan")
    assert len(options) == len(set(options)) > 400  # every IANA zone, each once
    assert 'option selected value="Europe/Berlin"' in page
    assert '<optgroup label="Common time zones">' in page


def test_a_business_in_new_york_sees_american_zones_first(session, salon, owner_client):
    salon.business.timezone = "America/New_York"
    session.commit()
    options = OPTION.findall(select_html(owner_client.get("/staff/business").text, "timezone"))
    assert options[0] == "America/New_York"
    assert set(options[: len([z for z in COMMON_TIMEZONES if z.startswith("America/")])]) <= {
        z for z in COMMON_TIMEZONES if z.startswith("America/")
    }


def test_a_zone_from_the_select_is_saved(session, salon, owner_client):
    response = submit(owner_client, "/staff/business", dict(BUSINESS_DATA, timezone="Asia/Tokyo"))
    assert response.status_code == 303
    assert fresh(session, Business, salon.business.id).timezone == "Asia/Tokyo"


@pytest.mark.parametrize(
    ("zone", "message"),
    [
        ("Mars/Olympus", "Unknown timezone &#39;Mars/Olympus&#39;"),
        ("localtime", "use an IANA name like Europe/Berlin"),
        ("", "Please enter a timezone"),
    ],
)
def test_a_zone_not_in_the_list_is_refused(session, salon, owner_client, zone, message):
    response = submit(owner_client, "/staff/business", dict(BUSINESS_DATA, timezone=zone))
    assert response.status_code == 422
    assert message in response.text
    assert fresh(session, Business, salon.business.id).timezone == "Europe/Berlin"


# -- every invalid field marked and listed ---------------------------------------------


def test_the_error_summary_lists_and_links_every_invalid_field(salon, owner_client):
    data = dict(
        BUSINESS_DATA,
        name="",
        timezone="Mars/Olympus",
        min_notice_minutes="-5",
        max_days_ahead="0",
        slot_step_minutes="7",
    )
    response = submit(owner_client, "/staff/business", data)
    assert response.status_code == 422
    summary = re.search(r'<div class="alert error error-summary".*?</div>', response.text, re.S)
    assert summary, "no error summary"
    links = re.findall(r'<a href="#([a-z_]+)">', summary.group(0))
    assert links == [
        "name",
        "timezone",
        "min_notice_minutes",
        "max_days_ahead",
        "slot_step_minutes",
    ]
    for field in links:
        assert re.search(
            rf'<(input|select)[^>]*aria-invalid="true"[^>]*id="{field}"', response.text
        ) or re.search(
            rf'<(input|select)[^>]*id="{field}"[^>]*aria-invalid="true"', response.text
        ), field


def test_the_error_summary_names_the_hours_of_the_day_that_was_refused(salon, owner_client):
    url = f"/staff/providers/{salon.provider.id}/hours"
    response = submit(owner_client, url, {"monday-start_1": "10:00", "monday-end_1": "09:00"})
    assert response.status_code == 422
    assert '<a href="#monday-end_1">Monday: The end must be after the start.</a>' in response.text


def test_the_error_border_rule_comes_after_every_input_rule():
    """The red border of invalid number and password fields is not reset by a later rule."""
    from tests.browser.support import PROJECT_ROOT

    css = (PROJECT_ROOT / "static" / "portal.css").read_text()
    error_rule = css.index(".has-error input, .has-error select")
    for selector in ("input[type=password]", "input[type=number]", "input[type=url]"):
        assert css.rindex(selector, 0, error_rule) < error_rule
        assert selector not in css[error_rule:].split("/* == end staff layout == */")[1], selector


# -- navigation ------------------------------------------------------------------------


def test_every_sidebar_entry_is_a_route():
    from portal import create_app

    app = create_app({"TESTING": True})
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    for group in GROUPS:
        for entry in group.entries:
            assert entry.endpoint in endpoints, entry.endpoint


@pytest.mark.parametrize(
    ("endpoint", "wanted"),
    [
        ("staff.dashboard", "staff.dashboard"),
        ("schedule.show_booking", "schedule.calendar"),
        ("schedule.booking_rules", "schedule.booking_rules"),
        ("catalog.edit_hours", "catalog.list_providers"),
        ("catalog.add_service", "catalog.list_services"),
        ("catalog.business_settings", "catalog.business_settings"),
        ("policies_admin.edit_policy", "policies_admin.edit_terms"),
        ("clients.show_client", "clients.list_clients"),
        ("audit.export_csv", "staff.audit_log"),
        ("staff_auth.enrol_2fa", "staff_auth.enrol_2fa"),
        ("staff_auth.login", None),
    ],
)
def test_the_current_page_marks_its_entry(endpoint, wanted):
    entries = [entry for group in visible_groups(True) for entry in group.entries]
    found = current_entry(endpoint, entries)
    assert (found.endpoint if found else None) == wanted


def test_staff_members_see_no_owner_groups():
    keys = [group.key for group in visible_groups(False)]
    assert keys == ["calendar", "clients", "account"]
    calendar = visible_groups(False)[0]
    assert [e.endpoint for e in calendar.entries] == ["staff.dashboard", "schedule.calendar"]


def test_the_sidebar_marks_the_page_and_hides_owner_groups_from_staff(salon, staff_client):
    page = staff_client.get("/staff/clients").text
    assert re.search(r'<a href="/staff/clients" aria-current="page"', page)
    assert "/staff/business" not in page
    assert "/staff/hipaa/" not in page
    assert "Sign out" in page


def test_every_staff_page_has_the_same_header(salon, owner_client):
    for url in ("/staff/", "/staff/account/password", "/staff/account/2fa", "/staff/notifications"):
        page = owner_client.get(url).text
        assert '<span class="brand-full">Salon Test · Staff</span>' in page, url
        assert '<details class="staff-menu">' in page, url


# -- wording ---------------------------------------------------------------------------


def test_the_security_page_speaks_of_password_strength_not_a_library(salon, owner_client):
    page = owner_client.get("/staff/security").text
    assert "zxcvbn" not in page
    assert "password strength" in page.lower()
    assert "very weak" in page.lower() and "very strong" in page.lower()


def test_the_security_page_lists_its_invalid_fields(salon, owner_client):
    response = submit(
        owner_client,
        "/staff/security",
        {
            "password_min_length": "3",
            "password_min_strength": "2",
            "lockout_attempts": "1",
            "lockout_mode": "timed",
            "lockout_minutes": "15",
            "idle_timeout_minutes": "30",
        },
    )
    assert response.status_code == 422
    summary = re.search(r'<div class="alert error error-summary".*?</div>', response.text, re.S)
    assert summary, "no error summary"
    links = re.findall(r'<a href="#([a-z_]+)">', summary.group(0))
    assert links[:2] == ["password_min_length", "lockout_attempts"]


def test_the_booking_rules_page_lists_its_invalid_fields(salon, owner_client):
    response = submit(owner_client, "/staff/booking-rules", {"client_phone": "sometimes"})
    assert response.status_code == 422
    assert '<a href="#client_phone-0">' in response.text


def test_lock_and_idle_times_are_typed_with_a_unit_and_saved_in_minutes(
    salon, owner_client, session
):
    from portal.accounts.models import SecuritySettings

    fields = {
        "password_min_length": "12",
        "password_min_strength": "2",
        "lockout_attempts": "5",
        "lockout_mode": "timed",
        "lockout_minutes": "2",
        "lockout_unit": "hours",
        "idle_timeout_minutes": "1",
        "idle_timeout_unit": "hours",
    }
    assert submit(owner_client, "/staff/security", fields).status_code in (302, 303)
    session.rollback()
    settings = session.get(SecuritySettings, salon.business.id)
    assert (settings.lockout_minutes, settings.idle_timeout_minutes) == (120, 60)
    page = owner_client.get("/staff/security").text
    assert re.search(r'id="lockout_minutes"[^>]*value="2"', page)
    assert re.search(r'<option selected value="hours">|<option value="hours" selected', page)
    # A form that sends no unit means minutes, as before.
    del fields["lockout_unit"], fields["idle_timeout_unit"]
    fields["lockout_minutes"], fields["idle_timeout_minutes"] = "45", "20"
    assert submit(owner_client, "/staff/security", fields).status_code in (302, 303)
    session.rollback()
    settings = session.get(SecuritySettings, salon.business.id)
    assert (settings.lockout_minutes, settings.idle_timeout_minutes) == (45, 20)
