"""Accessibility: axe-core finds nothing serious or critical, and a booking needs only a keyboard.

axe (axe-playwright-python's bundled axe.min.js) runs with its default rules
(WCAG 2 A/AA and best practices) on each page as a visitor sees it; minor and
moderate findings do not fail the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from playwright.sync_api import Page, Response, expect

from portal.catalog.models import DayOff
from tests.browser.support import (
    blocking_violations,
    book,
    describe,
    page_errors,
    sign_in_staff,
    tab_to,
)
from tests.conftest import OWNER_EMAIL, OWNER_PASSWORD


def check_pages(page: Page, pages: dict[str, Callable[[], Response | None]]) -> None:
    """Open each page (a step of ``pages``) and collect axe's blocking findings on all of them.

    A step returns the page's response (it must be a success: axe on an error
    page proves nothing) or checks what it opened itself and returns None.
    """
    found = {}
    for name, open_page in pages.items():
        response = open_page()
        assert response is None or response.ok, f"{name}: {response.status} at {response.url}"
        violations = blocking_violations(page)
        if violations:
            found[name] = f"{page.url}\n{describe(violations)}"
    assert not found, "\n\n".join(f"{name}: {report}" for name, report in found.items())


@pytest.fixture(scope="module")
def sunday_off(portal):
    """Alex takes Sunday 8 March off, so the calendar shows a day without free times."""
    with portal.session() as session:
        session.add(DayOff(provider_id=portal.ids["provider"], day=date(2026, 3, 8)))
        session.commit()


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_client_pages_have_no_serious_or_critical_axe_violations(
    page, portal, sunday_off, viewport
):
    email = f"ada.{viewport}@example.com"
    service = portal.ids["service"]

    def details_with_errors():
        page.goto("/b/salon/")
        page.get_by_role("link", name="Choose a time for Haircut").click()
        page.locator(".slots").get_by_role("link").first.click()
        page.get_by_role("button", name="Confirm booking").click()
        expect(page.get_by_role("alert")).to_contain_text("Please enter your name.")

    def manage():
        book(page, email, "Thu 5 Mar")
        expect(page.get_by_role("link", name="Cancel this booking")).to_be_visible()

    check_pages(
        page,
        {
            "services": lambda: page.goto("/b/salon/"),
            "slots": lambda: page.goto(f"/b/salon/services/{service}"),
            "a day without free times": lambda: page.goto(
                f"/b/salon/services/{service}?day=2026-03-08"
            ),
            "details": lambda: page.goto(
                f"/b/salon/services/{service}/book?provider=any&start=2026-03-05T15:00Z"
            ),
            "details with errors": details_with_errors,
            "manage": manage,
            "cancel step": lambda: page.get_by_role("link", name="Cancel this booking").click(),
            "terms": lambda: page.goto("/b/salon/terms"),
            "cancellation policy": lambda: page.goto("/b/salon/cancellation-policy"),
            "client sign-in": lambda: page.goto("/b/salon/account/login"),
            "embedded services": lambda: page.goto("/b/salon/?embed=1"),
        },
    )


def test_staff_pages_have_no_serious_or_critical_axe_violations(page, portal):
    book(page, "bea.axe@example.com", "Mon 2 Mar")  # something for the dashboard and calendar

    def signed_in_dashboard():
        sign_in_staff(page, OWNER_EMAIL, OWNER_PASSWORD)
        expect(page.get_by_role("navigation", name="Staff area")).to_be_visible()

    check_pages(
        page,
        {
            "staff sign-in": lambda: page.goto("/staff/login"),
            "dashboard": signed_in_dashboard,
            "calendar": lambda: page.goto("/staff/bookings?date=2026-03-02"),
            "week": lambda: page.goto("/staff/bookings?view=week&date=2026-03-02"),
            "services admin": lambda: page.goto("/staff/services"),
            "security settings": lambda: page.goto("/staff/security"),
            "team": lambda: page.goto("/staff/team"),
            "two-factor set-up": lambda: page.goto("/staff/account/2fa"),
            "embedding": lambda: page.goto("/staff/embedding"),
        },
    )


def test_a_booking_can_be_made_and_cancelled_with_the_keyboard_alone(page, portal, console):
    """Only Tab, Enter and Space; every element that takes the focus shows it."""
    page.goto("/b/salon/")
    tab_to(page, page.get_by_role("link", name="Choose a time for Haircut"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Choose a time", exact=True)).to_be_visible()

    # Friday: tab through the calendar to the day, then to its first free time.
    friday = page.get_by_role("list", name="Days").get_by_role("link", name="Fri 6 Mar")
    tab_to(page, friday)
    page.keyboard.press("Enter")
    expect(friday).to_have_attribute("aria-current", "date")
    tab_to(page, page.locator(".slots").get_by_role("link").first)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Your details")).to_be_visible()

    for label, text in [
        ("Your name", "Kim Keys"),
        ("E-mail", "kim.keys@example.com"),
        ("Phone", "+49 30 7654321"),
    ]:
        tab_to(page, page.get_by_label(label))
        page.keyboard.type(text)
    for label in [
        "I accept the terms and conditions",
        "I have read and accept the cancellation policy",
    ]:
        checkbox = page.get_by_label(label)
        tab_to(page, checkbox)
        page.keyboard.press("Space")
        expect(checkbox).to_be_checked()
    tab_to(page, page.get_by_role("button", name="Confirm booking"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Your booking is confirmed")).to_be_visible()

    tab_to(page, page.get_by_role("link", name="Cancel this booking"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Cancel your booking?")).to_be_visible()
    tab_to(page, page.get_by_role("button", name="Yes, cancel the booking"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Your booking is cancelled")).to_be_visible()
    assert page_errors(console) == []


@pytest.mark.parametrize("viewport", ["narrow"])
def test_the_client_pages_fit_a_320_pixel_screen(page, portal, viewport, shot):
    """Nothing is wider than the screen: no sideways scrolling, no cut-off buttons."""
    service = portal.ids["service"]
    page.goto("/b/salon/")
    pages = {
        "services": lambda: page.goto("/b/salon/"),
        "choose-time": lambda: page.goto(f"/b/salon/services/{service}?day=2026-03-04"),
        "details": lambda: (
            page.get_by_role("list", name="Free times").get_by_role("link").first.click()
        ),
        "terms": lambda: page.goto("/b/salon/terms"),
        "staff-sign-in": lambda: page.goto("/staff/login"),
    }
    too_wide = {}
    for name, open_page in pages.items():
        open_page()
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        shot(f"narrow-{name}")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 320:
            too_wide[name] = width
    assert too_wide == {}
