"""Optional client accounts at /b/<slug>/account, through the Flask test client.

Sign-up with a confirmed address, sign-in with lockout, my bookings with
cancel, sign-out that really ends the session, password reset, and how the
booking flow uses a signed-in account.
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.accounts.models import ClientAccount, SecuritySettings
from portal.booking.models import Booking
from portal.clients.models import Client
from tests.conftest import NOW, csrf_token, outbox
from tests.factories import make_business, make_provider, make_service

EMAIL = "mia@example.com"
PASSWORD = "copper kettle meadow 71"
NEW_PASSWORD = "violet harbor tundra 58"
PROFILE = {"name": "Mia Example", "phone": "+49 30 1234567"}

#: Tuesday 3 March 2026, 10:00 and 11:00 in Berlin: bookable and cancellable from NOW.
SLOT = "2026-03-03T09:00Z"
OTHER_SLOT = "2026-03-03T10:00Z"
#: Monday 2 March 2026, 13:00 in Berlin: bookable from NOW, but inside the 24-hour policy.
SOON_SLOT = "2026-03-02T12:00Z"

SIGN_IN_FAILED = "Sign-in failed: the e-mail address or password is wrong"
ACCOUNTS_OFF = "Salon Test does not offer client accounts. You can book without one."


# --- arranging -------------------------------------------------------------


def enable_accounts(session, business) -> None:
    settings = session.get(SecuritySettings, business.id)
    if settings is None:
        settings = SecuritySettings.defaults(business.id)
        session.add(settings)
    settings.client_accounts_enabled = True
    session.commit()


@pytest.fixture
def accounts_on(session, salon):
    enable_accounts(session, salon.business)
    return salon


@pytest.fixture
def other_business(session, salon):
    """A second business with accounts on, a service and a provider of its own."""
    business = make_business(session, slug="other", name="Other Place")
    service = make_service(session, business, name="Massage")
    make_provider(session, business, [service], name="Sam")
    session.commit()
    enable_accounts(session, business)
    return business, service


@pytest.fixture
def client_account(app, client, accounts_on):
    """Mia's account at the salon, signed up and confirmed (not signed in); the salon."""
    assert sign_up(client).status_code == 200
    assert client.get(link_in(last_mail(app))).status_code == 302
    return accounts_on


@pytest.fixture
def signed_in_client(client, client_account):
    """``client`` signed in as Mia at the salon; the salon."""
    response = sign_in(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/b/salon/account/"
    return client_account


@pytest.fixture
def strict_signin_limit(app_env, monkeypatch):
    """Three sign-in/sign-up POSTs per address and minute (set before the app is built)."""
    monkeypatch.setenv("PORTAL_SIGNIN_RATE_LIMIT", "3 per minute")
    return "3 per minute"


# --- acting ----------------------------------------------------------------


def sign_up(client, email_address=EMAIL, password=PASSWORD, confirm=None, **fields):
    page = client.get("/b/salon/account/signup")
    assert page.status_code == 200
    data = {
        "csrf_token": csrf_token(page.text),
        **PROFILE,
        "email": email_address,
        "password": password,
        "confirm": password if confirm is None else confirm,
        **fields,
    }
    return client.post("/b/salon/account/signup", data=data)


def sign_in(client, email_address=EMAIL, password=PASSWORD, slug="salon"):
    page = client.get(f"/b/{slug}/account/login")
    assert page.status_code == 200
    return client.post(
        f"/b/{slug}/account/login",
        data={"csrf_token": csrf_token(page.text), "email": email_address, "password": password},
    )


def booking_url(service_id: int, start: str = SLOT, slug: str = "salon") -> str:
    return f"/b/{slug}/services/{service_id}/book?provider=any&start={start}"


def book(client, service_id, start=SLOT, slug="salon", **fields):
    """Fill in and send the details form; the salon asks for both consents."""
    page = client.get(booking_url(service_id, start, slug))
    assert page.status_code == 200
    data = {
        "csrf_token": csrf_token(page.text),
        **PROFILE,
        "email": EMAIL,
        "accept_terms": "y",
        "accept_policy": "y",
        **fields,
    }
    return client.post(booking_url(service_id, start, slug), data=data)


def my_bookings_token(client) -> str:
    page = client.get("/b/salon/account/")
    assert page.status_code == 200
    return csrf_token(page.text)


def cancel(client, booking_id: int, token: str):
    return client.post(f"/b/salon/account/bookings/{booking_id}/cancel", data={"csrf_token": token})


def sign_out(client):
    return client.post("/b/salon/account/logout", data={"csrf_token": my_bookings_token(client)})


# --- reading ---------------------------------------------------------------


def mails(app) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in outbox(app)
    ]


def last_mail(app) -> email.message.EmailMessage:
    return mails(app)[-1]


def body_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def link_in(message) -> str:
    """The portal path of the (single) link an account e-mail carries."""
    [path] = re.findall(r"http://portal\.test(/b/\S+)", body_of(message))
    return path


def subjects(app) -> list[str]:
    return [m["Subject"] for m in mails(app)]


def account_of(session, email_address=EMAIL, business_id=None) -> ClientAccount:
    session.rollback()
    query = select(ClientAccount).where(ClientAccount.email == email_address)
    if business_id is not None:
        query = query.where(ClientAccount.business_id == business_id)
    return session.scalars(query).one()


def bookings(session) -> list[Booking]:
    session.rollback()
    return list(session.scalars(select(Booking).order_by(Booking.id)))


def failure_page(response, email_address: str) -> str:
    """The sign-in page without what legitimately differs: the address typed, the token."""
    text = response.text.replace(email_address, "ADDRESS")
    return re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "CSRF", text)


# --- accounts off ----------------------------------------------------------


def test_accounts_off_every_account_url_is_not_found_with_a_clear_message(client, salon):
    token = csrf_token(client.get(booking_url(salon.service.id)).text)
    gets = ["/signup", "/login", "/", "/reset", "/verify/abc", "/reset/abc"]
    posts = ["/signup", "/login", "/logout", "/bookings/1/cancel", "/reset", "/reset/abc"]
    responses = [client.get(f"/b/salon/account{path}") for path in gets] + [
        client.post(
            f"/b/salon/account{path}",
            data={"csrf_token": token, "email": EMAIL, "password": PASSWORD},
        )
        for path in posts
    ]
    for response in responses:
        assert response.status_code == 404, response.request.path
        assert ACCOUNTS_OFF in response.text
        assert "/account/" not in response.text
    assert client.get("/b/salon/account", follow_redirects=True).status_code == 404


def test_accounts_off_no_account_links_on_the_booking_pages(client, salon):
    for path in ("/b/salon/", booking_url(salon.service.id)):
        page = client.get(path)
        assert page.status_code == 200
        assert "/account/" not in page.text
        assert "Sign in" not in page.text
        assert "Create an account" not in page.text


# --- sign-up and confirmation ---------------------------------------------


def test_services_page_offers_sign_in_and_sign_up_when_accounts_are_on(client, accounts_on):
    page = client.get("/b/salon/").text
    assert 'href="/b/salon/account/login"' in page
    assert 'href="/b/salon/account/signup"' in page
    assert "My bookings" not in page


@pytest.mark.parametrize(
    ("email_address", "password", "message"),
    [
        (EMAIL, "short pw 1", "Use at least 12 characters."),
        (EMAIL, "mia loves harbor lights 9", "Do not use your e-mail name in your password."),
        (EMAIL, "SalonTest harbor lights 9", "Do not use the business name in your password."),
        (EMAIL, "salon test harbor lights", "Do not use the business name in your password."),
    ],
)
def test_sign_up_applies_the_password_rules_and_keeps_the_input(
    app, client, session, accounts_on, email_address, password, message
):
    response = sign_up(client, email_address, password)
    assert response.status_code == 422
    assert message in response.text
    assert 'value="Mia Example"' in response.text
    assert f'value="{email_address}"' in response.text
    assert 'value="+49 30 1234567"' in response.text
    assert password not in response.text
    session.rollback()
    assert session.scalar(select(func.count()).select_from(ClientAccount)) == 0
    assert outbox(app) == []


def test_sign_up_with_passwords_that_differ_is_refused(client, accounts_on):
    response = sign_up(client, confirm=NEW_PASSWORD)
    assert response.status_code == 422
    assert "The two passwords are not the same." in response.text
    assert PASSWORD not in response.text


def test_sign_up_sends_a_confirmation_link_and_sign_in_waits_for_it(app, client, accounts_on):
    response = sign_up(client)
    assert response.status_code == 200
    assert "Check your e-mail" in response.text
    [message] = mails(app)
    assert message["To"] == f"Mia Example <{EMAIL}>"
    assert message["Subject"] == "Confirm your account at Salon Test"
    link = link_in(message)
    assert link.startswith("/b/salon/account/verify/")

    refused = sign_in(client)
    assert refused.status_code == 422
    assert "Please confirm your e-mail address first" in refused.text
    assert client.get("/b/salon/account/").headers["Location"] == "/b/salon/account/login"

    confirmed = client.get(link)
    assert confirmed.status_code == 302
    assert confirmed.headers["Location"] == "/b/salon/account/login"
    assert confirmed.headers["Referrer-Policy"] == "no-referrer"
    assert "Your e-mail address is confirmed" in client.get("/b/salon/account/login").text

    response = sign_in(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/b/salon/account/"
    page = client.get("/b/salon/account/")
    assert page.status_code == 200
    assert f"Signed in as {EMAIL}" in page.text


def test_the_confirmation_link_works_once(app, client, accounts_on):
    sign_up(client)
    link = link_in(last_mail(app))
    assert client.get(link).status_code == 302
    again = client.get(link)
    assert again.status_code == 404
    assert "This confirmation link is not valid any more" in again.text


def test_a_new_sign_up_before_confirming_replaces_the_first_link(app, client, session, accounts_on):
    sign_up(client)
    first = link_in(last_mail(app))
    sign_up(client, password=NEW_PASSWORD)
    second = link_in(last_mail(app))
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 302
    assert sign_in(client, password=PASSWORD).status_code == 422
    assert sign_in(client, password=NEW_PASSWORD).status_code == 302


def test_sign_up_with_a_confirmed_address_looks_new_and_tells_its_owner(
    app, client, session, accounts_on
):
    first = sign_up(client)
    client.get(link_in(last_mail(app)))
    before = len(outbox(app))

    again = sign_up(client, password=NEW_PASSWORD, name="Someone Else")
    assert again.status_code == first.status_code == 200
    assert again.text == first.text
    assert len(outbox(app)) == before + 1
    message = last_mail(app)
    assert message["To"] == f"Mia Example <{EMAIL}>"
    assert message["Subject"] == "Your account at Salon Test"
    assert "already has one" in body_of(message)
    assert "/verify/" not in body_of(message)
    # Nothing about the account changed.
    account = account_of(session)
    assert account.name == "Mia Example"
    assert sign_in(client, password=NEW_PASSWORD).status_code == 422
    assert sign_in(client, password=PASSWORD).status_code == 302


# --- sign-in failures and lockout -----------------------------------------


def test_wrong_password_unknown_address_and_locked_account_look_the_same(
    app, client, session, client_account
):
    wrong = sign_in(client, password="not the password at all")
    unknown = sign_in(client, "nobody@example.com", PASSWORD)
    for _ in range(4):
        sign_in(client, password="not the password at all")
    assert account_of(session).is_locked(NOW)
    locked = sign_in(client, password=PASSWORD)

    assert wrong.status_code == unknown.status_code == locked.status_code == 422
    assert SIGN_IN_FAILED in wrong.text
    assert (
        failure_page(wrong, EMAIL)
        == failure_page(unknown, "nobody@example.com")
        == failure_page(locked, EMAIL)
    )


def test_five_failures_lock_the_account_and_its_owner_is_told(
    app, client, session, client_account, clock
):
    sent = len(outbox(app))
    for attempt in range(1, 5):
        assert sign_in(client, password=f"wrong guess {attempt}").status_code == 422
        assert not account_of(session).is_locked(NOW)
    assert len(outbox(app)) == sent
    sign_in(client, password="wrong guess 5")
    account = account_of(session)
    assert account.is_locked(NOW)
    assert account.locked_until == NOW + timedelta(minutes=15)
    message = last_mail(app)
    assert message["To"] == f"Mia Example <{EMAIL}>"
    assert message["Subject"] == "Your account at Salon Test was locked"
    assert "/b/salon/account/reset" in body_of(message)

    assert sign_in(client).status_code == 422
    assert len(outbox(app)) == sent + 1  # one e-mail per lock, not per attempt
    clock.move_to(NOW + timedelta(minutes=16))
    assert sign_in(client).status_code == 302


# --- my bookings -----------------------------------------------------------


def test_my_bookings_lists_only_the_accounts_bookings(
    app, client, session, accounts_on, other_business
):
    salon = accounts_on
    other, massage = other_business
    # Made as a guest before the account existed: it is Mia's, her address is confirmed.
    assert book(client, salon.service.id).status_code == 303
    # Someone else at the same business, and Mia as a guest at another business.
    assert book(client, salon.service.id, OTHER_SLOT, email="olga@example.com").status_code == 303
    assert book(client, massage.id, slug="other").status_code == 303
    sign_up(client)
    client.get(link_in(last_mail(app)))
    sign_in(client)

    page = client.get("/b/salon/account/").text
    assert "Haircut" in page
    assert "Tuesday, 03 March 2026, 10:00" in page
    assert "Tuesday, 03 March 2026, 11:00" not in page
    assert "Massage" not in page
    assert page.count('class="card"') == 1


def test_cancel_inside_the_window(app, client, session, signed_in_client):
    salon = signed_in_client
    assert book(client, salon.service.id).status_code == 303
    [booking] = bookings(session)
    sent = len(outbox(app))

    response = cancel(client, booking.id, my_bookings_token(client))
    assert response.status_code == 302
    assert response.headers["Location"] == "/b/salon/account/"
    page = client.get("/b/salon/account/").text
    assert "Your booking is cancelled." in page
    assert "Cancelled" in page
    [booking] = bookings(session)
    assert booking.status == "cancelled"
    assert booking.cancelled_by == "client"
    assert booking.cancelled_at == NOW
    assert len(outbox(app)) == sent + 1
    message = last_mail(app)
    assert message["To"] == f"Mia Example <{EMAIL}>"
    assert message["Subject"].startswith("Booking cancelled: Haircut")
    calendar = message.get_payload()[1].get_payload(decode=True).decode()
    assert "METHOD:CANCEL" in calendar
    assert "http://portal.test/b/salon/account/" in calendar

    again = cancel(client, booking.id, my_bookings_token(client))
    assert again.status_code == 302
    assert "That booking was already cancelled." in client.get("/b/salon/account/").text
    assert len(outbox(app)) == sent + 1


def test_cancelling_from_my_bookings_asks_first_and_keeps_the_reason(
    app, client, session, signed_in_client
):
    salon = signed_in_client
    assert book(client, salon.service.id).status_code == 303
    [booking] = bookings(session)
    page = client.get("/b/salon/account/").text
    step_url = f"/b/salon/account/bookings/{booking.id}/cancel"
    assert f'href="{step_url}"' in page

    step = client.get(step_url)
    assert step.status_code == 200
    assert "Cancel your booking?" in step.text
    assert 'name="reason"' in step.text
    assert 'href="/b/salon/account/"' in step.text  # "No, keep my booking"
    assert "/manage/" in step.text and "/reschedule" in step.text  # "Reschedule instead"
    [booking] = bookings(session)
    assert booking.status == "confirmed"  # asking cancels nothing

    too_long = client.post(
        step_url, data={"csrf_token": csrf_token(step.text), "reason": "x" * 501}
    )
    assert too_long.status_code == 422
    assert "500 characters or fewer" in too_long.text
    session.rollback()
    [booking] = bookings(session)
    assert booking.status == "confirmed"

    done = client.post(
        step_url, data={"csrf_token": csrf_token(step.text), "reason": "  Moving away  "}
    )
    assert done.status_code == 302
    session.rollback()
    [booking] = bookings(session)
    assert booking.status == "cancelled"
    assert booking.cancel_reason == "Moving away"


def test_the_cancel_step_of_another_accounts_booking_is_not_found(
    client, session, signed_in_client, make_booking
):
    other = make_booking()
    assert client.get(f"/b/salon/account/bookings/{other.id}/cancel").status_code == 404
    assert client.get("/b/salon/account/bookings/99999999999/cancel").status_code == 404


def test_late_cancel_is_refused_with_the_warning_and_changes_nothing(
    app, client, session, signed_in_client
):
    salon = signed_in_client
    # Booked past its deadline: the form showed the warning (its hidden field says so).
    booked = book(client, salon.service.id, SOON_SLOT, deadline_notice="shown")
    assert booked.status_code == 303
    [booking] = bookings(session)
    page = client.get("/b/salon/account/").text
    assert "It can no longer be cancelled online." in page
    assert f"/bookings/{booking.id}/cancel" not in page
    sent = len(outbox(app))

    response = cancel(client, booking.id, csrf_token(page))
    assert response.status_code == 409
    assert "This booking can no longer be cancelled online" in response.text
    # The deadline: 24 hours before 13:00 on Monday.
    assert "Sunday, 01 March 2026, 13:00" in response.text
    [booking] = bookings(session)
    assert booking.status == "confirmed"
    assert booking.cancelled_at is None
    assert len(outbox(app)) == sent


def test_another_clients_or_businesss_booking_cannot_be_cancelled(
    app, client, session, accounts_on, other_business
):
    salon = accounts_on
    other, massage = other_business
    book(client, salon.service.id, OTHER_SLOT, email="olga@example.com")
    book(client, massage.id, slug="other")
    sign_up(client)
    client.get(link_in(last_mail(app)))
    sign_in(client)
    token = my_bookings_token(client)
    sent = len(outbox(app))

    for booking in bookings(session):
        response = cancel(client, booking.id, token)
        assert response.status_code == 404
        assert "There is no such booking in your account." in response.text
    assert cancel(client, 9999, token).status_code == 404
    assert [b.status for b in bookings(session)] == ["confirmed", "confirmed"]
    assert len(outbox(app)) == sent


def test_cancel_needs_a_signed_in_account(client, session, client_account):
    salon = client_account
    book(client, salon.service.id)
    [booking] = bookings(session)
    token = csrf_token(client.get("/b/salon/account/login").text)
    response = cancel(client, booking.id, token)
    assert response.status_code == 302
    assert response.headers["Location"] == "/b/salon/account/login"
    assert bookings(session)[0].status == "confirmed"


# --- sessions --------------------------------------------------------------


def test_sign_out_ends_the_session_and_a_replayed_cookie_is_not_signed_in(client, signed_in_client):
    copy = client.get_cookie("portal_session").value
    response = sign_out(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/b/salon/"
    assert client.get("/b/salon/account/").headers["Location"] == "/b/salon/account/login"

    client.set_cookie("portal_session", copy)
    replayed = client.get("/b/salon/account/")
    assert replayed.status_code == 302
    assert replayed.headers["Location"] == "/b/salon/account/login"
    assert "My bookings" not in client.get("/b/salon/").text


def test_signed_in_client_sees_my_bookings_and_sign_out_on_the_services_page(
    client, signed_in_client
):
    page = client.get("/b/salon/").text
    assert f"Signed in as {EMAIL}" in page
    assert 'href="/b/salon/account/"' in page
    assert 'action="/b/salon/account/logout"' in page
    assert 'href="/b/salon/account/login"' not in page


def test_an_account_of_one_business_does_not_open_anothers_account_pages(
    client, signed_in_client, other_business
):
    other, massage = other_business
    response = client.get("/b/other/account/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/b/other/account/login"
    login = client.get("/b/other/account/login")
    assert login.status_code == 200
    assert "Sign in to your account" in login.text
    # At the other business Mia is a guest: nothing is filled in or fixed for her.
    page = client.get("/b/other/").text
    assert "My bookings" not in page
    details = client.get(booking_url(massage.id, slug="other")).text
    assert EMAIL not in details
    assert "readonly" not in details


def test_the_account_session_ends_when_the_owner_switches_accounts_off(
    client, session, signed_in_client
):
    settings = session.get(SecuritySettings, signed_in_client.business.id)
    settings.client_accounts_enabled = False
    session.commit()
    assert client.get("/b/salon/account/").status_code == 404
    page = client.get("/b/salon/").text
    assert "My bookings" not in page
    assert EMAIL not in client.get(booking_url(signed_in_client.service.id)).text


# --- password reset --------------------------------------------------------


def request_reset(client, email_address=EMAIL):
    page = client.get("/b/salon/account/reset")
    return client.post(
        "/b/salon/account/reset",
        data={"csrf_token": csrf_token(page.text), "email": email_address},
    )


def set_new_password(client, path, password=NEW_PASSWORD):
    page = client.get(path)
    assert page.status_code == 200
    return client.post(
        path,
        data={"csrf_token": csrf_token(page.text), "password": password, "confirm": password},
    )


def test_password_reset_link_sets_a_new_password_once(app, client, client_account):
    response = request_reset(client)
    assert response.status_code == 200
    assert f"If an account exists for {EMAIL}" in response.text
    message = last_mail(app)
    assert message["Subject"] == "Reset your password"
    assert "30 minutes" in body_of(message)
    link = link_in(message)
    assert link.startswith("/b/salon/account/reset/")

    done = set_new_password(client, link)
    assert done.status_code == 302
    assert done.headers["Location"] == "/b/salon/account/login"
    assert client.get(link).status_code == 404
    assert sign_in(client, password=PASSWORD).status_code == 422
    assert sign_in(client, password=NEW_PASSWORD).status_code == 302


def test_password_reset_applies_the_rules(app, client, client_account):
    request_reset(client)
    link = link_in(last_mail(app))
    response = set_new_password(client, link, "mia harbor lights 99")
    assert response.status_code == 422
    assert "Do not use your e-mail name in your password." in response.text
    # A refused attempt does not use the link up.
    assert set_new_password(client, link).status_code == 302


def test_password_reset_link_expires_after_30_minutes(app, client, client_account, clock):
    request_reset(client)
    link = link_in(last_mail(app))
    clock.move_to(NOW + timedelta(minutes=29))
    assert client.get(link).status_code == 200
    clock.move_to(NOW + timedelta(minutes=30))
    expired = client.get(link)
    assert expired.status_code == 404
    assert "This link is not valid any more" in expired.text


def test_password_reset_for_an_unknown_address_looks_the_same_and_sends_nothing(
    app, client, client_account
):
    sent = len(outbox(app))
    known = request_reset(client)
    unknown = request_reset(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace(EMAIL, "ADDRESS") == unknown.text.replace(
        "nobody@example.com", "ADDRESS"
    )
    assert len(outbox(app)) == sent + 1


def test_password_reset_ends_the_accounts_other_sessions(app, client, signed_in_client):
    other_browser = app.test_client()
    request_reset(other_browser)
    set_new_password(other_browser, link_in(last_mail(app)))
    assert client.get("/b/salon/account/").headers["Location"] == "/b/salon/account/login"


# --- booking with accounts on ----------------------------------------------


def test_guest_booking_still_works_with_accounts_on(app, client, session, accounts_on):
    response = book(client, accounts_on.service.id, email="guest@example.com")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/b/salon/manage/")
    [booking] = bookings(session)
    assert booking.client.email == "guest@example.com"
    assert last_mail(app)["To"] == "Mia Example <guest@example.com>"


def test_signed_in_booking_is_prefilled_from_the_client_record(client, session, signed_in_client):
    page = client.get(booking_url(signed_in_client.service.id)).text
    assert 'value="Mia Example"' in page
    assert f'value="{EMAIL}"' in page
    assert 'value="+49 30 1234567"' in page
    assert re.search(r'<input[^>]*name="email"[^>]*readonly', page)


def test_signed_in_booking_uses_the_accounts_address_whatever_the_form_says(
    app, client, session, signed_in_client
):
    response = book(client, signed_in_client.service.id, email="evil@example.com", name="Mia E.")
    assert response.status_code == 303
    [booking] = bookings(session)
    account = account_of(session)
    assert booking.client_id == account.client_id
    assert booking.client.email == EMAIL
    assert session.scalars(select(Client).where(Client.email == "evil@example.com")).all() == []
    message = last_mail(app)
    assert message["Subject"].startswith("Booking confirmed: Haircut")
    assert EMAIL in message["To"]
    assert "evil@example.com" not in message.as_string()
    # It shows under My bookings.
    page = client.get("/b/salon/account/").text
    assert "Tuesday, 03 March 2026, 10:00" in page


def test_signed_in_booking_ignores_a_missing_or_invalid_address(client, session, signed_in_client):
    response = book(client, signed_in_client.service.id, email="not an address")
    assert response.status_code == 303
    assert bookings(session)[0].client.email == EMAIL


# --- rate limit ------------------------------------------------------------


def test_sign_up_posts_are_rate_limited_per_address(strict_signin_limit, app, client, accounts_on):
    assert app.config["SIGNIN_RATE_LIMIT"] == strict_signin_limit
    for number in range(3):
        assert sign_up(client, f"person{number}@example.com").status_code == 200
    response = sign_up(client, "person9@example.com")
    assert response.status_code == 429
    assert "You are going a little fast" in response.text
    assert int(response.headers["Retry-After"]) > 0
