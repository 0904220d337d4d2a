"""The staff calendar in a browser, at 1280 px and 390 px, in English and German.

The week grid shows all seven days without sideways scrolling (phones get the
week as a list instead, by a CSS media query); a free cell leads to the
new-booking page with its provider, day and time chosen, and booking there puts
a block in the grid; today's client is marked as arrived from the day view; axe
finds nothing serious or critical; screenshots go to
test-artifacts/calendar-<viewport>/.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from portal.booking.models import Booking
from portal.businesses.models import Business
from portal.catalog.models import Provider, Service
from tests.browser.support import Screenshots, assert_accessible, page_errors, sign_in_staff
from tests.conftest import OWNER_EMAIL, OWNER_PASSWORD
from tests.factories import make_booking, make_provider

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = date(2026, 3, 2)  # NOW's day
TUESDAY = date(2026, 3, 3)
#: Each test books its own free time, so the tests of the module do not take each other's.
FREE_TIMES = {
    ("desktop", "en"): "10:30",
    ("desktop", "de"): "11:30",
    ("phone", "en"): "12:30",
    ("phone", "de"): "13:30",
}
SCROLLS_SIDEWAYS = "() => document.documentElement.scrollWidth - window.innerWidth"


def berlin(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN).astimezone(UTC)


@pytest.fixture(scope="module")
def week(portal) -> dict[str, int]:
    """A second provider (Kim, off on Wednesday) and some bookings of every state."""
    with portal.session() as session:
        business = session.get(Business, portal.ids["business"])
        service = session.get(Service, portal.ids["service"])
        alex = session.get(Provider, portal.ids["provider"])
        kim = make_provider(
            session,
            business,
            [service],
            name="Kim",
            hours={weekday: [(time(8), time(12)), (time(13), time(18))] for weekday in range(6)},
            days_off=[date(2026, 3, 4)],
        )
        today = make_booking(
            session,
            business=business,
            service=service,
            provider=alex,
            start=berlin(MONDAY, 11),
            name="Tom Today",
        )
        for day, hour, name, extra in [
            (TUESDAY, 9, "Mia Example", {}),
            (TUESDAY, 14, "Pat Pending", {"status": "pending"}),
            (date(2026, 3, 5), 9, "Cleo Cancelled", {"status": "cancelled"}),
            (date(2026, 3, 6), 16, "Fred Friday", {}),
        ]:
            make_booking(
                session,
                business=business,
                service=service,
                provider=alex,
                start=berlin(day, hour),
                name=name,
                **extra,
            )
        make_booking(
            session,
            business=business,
            service=service,
            provider=kim,
            start=berlin(TUESDAY, 8, 30),
            name="Kai Kim",
        )
        session.commit()
        return {"kim": kim.id, "today": today.id}


def choose_language(page: Page, lang: str) -> None:
    if lang == "de":
        page.get_by_role("navigation", name="Language").get_by_role("link", name="Deutsch").click()
        expect(page.locator("html")).to_have_attribute("lang", "de")


def assert_no_sideways_scroll(page: Page) -> None:
    assert page.evaluate(SCROLLS_SIDEWAYS) <= 0, f"{page.url} scrolls sideways"


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
@pytest.mark.parametrize("lang", ["en", "de"])
def test_the_week_fits_and_a_free_cell_books_there(page, portal, week, viewport, lang, console):
    shot = Screenshots(page, f"calendar-{viewport}")
    sign_in_staff(page, OWNER_EMAIL, OWNER_PASSWORD)
    expect(page).to_have_url(f"{portal.url}/staff/")
    choose_language(page, lang)

    page.goto("/staff/bookings?view=week&date=2026-03-03")
    assert_no_sideways_scroll(page)
    if viewport == "desktop":
        grid = page.locator("#cal-grid")
        expect(grid).to_be_visible()
        heads = page.locator("a.cal-head")
        expect(heads).to_have_count(7)
        width = page.evaluate("() => window.innerWidth")
        for n in range(7):
            box = heads.nth(n).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, n
        # Not even the grid's own box scrolls: all seven days fit.
        scroll = page.locator(".cal-scroll")
        assert scroll.evaluate("(el) => el.scrollWidth - el.clientWidth") <= 0
        expect(page.locator(".cal-block", has_text="Mia Example")).to_be_visible()
        expect(page.locator(".cal-bg.is-off")).not_to_have_count(0)
    else:
        expect(page.locator("#cal-grid")).to_be_hidden()
        days = page.locator(".cal-narrow-list .cal-list-day")
        expect(days).to_have_count(7)
        for n in range(7):
            expect(days.nth(n)).to_be_visible()
        expect(page.locator(".cal-narrow-list")).to_contain_text("Mia Example")
    assert_accessible(page)
    shot(f"{lang}-week")

    # Phones book from the day view (the week is a list there); wide screens from the week.
    wanted = FREE_TIMES[(viewport, lang)]
    if viewport == "phone":
        page.goto("/staff/bookings?view=day&date=2026-03-03")
        assert_no_sideways_scroll(page)
        assert_accessible(page)
        shot(f"{lang}-day")
    provider = portal.ids["provider"]
    cell = page.locator(f'a.cal-free[href$="provider={provider}&day=2026-03-03&time={wanted}"]')
    expect(cell).to_have_count(1)
    if lang == "en":
        label = f"Book Alex on Tue 03 Mar at {wanted}" if viewport == "desktop" else None
        expect(cell).to_have_accessible_name(label or f"Book Alex at {wanted}")
    cell.click()

    # The new-booking page has the provider, day and time of the cell chosen.
    expect(page).to_have_url(
        f"{portal.url}/staff/bookings/new?provider={provider}&day=2026-03-03&time={wanted}"
    )
    expect(page.locator("select#provider")).to_have_value(str(provider))
    expect(page.locator("input#day")).to_have_value("2026-03-03")
    chosen = page.locator('input[name="start"]:checked')
    expect(chosen).to_have_count(1)
    expect(page.locator(f'label[for="{chosen.get_attribute("id")}"]')).to_contain_text(wanted)
    client = f"Walk In {viewport.title()} {lang.upper()}"
    page.locator('input[name="name"]').fill(client)
    page.locator('input[name="email"]').fill(f"walk-in-{viewport}-{lang}@example.com")
    page.locator('input[name="phone"]').fill("+49 30 5550199")
    assert_no_sideways_scroll(page)
    shot(f"{lang}-new-booking")
    page.locator('main form[method="post"] button.primary').click()
    expect(page.locator("h1")).to_be_visible()
    assert "/staff/bookings/new" not in page.url, page.locator(".alert").all_inner_texts()

    # The booking is a block in the day's grid, at the cell's time.
    page.goto("/staff/bookings?view=day&date=2026-03-03")
    block = page.locator(".cal-block", has_text=client)
    expect(block).to_be_visible()
    expect(block).to_contain_text(f"{wanted}–")
    assert_no_sideways_scroll(page)
    assert_accessible(page)
    shot(f"{lang}-booked")
    assert page_errors(console) == []


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_todays_client_is_marked_arrived_from_the_day_view(page, portal, week, viewport):
    shot = Screenshots(page, f"calendar-{viewport}")
    portal.move_clock_to(berlin(MONDAY, 10, 30))  # the day's hours have begun: a "now" line
    sign_in_staff(page, OWNER_EMAIL, OWNER_PASSWORD)
    page.goto("/staff/bookings?view=day")
    expect(page.locator(".cal-now")).to_have_count(1)
    block = page.locator(".cal-block", has_text="Tom Today")
    expect(block).to_contain_text("Confirmed")
    assert_no_sideways_scroll(page)
    assert_accessible(page)
    shot("en-today")
    # Wide screens: the button is in the grid's block; phones: in the day's list below the grid.
    where = block if viewport == "desktop" else page.locator(".cal-narrow-list .cal-item")
    button = where.get_by_role("button", name=re.compile(r"^Arrived\W+Tom Today, 11:00$"))
    expect(button).to_have_count(1)
    if viewport == "phone":
        button.tap()
    else:
        button.click()
    expect(page.get_by_text("Tom Today is marked as arrived.")).to_be_visible()
    expect(page).to_have_url(f"{portal.url}/staff/bookings?view=day&date=2026-03-02&provider=all")
    block = page.locator(".cal-block", has_text="Tom Today")
    expect(block).to_have_class(re.compile(r"\bis-arrived\b"))
    expect(block).to_contain_text("Arrived")
    expect(block.get_by_role("button")).to_have_count(0)
    shot("en-arrived")
    # The other viewport's run finds Tom already arrived: put him back for it.
    with portal.session() as session:
        session.get(Booking, week["today"]).arrived_at = None
        session.commit()


def test_the_list_view_shows_the_week_at_any_width(page, portal, week):
    shot = Screenshots(page, "calendar-desktop")
    sign_in_staff(page, OWNER_EMAIL, OWNER_PASSWORD)
    page.goto("/staff/bookings?view=week&date=2026-03-03")
    page.get_by_role("navigation", name="Calendar view").get_by_role("link", name="List").click()
    expect(page).to_have_url(f"{portal.url}/staff/bookings?view=list&date=2026-03-03&provider=all")
    expect(page.locator(".cal-list-day")).to_have_count(7)
    expect(page.locator(".cal-list")).to_contain_text("Pat Pending")
    expect(page.locator(".cal-list")).to_contain_text("Pending approval")
    assert_accessible(page)
    shot("en-list")
