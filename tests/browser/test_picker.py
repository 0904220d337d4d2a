"""The date-and-time picker in a browser: the times in view, one tap per choice, keyboard, fit.

At a phone (390x844) and a desktop (1280x800), in English and German. The
salon's clock starts on Monday 2 March 2026, 07:00 in Berlin; Alex works
09:00-17:00 every day and Bea (added here) 12:00-18:00, so a tap on Bea shows
12:00 as the first time. Screenshots go to test-artifacts/<viewport>/.
"""

from __future__ import annotations

from datetime import time

import pytest
from playwright.sync_api import Page, expect

from portal.businesses.models import Business
from portal.catalog.models import Service
from tests.browser.support import (
    assert_focus_visible,
    blocking_violations,
    book,
    describe,
    is_focused,
    page_errors,
)
from tests.factories import make_provider

BOTH = pytest.mark.parametrize("viewport", ["phone", "desktop"])
LANGUAGES = pytest.mark.parametrize("language", ["en", "de"])
WHOLE_MONTH = {"en": "Whole month", "de": "Ganzer Monat"}
MONTH_TITLE = {"en": "March 2026", "de": "März 2026"}


@pytest.fixture(scope="module")
def bea(portal) -> int:
    """A second provider for the Haircut, working 12:00-18:00 every day."""
    with portal.session() as session:
        service = session.get(Service, portal.ids["service"])
        business = session.get(Business, portal.ids["business"])
        hours = {weekday: [(time(12), time(18))] for weekday in range(7)}
        provider = make_provider(session, business, [service], name="Bea", hours=hours)
        session.commit()
        return provider.id


def open_slot_page(page: Page, portal, language: str, query: str = "") -> None:
    page.goto(f"/b/salon/?lang={language}")  # the visitor's choice, kept in the session
    page.goto(f"/b/salon/services/{portal.ids['service']}{query}")
    expect(page.locator("#times")).to_be_attached()


def day_link(page: Page, iso: str):
    return page.locator(f'.calendar a.day[href*="day={iso}#times"]')


def first_time(page: Page):
    return page.locator(".slots a.slot").first


def assert_in_viewport(page: Page, locator) -> None:
    """Fully inside the visible part of the page, as it is now (no scrolling by the test)."""
    box = locator.bounding_box()
    size = page.viewport_size
    assert box is not None, "not rendered"
    assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"], (box, size)
    assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"], (box, size)


def viewport_shot(page: Page, shot, step: str) -> None:
    """A full-page screenshot (numbered) and one of just what the visitor sees."""
    path = shot(step)
    page.screenshot(path=str(path.with_name(f"{path.stem}-viewport.png")))


@BOTH
@LANGUAGES
def test_after_choosing_a_day_its_first_time_is_in_view(
    page, portal, bea, shot, console, viewport, language
):
    open_slot_page(page, portal, language)
    viewport_shot(page, shot, f"picker-{language}")
    day = day_link(page, "2026-03-04")
    day.click()
    expect(day).to_have_attribute("aria-current", "date")
    assert page.url.endswith("#times")
    expect(first_time(page)).to_have_text("09:00")
    assert_in_viewport(page, first_time(page))
    viewport_shot(page, shot, f"picker-day-chosen-{language}")
    shown_days = page.locator(".picker-calendar .calendar > li:visible")
    whole_month = page.get_by_role("link", name=WHOLE_MONTH[language])
    if viewport == "desktop":
        # Beside the month: the chosen day stays in view with its times.
        assert_in_viewport(page, day)
        assert shown_days.count() >= 28
        expect(whole_month).to_be_hidden()
    else:
        # A phone shows the chosen day's week as a strip, and the month on request.
        assert shown_days.count() == 7
        expect(day).to_be_visible()
        whole_month.click()
        expect(page.get_by_role("heading", name=MONTH_TITLE[language], exact=True)).to_be_visible()
        assert page.locator(".picker-calendar .calendar > li:visible").count() >= 28
    assert page_errors(console) == []


@BOTH
@LANGUAGES
def test_one_tap_on_a_provider_shows_their_times(
    page, portal, bea, shot, console, viewport, language
):
    open_slot_page(page, portal, language, "?day=2026-03-04")
    provider = page.locator(".providers a.chip").filter(has_text="Bea")
    provider.click()
    expect(provider).to_have_attribute("aria-current", "true")
    expect(first_time(page)).to_have_text("12:00")
    assert f"provider={bea}" in page.url and "day=2026-03-04" in page.url
    assert_in_viewport(page, first_time(page))
    expect(day_link(page, "2026-03-04")).to_have_attribute("aria-current", "date")
    href = first_time(page).get_attribute("href")
    assert f"provider={bea}" in href
    viewport_shot(page, shot, f"picker-provider-{language}")
    page.locator(".providers a.chip").first.click()  # back to "any available"
    expect(page.locator(".providers a.chip").first).to_have_attribute("aria-current", "true")
    expect(first_time(page)).to_have_text("09:00")
    assert page_errors(console) == []


def tabs_to_first_time(page: Page, limit: int = 30) -> int:
    """Tab from the top of a fresh page until the first time has the focus; the skip link
    is followed with Enter. Returns the number of Tab presses."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        assert_focus_visible(page)
        if is_focused(first_time(page)):
            return presses
        if is_focused(page.locator("a.skip-link")):
            page.keyboard.press("Enter")
    raise AssertionError(f"the first time not reached with {limit} presses of Tab")


@BOTH
@LANGUAGES
def test_the_keyboard_reaches_the_first_time_in_ten_tabs(
    page, portal, bea, shot, viewport, language
):
    open_slot_page(page, portal, language)
    assert tabs_to_first_time(page) <= 10
    assert_in_viewport(page, first_time(page))
    viewport_shot(page, shot, f"picker-keyboard-{language}")
    # A day chosen with the keyboard: the next Tab lands on its first time.
    open_slot_page(page, portal, language)
    day = day_link(page, "2026-03-06")
    day.focus()
    page.keyboard.press("Enter")
    expect(day).to_have_attribute("aria-current", "date")
    # The browser moves the focus starting point to #times when it scrolls to the
    # fragment, which waits for the style sheet; under load that is after the markup.
    page.wait_for_function("document.querySelector('#times:target') !== null")
    page.keyboard.press("Tab")
    assert is_focused(first_time(page))


@pytest.mark.parametrize("viewport", ["narrow"])
@LANGUAGES
def test_the_picker_fits_a_320_pixel_screen(page, portal, bea, shot, viewport, language):
    pages = {
        "month": "",
        "day": "?day=2026-03-04",
        "next-month": "?month=2026-04",
        "provider": f"?provider={bea}&day=2026-03-04",
    }
    too_wide = {}
    for name, query in pages.items():
        open_slot_page(page, portal, language, query)
        shot(f"narrow-picker-{name}-{language}")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 320:
            too_wide[name] = width
    assert too_wide == {}


@BOTH
@LANGUAGES
def test_the_picker_pages_have_no_serious_or_critical_axe_violations(
    page, portal, bea, shot, viewport, language
):
    found = {}
    for name, query in {
        "month": "",
        "day": "?day=2026-03-04#times",
        "next-month": "?month=2026-04",
        "provider": f"?provider={bea}&day=2026-03-04",
    }.items():
        open_slot_page(page, portal, language, query)
        violations = blocking_violations(page)
        if violations:
            found[name] = describe(violations)
    assert not found, found


@BOTH
def test_the_reschedule_page_has_the_same_picker(page, portal, bea, shot, console, viewport):
    book(page, f"rita.{viewport}@example.com", "Thu 12 Mar")
    page.get_by_role("link", name="Change the time").click()
    expect(page.get_by_role("heading", name="Change the time")).to_be_visible()
    expect(page.get_by_role("list", name="Days in March 2026")).to_be_visible()
    day = day_link(page, "2026-03-13")
    day.click()
    expect(day).to_have_attribute("aria-current", "date")
    assert_in_viewport(page, first_time(page))
    viewport_shot(page, shot, "reschedule-picker")
    assert not blocking_violations(page), describe(blocking_violations(page))
    page.get_by_role("link", name="Next month").click()
    expect(page.get_by_role("heading", name="April 2026", exact=True)).to_be_visible()
    first_time(page).click()
    expect(page.get_by_role("button", name="Move my booking")).to_be_visible()
    assert page_errors(console) == []
