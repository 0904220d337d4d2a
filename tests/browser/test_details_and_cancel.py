"""Issue 14 in the browser: deadlines on the details step, the error summary, the cancel step.

Phone and desktop, English and German. The salon's policy lets clients cancel
(and move) until 24 hours before; the server's clock starts on Monday 2 March
2026, 07:00 in Berlin, so a time that Monday afternoon is past its deadlines.
Screenshots go to test-artifacts/details-<viewport>/.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from portal.booking.models import Booking, BookingConsent
from tests.browser.support import Screenshots, assert_accessible, assert_focus_visible, page_errors

CASES = pytest.mark.parametrize(
    ("viewport", "lang", "hour"),
    [("phone", "en", 12), ("desktop", "en", 13), ("phone", "de", 14), ("desktop", "de", 15)],
)

NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= window.innerWidth"


def details_path(portal, start: str, lang: str) -> str:
    service = portal.ids["service"]
    return f"/b/salon/services/{service}/book?provider=any&start={start}&lang={lang}"


def fill_and_book(page: Page, email: str) -> None:
    page.locator("#name").fill("Mia Example")
    page.locator("#email").fill(email)
    page.locator("#phone").fill("+49 30 1234567")
    page.locator("#accept_terms").check()
    page.locator("#accept_policy").check()
    page.locator("form.panel button[type=submit]").click()


PASSED_DEADLINE_WARNING = {
    "en": "free-cancellation deadline for this time ended",
    "de": "Frist für eine kostenlose Stornierung dieses Termins endete",
}


def consent_of(portal, email: str) -> BookingConsent:
    with portal.session() as session:
        booking = session.scalars(
            select(Booking).join(Booking.client).where(Booking.client.has(email=email))
        ).one()
        return next(c for c in booking.consents if c.kind == "cancellation_policy")


def booking_of(portal, email: str) -> Booking:
    with portal.session() as session:
        return session.scalars(
            select(Booking).join(Booking.client).where(Booking.client.has(email=email))
        ).one()


@CASES
def test_a_time_past_its_deadline_is_booked_with_the_warning_in_view(
    page, portal, console, viewport, lang, hour
):
    shot = Screenshots(page, f"details-{viewport}")
    email = f"late.{viewport}.{lang}@example.com"
    page.goto(details_path(portal, f"2026-03-02T{hour:02d}:00Z", lang))
    warning = page.locator("#deadline-warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text(PASSED_DEADLINE_WARNING[lang])
    policy = page.locator("#accept_policy")
    assert "deadline-warning" in policy.get_attribute("aria-describedby")
    # The deadlines stand in the summary: beside the form on a desktop, above it on a phone.
    summary = page.locator(".details-aside").bounding_box()
    form = page.locator("form.panel").bounding_box()
    if viewport == "desktop":
        assert summary["x"] + summary["width"] <= form["x"]
        assert form["y"] < 800
    else:
        assert summary["y"] + summary["height"] <= form["y"]
    shot(f"{lang}-details-passed-deadline")

    # A failed submit: the page comes back with the focus on the error summary (no script).
    page.locator("form.panel button[type=submit]").click()
    summary_box = page.locator("#error-summary")
    expect(summary_box).to_be_focused()
    assert_focus_visible(page)
    expect(summary_box).to_be_in_viewport()
    expect(page.locator("#deadline-warning")).to_be_visible()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    assert_accessible(page)
    shot(f"{lang}-details-errors")

    fill_and_book(page, email)
    expect(page.locator(".alert.success h1")).to_be_visible()
    assert consent_of(portal, email).deadline_passed_shown is True
    assert page_errors(console) == []


@CASES
def test_cancelling_asks_first_and_keeps_the_reason(page, portal, console, viewport, lang, hour):
    shot = Screenshots(page, f"details-{viewport}")
    email = f"cancel.{viewport}.{lang}@example.com"
    page.goto(details_path(portal, f"2026-03-05T{hour - 4:02d}:00Z", lang))
    expect(page.locator("#deadline-warning")).to_have_count(0)
    fill_and_book(page, email)
    expect(page.locator(".alert.success h1")).to_be_visible()
    assert consent_of(portal, email).deadline_passed_shown is False

    page.locator("a.button.danger").click()  # "Cancel this booking", in either language
    expect(page.locator("#reason")).to_be_visible()
    expect(page.locator(".or-instead a.button")).to_be_visible()  # reschedule instead
    assert booking_of(portal, email).status == "confirmed"
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    assert_accessible(page)
    shot(f"{lang}-cancel-step")

    page.locator("#reason").fill("Mein Zug fällt aus." if lang == "de" else "My train is off.")
    page.locator("form.panel button[type=submit]").click()
    expect(page.locator(".alert.success h1")).to_be_visible()
    booking = booking_of(portal, email)
    assert booking.status == "cancelled"
    assert booking.cancel_reason in ("Mein Zug fällt aus.", "My train is off.")
    shot(f"{lang}-cancelled")
    assert page_errors(console) == []


@pytest.mark.parametrize("viewport", ["narrow"])
@pytest.mark.parametrize("lang", ["en", "de"])
def test_the_details_and_cancel_steps_fit_a_320_pixel_screen(page, portal, viewport, lang):
    page.goto(details_path(portal, "2026-03-02T15:30Z", lang))
    page.locator("form.panel button[type=submit]").click()
    expect(page.locator("#error-summary")).to_be_focused()
    assert page.evaluate(NO_SIDEWAYS_SCROLL), "the details page scrolls sideways"
    shot = Screenshots(page, f"details-{viewport}")
    shot(f"{lang}-details-errors")

    page.goto(details_path(portal, f"2026-03-05T{14 if lang == 'en' else 15}:00Z", lang))
    fill_and_book(page, f"narrow.{lang}@example.com")
    page.locator("a.button.danger").click()
    expect(page.locator("#reason")).to_be_visible()
    assert page.evaluate(NO_SIDEWAYS_SCROLL), "the cancel step scrolls sideways"
    shot(f"{lang}-cancel-step")
