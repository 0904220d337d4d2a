"""English and German: who decides the language, and what follows it."""

from __future__ import annotations

import email
import email.policy

import pytest
from babel.messages.pofile import read_po

from portal.config import PROJECT_ROOT
from tests.conftest import csrf_token, outbox, sign_in
from tests.test_flow import booking_url, post_booking

GERMAN_PO = PROJECT_ROOT / "translations" / "de" / "LC_MESSAGES" / "messages.po"


@pytest.fixture(scope="module")
def german():
    """The German of an English msgid, from the catalogue the app uses."""
    with open(GERMAN_PO, "rb") as po:
        catalogue = read_po(po, locale="de")

    def translate(msgid: str) -> str:
        entry = catalogue.get(msgid)
        assert entry is not None and entry.string, f"{msgid!r} has no German"
        assert entry.string != msgid
        return entry.string

    return translate


@pytest.fixture
def german_salon(salon, session):
    salon.business.locale = "de"
    session.commit()
    return salon


def test_public_pages_speak_the_business_language(client, german_salon, german):
    page = client.get("/b/salon/").text
    assert '<html lang="de">' in page
    assert german("Terms and conditions") in page
    assert "Terms and conditions" not in page


def test_a_client_switches_language_and_the_choice_sticks(client, german_salon, german):
    page = client.get("/b/salon/?lang=en").text
    assert '<html lang="en">' in page
    assert "Terms and conditions" in page
    # The next page, without ?lang=, stays in the language the client chose.
    assert '<html lang="en">' in client.get(f"/b/salon/services/{german_salon.service.id}").text
    assert '<html lang="de">' in client.get("/b/salon/?lang=de").text


def test_every_page_links_to_itself_in_each_language(client, salon):
    page = client.get(f"/b/salon/services/{salon.service.id}?day=2026-03-03").text
    assert f'href="/b/salon/services/{salon.service.id}?day=2026-03-03&amp;lang=de"' in page
    assert 'lang="en" hreflang="en" aria-current="true">English</a>' in page


def test_an_unknown_language_is_refused_with_a_clear_message(client, salon, german):
    response = client.get("/b/salon/?lang=fr")
    assert response.status_code == 400
    assert "Choose English or Deutsch." in response.text


def test_pages_without_a_business_follow_the_browser(client, salon, german):
    page = client.get("/staff/login", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert '<html lang="de">' in page.text
    assert german("Sign in") in page.text
    english = client.get("/staff/login?lang=en", headers={"Accept-Language": "de"})
    assert '<html lang="en">' in english.text


def test_dates_and_prices_follow_the_language(client, salon):
    english = client.get(booking_url(salon)).text
    assert "Tuesday, 03 March 2026" in english
    assert "€30.00" in english
    german = client.get(booking_url(salon) + "&lang=de").text
    assert "Dienstag, 3. März 2026" in german
    assert "30,00\xa0€" in german


def test_the_calendar_names_days_and_months_in_the_language(client, salon):
    english = client.get(f"/b/salon/services/{salon.service.id}").text
    assert (
        '<span class="visually-hidden">Tue </span><span class="dom">3</span>'
        '<span class="visually-hidden"> Mar</span>' in (english)
    )
    german = client.get(f"/b/salon/services/{salon.service.id}?lang=de").text
    assert (
        '<span class="visually-hidden">Di </span><span class="dom">3</span>'
        '<span class="visually-hidden"> Mär</span>' in (german)
    )


def test_a_client_booking_in_german_gets_german_pages_and_mail(app, client, german_salon, german):
    response = post_booking(client, german_salon, accept_terms="y", accept_policy="y")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).text
    assert german("Your booking is confirmed") in page
    assert "Dienstag, 3. März 2026, 10:00" in page

    [sent] = outbox(app)
    message = email.message_from_bytes(sent.read_bytes(), policy=email.policy.default)
    body = message.get_body(("plain",)).get_content()
    assert "Dienstag, 3. März 2026, 10:00" in body


def test_a_form_error_is_shown_in_the_language(client, german_salon, german):
    page = client.get(booking_url(german_salon))
    response = client.post(
        booking_url(german_salon),
        data={"csrf_token": csrf_token(page.text), "name": "Mia", "email": "not-an-address"},
    )
    assert response.status_code == 422
    assert '<html lang="de">' in response.text
    assert "Terms and conditions" not in response.text


def test_the_language_choice_survives_staff_sign_in(client, owner, german):
    client.get("/staff/login?lang=de")
    response = sign_in(client)
    assert response.status_code == 302
    dashboard = client.get(response.headers["Location"]).text
    assert '<html lang="de">' in dashboard


def test_staff_of_a_german_business_see_german(client, owner, session, german):
    owner_business = owner.business_id
    from portal.businesses.models import Business

    session.get(Business, owner_business).locale = "de"
    session.commit()
    response = sign_in(client)
    dashboard = client.get(response.headers["Location"]).text
    assert '<html lang="de">' in dashboard


def test_staff_actions_email_the_client_in_the_business_language(
    app, client, german_salon, owner, session, german
):
    from sqlalchemy import select

    from portal.booking.models import Booking
    from tests.test_schedule import post_form

    post_booking(client, german_salon, accept_terms="y", accept_policy="y")
    booking_id = session.scalars(select(Booking.id)).one()
    # The owner works in English; the client of a German business reads German.
    client.get("/staff/login?lang=en")
    sign_in(client)
    detail = f"/staff/bookings/{booking_id}"
    assert '<html lang="en">' in client.get(detail).text
    response = post_form(client, detail, f"{detail}/cancel", reason="Alex ist krank.")
    assert response.status_code == 303

    cancellation = email.message_from_bytes(
        outbox(app)[-1].read_bytes(), policy=email.policy.default
    )
    body = cancellation.get_body(("plain",)).get_content()
    assert "Dienstag, 3. März 2026" in body
    assert german("Booking cancelled: %(what)s, %(when)s").split(":")[0] in cancellation["Subject"]
