"""Bad input anywhere in the client flow gets a clear message and a 4xx, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from portal.booking.models import Booking
from portal.businesses.models import Business
from portal.extensions import db as portal_db
from tests.conftest import csrf_token, path_of
from tests.factories import CONSENTS, DETAILS, make_provider, make_service

#: Tuesday 3 March 2026, 10:00 in Berlin: a free slot the day after the frozen clock.
SLOT = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
SLOT_PARAM = "2026-03-03T09:00Z"
OTHER_SLOT_PARAM = "2026-03-03T10:00Z"

NO_BUSINESS = "There is no business at this address."
NO_SERVICE = "We could not find that service."
BAD_PROVIDER = "That provider choice is not valid."
FOREIGN_PROVIDER = "That provider does not offer this service."
BAD_DATE = "That date is not valid."
PAST_DAY = "That day has passed or is too soon to book."
TOO_FAR = "Bookings open 30 days ahead."
NO_TIME = "No time was chosen."
BAD_TIME = "That time is not valid."
UNBOOKABLE = "That time cannot be booked."
TAKEN = "This time was just taken"
INVALID_LINK = "This link is not valid or has expired."
FORM_EXPIRED = "Form expired"
NOT_ALLOWED = "That action is not possible on this page."


def details_url(service_id, start=SLOT_PARAM, provider="any", slug="salon") -> str:
    return f"/b/{slug}/services/{service_id}/book?provider={provider}&start={start}"


def form_token(client, salon, start=OTHER_SLOT_PARAM) -> str:
    """A valid CSRF token; it belongs to the client's session, not to one form."""
    page = client.get(details_url(salon.service.id, start))
    assert page.status_code == 200
    return csrf_token(page.text)


def post_details(client, salon, url=None, **fields):
    data = {"csrf_token": form_token(client, salon), **DETAILS, **CONSENTS, **fields}
    return client.post(url or details_url(salon.service.id), data=data)


def book(client, salon) -> str:
    """Book SLOT and return the manage page's path."""
    response = post_details(client, salon)
    assert response.status_code == 303
    return path_of(response)


def count_bookings(session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(Booking))


def assert_refused(response, status: int, message: str) -> None:
    assert response.status_code == status, response.text
    assert message in response.text


# Unknown or foreign things in the URL: 404.


@pytest.mark.parametrize(
    "slug",
    ["nobody", "SALON", "salon%0A", "sal%20on", "%00", "%FF", "sal_on", "a" * 70, "b" * 5000],
)
def test_unknown_business_slug_is_not_found(client, salon, slug):
    assert_refused(client.get(f"/b/{slug}/"), 404, NO_BUSINESS)
    assert_refused(client.get(f"/b/{slug}/services/{salon.service.id}"), 404, NO_BUSINESS)


def test_slug_with_a_slash_is_an_unknown_page(client, salon):
    assert_refused(client.get("/b/..%2F../"), 404, "We could not find that page.")


@pytest.mark.parametrize("service_id", ["999", "0"])
def test_unknown_service_is_not_found(client, salon, service_id):
    assert_refused(client.get(f"/b/salon/services/{service_id}"), 404, NO_SERVICE)
    assert_refused(client.get(details_url(service_id)), 404, NO_SERVICE)


@pytest.mark.parametrize("service_id", ["2147483648", "9223372036854775808", "9" * 30])
def test_an_id_no_database_holds_matches_no_page(client, salon, service_id):
    """The id converter stops it before any view or query: the business's own 404 page."""
    assert_refused(
        client.get(f"/b/salon/services/{service_id}"), 404, "We could not find that page."
    )
    assert_refused(client.get(details_url(service_id)), 404, "We could not find that page.")


def test_non_numeric_service_id_is_not_found(client, salon):
    assert_refused(client.get("/b/salon/services/abc"), 404, "We could not find that page.")


def test_service_of_another_business_is_not_found_under_this_slug(client, salon, rival):
    rival_service = rival.service
    assert_refused(client.get(f"/b/salon/services/{rival_service.id}"), 404, NO_SERVICE)
    assert_refused(client.get(details_url(rival_service.id)), 404, NO_SERVICE)


def test_inactive_service_is_not_found(client, salon, session):
    salon.service.active = False
    session.commit()
    assert_refused(client.get(f"/b/salon/services/{salon.service.id}"), 404, NO_SERVICE)


# The provider parameter.


@pytest.mark.parametrize("provider", ["abc", "-1", "1.5", "0x1", "²", "%C2%B2", "1" * 13])
def test_malformed_provider_is_a_bad_request(client, salon, provider):
    slot_page = client.get(f"/b/salon/services/{salon.service.id}?provider={provider}")
    assert_refused(slot_page, 400, BAD_PROVIDER)
    assert_refused(client.get(details_url(salon.service.id, provider=provider)), 400, BAD_PROVIDER)


def test_provider_of_another_business_is_not_found(client, salon, rival):
    rival_provider = rival.provider
    url = f"/b/salon/services/{salon.service.id}?provider={rival_provider.id}"
    assert_refused(client.get(url), 404, FOREIGN_PROVIDER)
    details = details_url(salon.service.id, provider=rival_provider.id)
    assert_refused(client.get(details), 404, FOREIGN_PROVIDER)


def test_provider_not_offering_the_service_is_not_found(client, salon, session):
    colour = make_service(session, salon.business, name="Colour")
    colourist = make_provider(session, salon.business, [colour], name="Kim")
    session.commit()
    url = f"/b/salon/services/{salon.service.id}?provider={colourist.id}"
    assert_refused(client.get(url), 404, FOREIGN_PROVIDER)
    details = details_url(salon.service.id, provider=colourist.id)
    assert_refused(client.get(details), 404, FOREIGN_PROVIDER)


def test_booking_post_with_a_foreign_provider_saves_nothing(client, salon, session, rival):
    rival_provider = rival.provider
    url = details_url(salon.service.id, provider=rival_provider.id)
    assert_refused(post_details(client, salon, url=url), 404, FOREIGN_PROVIDER)
    assert count_bookings(session) == 0


# The day parameter of the slot page.


@pytest.mark.parametrize("day", ["tomorrow", "2026-02-30", "2026-13-01", "03/03/2026", "x" * 500])
def test_malformed_day_is_a_bad_request(client, salon, day):
    response = client.get(f"/b/salon/services/{salon.service.id}?day={day}")
    assert_refused(response, 400, BAD_DATE)


@pytest.mark.parametrize("day", ["2026-03-01", "2025-03-03", "0001-01-01"])
def test_past_day_is_a_bad_request(client, salon, day):
    response = client.get(f"/b/salon/services/{salon.service.id}?day={day}")
    assert_refused(response, 400, PAST_DAY)


@pytest.mark.parametrize("day", ["2026-04-02", "2027-03-03", "9999-12-31"])
def test_day_beyond_the_booking_horizon_is_a_bad_request(client, salon, day):
    response = client.get(f"/b/salon/services/{salon.service.id}?day={day}")
    assert_refused(response, 400, TOO_FAR)


def test_last_day_of_the_horizon_can_be_shown(client, salon):
    response = client.get(f"/b/salon/services/{salon.service.id}?day=2026-04-01")
    assert response.status_code == 200
    assert "Free times on Wednesday, 01 April 2026" in response.text


# The start parameter of the details page, on GET and POST.


@pytest.mark.parametrize(
    ("start", "message"),
    [
        ("", NO_TIME),
        ("2026-03-03T09:00Z" + "0" * 40, NO_TIME),
        ("2026-03-03T09:00", BAD_TIME),
        ("2026-03-03", BAD_TIME),
        ("garbage", BAD_TIME),
        ("2026-03-03T25:00Z", BAD_TIME),
        ("2026-03-03T09:00%2B25:00", BAD_TIME),
        ("0001-01-01T00:00%2B01:00", BAD_TIME),
        ("9999-12-31T23:59Z", BAD_TIME),
        ("9999-12-31T23:59-01:00", BAD_TIME),
    ],
)
def test_malformed_start_is_a_bad_request(client, salon, session, start, message):
    url = details_url(salon.service.id, start=start)
    assert_refused(client.get(url), 400, message)
    assert_refused(post_details(client, salon, url=url), 400, message)
    assert count_bookings(session) == 0


def test_missing_start_is_a_bad_request(client, salon):
    response = client.get(f"/b/salon/services/{salon.service.id}/book")
    assert_refused(response, 400, NO_TIME)


@pytest.mark.parametrize(
    "start",
    [
        "2026-03-03T09:10Z",  # not on the 30-minute grid
        "2026-03-03T09:00:30Z",  # not on a whole minute
        "2026-03-03T07:00Z",  # 08:00 in Berlin, before opening
        "2026-03-03T15:45Z",  # 16:45 in Berlin: would end after closing
        "2026-03-03T20:00Z",  # 21:00 in Berlin, after closing
        "2026-03-02T06:30Z",  # inside the one-hour notice
        "2026-03-01T09:00Z",  # in the past
        "2026-04-03T09:00Z",  # beyond the 30-day horizon
    ],
)
def test_start_the_business_does_not_offer_is_a_bad_request(client, salon, session, start):
    url = details_url(salon.service.id, start=start)
    assert_refused(client.get(url), 400, UNBOOKABLE)
    assert_refused(post_details(client, salon, url=url), 400, UNBOOKABLE)
    assert count_bookings(session) == 0


def test_start_on_a_day_off_is_a_bad_request(client, salon, session):
    provider = make_provider(
        session,
        salon.business,
        [salon.service],
        name="Sam",
        days_off=[SLOT.date()],
        hours={1: [(time(9), time(17))]},
    )
    session.commit()
    url = details_url(salon.service.id, provider=provider.id)
    assert_refused(client.get(url), 400, UNBOOKABLE)


def test_start_already_booked_is_a_conflict_on_get_and_post(client, salon, session):
    book(client, salon)
    other = client.application.test_client()
    page = other.get(details_url(salon.service.id))
    assert_refused(page, 409, TAKEN)
    assert "Nothing was booked for you." in page.text
    assert "Choose another time" in page.text
    response = post_details(other, salon, email="noah@example.com", name="Noah")
    assert_refused(response, 409, TAKEN)
    assert count_bookings(session) == 1


def test_start_booked_with_the_chosen_provider_is_a_conflict(client, salon, session):
    book(client, salon)
    url = details_url(salon.service.id, provider=salon.provider.id)
    assert_refused(client.get(url), 409, TAKEN)
    assert_refused(post_details(client, salon, url=url, email="noah@example.com"), 409, TAKEN)
    assert count_bookings(session) == 1


# Invalid details in the form: 422, the message, the input kept, nothing saved.


@pytest.mark.parametrize(
    ("fields", "message", "kept"),
    [
        ({"name": ""}, "Please enter your name.", 'value="mia@example.com"'),
        ({"name": "   "}, "Please enter your name.", 'value="+49 30 1234567"'),
        ({"name": "x" * 201}, "The name may have at most 200 characters.", 'value="xxxx'),
        ({"email": ""}, "Please enter your e-mail address.", 'value="Mia Example"'),
        (
            {"email": "mia-at-example"},
            "Please enter a valid e-mail address, like name@example.com.",
            'value="mia-at-example"',
        ),
        (
            {"email": "mia@exa mple.com"},
            "Please enter a valid e-mail address, like name@example.com.",
            'value="mia@exa mple.com"',
        ),
        ({"phone": ""}, "Please enter a phone number so we can reach you.", 'value="Mia Example"'),
        (
            {"phone": "call me"},
            "Please enter a phone number of 6 to 15 digits, like +49 30 1234567.",
            'value="call me"',
        ),
        (
            {"phone": "12345"},
            "Please enter a phone number of 6 to 15 digits, like +49 30 1234567.",
            'value="12345"',
        ),
        (
            {"phone": "+49 30 1234567 1234567"},
            "Please enter a phone number of 6 to 15 digits, like +49 30 1234567.",
            'value="+49 30 1234567 1234567"',
        ),
    ],
)
def test_invalid_details_are_refused_with_a_message_and_kept(
    client, salon, session, fields, message, kept
):
    response = post_details(client, salon, **fields)
    assert_refused(response, 422, message)
    assert "Your booking is not complete yet." in response.text
    assert kept in response.text
    assert count_bookings(session) == 0


def test_markup_in_the_details_is_kept_escaped(client, salon, session):
    response = post_details(client, salon, name='<script>alert("x")</script>', phone="nope")
    assert response.status_code == 422
    assert "<script>alert" not in response.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in response.text
    assert count_bookings(session) == 0


def test_oversized_form_is_refused(client, salon, session):
    response = post_details(client, salon, name="x" * 70_000)
    assert_refused(response, 413, "What you sent is too large.")
    assert count_bookings(session) == 0


# CSRF: a POST without our token changes nothing.


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_booking_post_without_a_valid_csrf_token_saves_nothing(client, salon, session, token):
    data = (
        {**DETAILS, **CONSENTS} if token is None else {**DETAILS, **CONSENTS, "csrf_token": token}
    )
    response = client.post(details_url(salon.service.id), data=data)
    assert_refused(response, 400, FORM_EXPIRED)
    assert "Please reload it and try again." in response.text
    assert count_bookings(session) == 0


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_cancel_post_without_a_valid_csrf_token_cancels_nothing(client, salon, session, token):
    manage_path = book(client, salon)
    data = {} if token is None else {"csrf_token": token}
    response = client.post(f"{manage_path}/cancel", data=data)
    assert_refused(response, 400, FORM_EXPIRED)
    session.rollback()
    assert session.scalars(select(Booking)).one().status == "confirmed"


# Manage links.


@pytest.mark.parametrize("token", ["nope", "x" * 43, "x" * 500, "%ED%A0%80", "%00"])
def test_wrong_manage_token_is_not_found(client, salon, token):
    book(client, salon)
    assert_refused(client.get(f"/b/salon/manage/{token}"), 404, INVALID_LINK)


def test_cancel_with_a_wrong_manage_token_is_not_found(client, salon, session):
    book(client, salon)
    response = client.post(
        "/b/salon/manage/nope/cancel", data={"csrf_token": form_token(client, salon)}
    )
    assert_refused(response, 404, INVALID_LINK)
    session.rollback()
    assert session.scalars(select(Booking)).one().status == "confirmed"


def test_manage_link_stops_working_once_the_appointment_has_ended(client, salon, clock):
    manage_path = book(client, salon)
    clock.move_to(SLOT + timedelta(minutes=29))
    assert client.get(manage_path).status_code == 200
    token = form_token(client, salon, start="2026-03-05T09:00Z")
    clock.move_to(SLOT + timedelta(minutes=30))
    assert_refused(client.get(manage_path), 404, INVALID_LINK)
    response = client.post(f"{manage_path}/cancel", data={"csrf_token": token})
    assert_refused(response, 404, INVALID_LINK)


def test_manage_token_of_one_business_is_not_found_under_another(client, salon, session, rival):
    manage_path = book(client, salon)
    token = manage_path.rsplit("/", 1)[1]
    assert_refused(client.get(f"/b/rival/manage/{token}"), 404, INVALID_LINK)
    response = client.post(
        f"/b/rival/manage/{token}/cancel", data={"csrf_token": form_token(client, salon)}
    )
    assert_refused(response, 404, INVALID_LINK)
    session.rollback()
    assert session.scalars(select(Booking)).one().status == "confirmed"


# Methods a page does not take.


@pytest.mark.parametrize("path", ["/b/salon/", "/b/salon/terms", "/b/salon/services/{id}"])
def test_post_to_a_page_that_only_shows_is_not_allowed(client, salon, path):
    response = client.post(path.format(id=salon.service.id))
    assert_refused(response, 405, NOT_ALLOWED)
    assert "GET" in response.headers["Allow"]


def test_get_on_a_post_only_manage_address_is_not_allowed(client, salon, session):
    manage_path = book(client, salon)
    response = client.get(f"{manage_path}/reminders")
    assert_refused(response, 405, NOT_ALLOWED)
    assert "POST" in response.headers["Allow"]


def test_get_on_the_cancel_address_only_asks_and_cancels_nothing(client, salon, session):
    """Cancelling takes a confirmation (issue 14): the GET shows it, only the POST cancels."""
    manage_path = book(client, salon)
    response = client.get(f"{manage_path}/cancel")
    assert response.status_code == 200
    assert "Cancel your booking?" in response.text
    session.rollback()
    assert session.scalars(select(Booking)).one().status == "confirmed"


# Too many bookings from one address.


class TestBookingRateLimit:
    @pytest.fixture
    def app_env(self, app_env, monkeypatch):
        monkeypatch.setenv("PORTAL_BOOKING_RATE_LIMIT", "2 per minute")
        return {**app_env, "PORTAL_BOOKING_RATE_LIMIT": "2 per minute"}

    def test_third_booking_post_in_a_minute_gets_a_friendly_429(self, client, salon, session):
        token = form_token(client, salon)
        url = details_url(salon.service.id)
        first = client.post(url, data={"csrf_token": token, **DETAILS, **CONSENTS})
        assert first.status_code == 303
        second = client.post(
            url, data={"csrf_token": token, **DETAILS, **CONSENTS, "email": "x@example.com"}
        )
        assert_refused(second, 409, TAKEN)
        third = client.post(
            details_url(salon.service.id, start=OTHER_SLOT_PARAM),
            data={"csrf_token": token, **DETAILS, **CONSENTS, "email": "y@example.com"},
        )
        assert_refused(third, 429, "Too many requests")
        assert "Please wait a moment and retry." in third.text
        assert 0 < int(third.headers["Retry-After"]) <= 61
        assert third.content_type == "text/html; charset=utf-8"
        assert count_bookings(session) == 1

    def test_pages_that_only_show_are_not_limited(self, client, salon):
        for _ in range(5):
            assert client.get(details_url(salon.service.id)).status_code == 200


# An unexpected error.


def test_unexpected_error_shows_a_friendly_page_and_saves_nothing(app, client, session):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/test-only/explode")
    def explode():
        portal_db.session.add(Business(slug="ghost", name="Ghost", timezone="UTC"))
        portal_db.session.flush()
        raise RuntimeError("internal detail that must not leak")

    response = client.get("/test-only/explode")
    assert_refused(response, 500, "Something went wrong")
    assert "Nothing was saved." in response.text
    assert "internal detail" not in response.text
    assert "Traceback" not in response.text
    session.rollback()
    assert session.scalars(select(Business).where(Business.slug == "ghost")).first() is None
    # The next request is served normally.
    assert client.get("/healthz").status_code == 200
