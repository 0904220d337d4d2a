"""The front desk in a browser, at a phone and a desktop, in English and German.

Staff move a booking to another free time and the client gets the new time by
e-mail; a walk-in without an e-mail address is booked from a calendar cell's
link (provider, day and time filled in) and nothing is sent to them.

Screenshots: test-artifacts/frontdesk-<viewport>/<nn>-<lang>-<step>.png. The
German pass chooses "Deutsch" in the footer; the front desk's own texts are
found by their form names, so the test passes before its German side file is
merged into the catalogue.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from portal.booking.models import Booking
from portal.businesses.models import Business
from portal.catalog.models import Provider, Service
from portal.clients.models import Client
from portal.mail.models import OutboxMessage
from tests.browser.support import Screenshots, assert_accessible, page_errors, sign_in_staff
from tests.conftest import NOW, OWNER_EMAIL, OWNER_PASSWORD
from tests.factories import make_booking, make_client

VIEWPORTS = ["phone", "desktop"]
LANGUAGES = ["en", "de"]
#: Each run books on a day of its own (the server and its database serve the whole module).
RUNS = {
    (v, lang): n for n, (v, lang) in enumerate((v, lang) for v in VIEWPORTS for lang in LANGUAGES)
}


def run_day(viewport: str, lang: str, offset: int = 0) -> date:
    return date(2026, 3, 3) + timedelta(days=RUNS[(viewport, lang)] * 2 + offset)


def local(day: date, hour: int) -> datetime:
    """``hour`` o'clock in Berlin (UTC+1 in March) on ``day``, in UTC."""
    return datetime(day.year, day.month, day.day, hour - 1, 0, tzinfo=UTC)


def choose_language(page: Page, lang: str) -> None:
    if lang == "en":
        return
    page.get_by_role("navigation", name="Language").get_by_role("link", name="Deutsch").click()
    expect(page.locator("html")).to_have_attribute("lang", lang)


def assert_fits_the_screen(page: Page) -> None:
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the screen"


def salon_rows(portal) -> tuple[Business, Service, Provider]:
    """The salon's business, service and provider, read in a session of their own.

    A session that reads and then writes asks SQLite to upgrade its lock, which
    fails at once while the server writes; one that only writes waits its turn.
    """
    with portal.session() as session:
        ids = portal.ids
        return (
            session.get(Business, ids["business"]),
            session.get(Service, ids["service"]),
            session.get(Provider, ids["provider"]),
        )


def confirmations(portal) -> int:
    with portal.session() as session:
        return session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind == "booking.confirmation")
        )


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_staff_move_a_booking_and_the_client_gets_the_new_time(
    page, portal, console, viewport, lang
):
    shot = Screenshots(page, f"frontdesk-{viewport}")
    day = run_day(viewport, lang)
    address = f"mia.{lang}.{viewport}@example.com"
    business, service, provider = salon_rows(portal)
    with portal.session() as session:
        client = make_client(session, business, name="Mia Move", email=address)
        booking = make_booking(
            session,
            business=business,
            service=service,
            provider=provider,
            start=local(day, 10),
            client=client,
            created_at=NOW - timedelta(days=1),
        )
        session.commit()
        booking_id = booking.id

    sign_in_staff(page, OWNER_EMAIL, OWNER_PASSWORD)
    choose_language(page, lang)
    page.goto(f"/staff/bookings/{booking_id}")
    page.locator(f'a[href="/staff/bookings/{booking_id}/move"]').click()
    expect(page).to_have_url(f"{portal.url}/staff/bookings/{booking_id}/move")
    new_time = page.locator(f'input[name="start"][value="{local(day, 12):%Y-%m-%dT%H:%MZ}"]')
    new_time.check()
    assert_fits_the_screen(page)
    assert_accessible(page)
    shot(f"{lang}-move-page")
    page.locator("#main button.primary").click()
    expect(page).to_have_url(f"{portal.url}/staff/bookings/{booking_id}")
    expect(page.get_by_role("status")).to_contain_text(address)
    assert_fits_the_screen(page)
    shot(f"{lang}-booking-moved")

    with portal.session() as session:
        assert session.get(Booking, booking_id).start_at == local(day, 12)
    mail = portal.wait_for_mail(address, "Booking moved")
    [ics] = [part for part in mail.iter_attachments() if part.get_filename() == "booking.ics"]
    assert f"DTSTART:{local(day, 12):%Y%m%dT%H%M%SZ}" in ics.get_content()
    assert page_errors(console) == []


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_walk_in_without_e_mail_is_booked_from_a_calendar_cell_and_sent_nothing(
    page, portal, console, viewport, lang
):
    shot = Screenshots(page, f"frontdesk-{viewport}")
    day = run_day(viewport, lang, offset=1)
    name = f"Walk In {lang} {viewport}"
    sent_before = confirmations(portal)

    sign_in_staff(page, OWNER_EMAIL, OWNER_PASSWORD)
    choose_language(page, lang)
    page.goto(f"/staff/bookings/new?provider={portal.ids['provider']}&day={day}&time=14:00")
    if lang == "de":
        expect(page.get_by_role("heading", name="Für einen Kunden buchen")).to_be_visible()
    chosen = page.locator(f'input[name="start"][value="{local(day, 14):%Y-%m-%dT%H:%MZ}"]')
    expect(chosen).to_be_checked()
    page.locator('input[name="name"]').fill(name)
    expect(page.locator("#email-hint")).to_be_visible()  # "no e-mail means no client mails"
    assert_fits_the_screen(page)
    assert_accessible(page)
    shot(f"{lang}-walk-in-form")
    page.locator("#main button.primary").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    assert_fits_the_screen(page)
    shot(f"{lang}-walk-in-booked")

    with portal.session() as session:
        client = session.scalars(select(Client).where(Client.name == name)).one()
        assert client.email is None
        booking = session.scalars(select(Booking).where(Booking.client_id == client.id)).one()
        assert booking.start_at == local(day, 14)
    assert confirmations(portal) == sent_before
    assert page_errors(console) == []


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_owner_books_a_found_client_after_hours_with_a_reason(
    page, portal, console, viewport, lang
):
    shot = Screenshots(page, f"frontdesk-{viewport}")
    day = run_day(viewport, lang)
    name = f"Nora {lang} {viewport}"
    business, _service, _provider = salon_rows(portal)
    with portal.session() as session:
        client = make_client(session, business, name=name)
        session.commit()
        client_id = client.id

    sign_in_staff(page, OWNER_EMAIL, OWNER_PASSWORD)
    choose_language(page, lang)
    page.goto("/staff/bookings/new")
    page.locator("#find").fill(name)
    page.locator('form[role="search"] button').click()
    page.locator(".client-results").get_by_role("link", name=name).click()
    expect(page.locator(".chosen-client")).to_contain_text(name)
    page.goto(f"/staff/clients/{client_id}")
    assert_fits_the_screen(page)
    shot(f"{lang}-client-page")
    page.locator(f'a[href="/staff/bookings/new?client={client_id}"]').click()
    page.locator("#day").fill(day.isoformat())
    page.locator("#main form.panel button.secondary").click()
    page.locator("details.override > summary").click()
    page.locator("#other_time").fill("19:00")
    page.locator("#override_reason").fill("Only time she can come")
    assert_fits_the_screen(page)
    assert_accessible(page)
    shot(f"{lang}-override-form")
    page.locator("#main button.primary").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)

    with portal.session() as session:
        booking = session.scalars(select(Booking).where(Booking.client_id == client_id)).one()
        assert booking.start_at == local(day, 19)
    assert page_errors(console) == []
