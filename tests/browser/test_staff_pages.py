"""Every staff page at 390 px and 1280 px, in English and German.

The pages are the GET routes under /staff that take no arguments, read from the
app's URL map (a new page is walked without touching this file), plus one
booking, client, service, provider, working-hours and days-off page. On each:
nothing scrolls sideways, axe finds nothing serious or critical, the sidebar
(or the phone menu) marks the page's entry, and a screenshot goes to
test-artifacts/staff-<viewport>/.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from portal import create_app
from portal.booking.models import Booking
from portal.businesses.models import Business
from portal.catalog.models import Provider, Service
from tests.browser.conftest import STAFF_EMAIL, STAFF_PASSWORD
from tests.browser.support import (
    Screenshots,
    assert_accessible,
    page_errors,
    sign_in_staff,
)
from tests.conftest import NOW, OWNER_EMAIL, OWNER_PASSWORD
from tests.factories import make_booking

VIEWPORTS = pytest.mark.parametrize("viewport", ["phone", "desktop"])
LANGUAGES = pytest.mark.parametrize("lang", ["en", "de"])
#: Pages under /staff that are not pages of the signed-in staff area: sign-in steps, downloads.
NOT_WALKED = {
    "staff_auth.login",
    "staff_auth.reset_request",
    "staff_auth.two_factor",
    "audit.export_csv",
    "retention.export_csv",
}
#: Pages whose sidebar entry has another address than theirs.
ENTRY_OF = {"/staff/cancellation-policy": "/staff/terms"}
WIDEST_ELEMENTS = """() => [...document.querySelectorAll("body *")]
    .filter(el => el.getBoundingClientRect().right > window.innerWidth)
    .map(el => el.tagName + "." + el.className + " " + Math.round(el.getBoundingClientRect().right))
    .slice(0, 8)"""


def staff_paths() -> list[str]:
    """The staff area's pages without arguments, as the app's URL map lists them."""
    app = create_app({"TESTING": True})
    paths = {
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/staff")
        and "GET" in rule.methods
        and not rule.arguments
        and rule.endpoint not in NOT_WALKED
    }
    return sorted(paths)


@pytest.fixture(scope="module")
def rows(portal) -> dict[str, int]:
    """A booking (with its client) tomorrow, for the pages that show one row."""
    with portal.session() as session:
        business = session.get(Business, portal.ids["business"])
        booking = make_booking(
            session,
            business=business,
            service=session.get(Service, portal.ids["service"]),
            provider=session.get(Provider, portal.ids["provider"]),
            start=NOW + timedelta(days=1, hours=3),
            name="Mia Example",
        )
        session.commit()
        return {"booking": booking.id, "client": session.get(Booking, booking.id).client_id}


def pages_to_walk(portal, rows) -> list[str]:
    provider, service = portal.ids["provider"], portal.ids["service"]
    return [
        *staff_paths(),
        f"/staff/bookings/{rows['booking']}",
        f"/staff/clients/{rows['client']}",
        f"/staff/services/{service}",
        f"/staff/providers/{provider}",
        f"/staff/providers/{provider}/hours",
        f"/staff/providers/{provider}/days-off",
    ]


def choose_language(page: Page, lang: str) -> None:
    """Pick the language in the footer, as a person does (kept for the session)."""
    if lang == "en":
        return
    page.get_by_role("navigation", name="Language").get_by_role("link", name="Deutsch").click()
    expect(page.locator("html")).to_have_attribute("lang", lang)


def visible_nav(page: Page, viewport: str):
    """The staff navigation a person sees: the sidebar, or the phone menu opened."""
    if viewport == "phone":
        expect(page.locator(".staff-sidebar")).to_be_hidden()
        menu = page.locator("details.staff-menu")
        expect(menu).not_to_have_attribute("open", "")  # closed until asked
        menu.locator("summary").click()
        return menu.locator(".staff-nav")
    expect(page.locator("details.staff-menu")).to_be_hidden()
    return page.locator(".staff-sidebar .staff-nav")


def assert_fits(page: Page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert width <= 0, f"{page.url} scrolls {width}px sideways: {page.evaluate(WIDEST_ELEMENTS)}"


def slug_of(path: str) -> str:
    return path.strip("/").replace("/", "-").replace("staff", "", 1).strip("-") or "dashboard"


@VIEWPORTS
@LANGUAGES
def test_every_staff_page_fits_is_accessible_and_marks_its_entry(
    page, portal, rows, viewport, lang, console
):
    shot = Screenshots(page, f"staff-{viewport}")
    sign_in_staff(page, OWNER_EMAIL, OWNER_PASSWORD)
    expect(page).to_have_url(f"{portal.url}/staff/")
    choose_language(page, lang)
    problems = []
    for path in pages_to_walk(portal, rows):
        response = page.goto(path)
        assert response is not None and response.ok, f"{path}: {response and response.status}"
        assert_fits(page)
        assert_accessible(page)
        shot(f"{lang}-{slug_of(path)}")
        nav = visible_nav(page, viewport)
        current = nav.locator('a[aria-current="page"]')
        expect(current).to_have_count(1)
        expect(current).to_be_visible()
        href = current.get_attribute("href")
        wanted = ENTRY_OF.get(path, path)
        if not (wanted == href or (href != "/staff/" and wanted.startswith(href))):
            problems.append(f"{path}: the entry marked is {href}")
        if viewport == "phone" and path == "/staff/":
            assert_accessible(page)  # the open menu too
            shot(f"{lang}-menu-open")
    assert not problems, "\n".join(problems)
    assert page_errors(console) == []


@VIEWPORTS
def test_staff_members_see_no_owner_groups_and_can_sign_out(page, portal, viewport):
    sign_in_staff(page, STAFF_EMAIL, STAFF_PASSWORD)
    expect(page).to_have_url(f"{portal.url}/staff/")
    nav = visible_nav(page, viewport)
    labels = [text.strip() for text in nav.locator("a").all_inner_texts()]
    assert labels == [
        "Dashboard",
        "Bookings",
        "Clients",
        "Password",
        "Two-factor",
        "Passkeys",
        "Notifications",
    ]
    expect(nav).not_to_contain_text("Settings")
    expect(nav).not_to_contain_text("Security & data")
    expect(nav.locator('a[aria-current="page"]')).to_have_text("Dashboard")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Staff sign-in")).to_be_visible()


def test_owner_sees_every_group_in_order(page, portal):
    sign_in_staff(page, OWNER_EMAIL, OWNER_PASSWORD)
    nav = visible_nav(page, "desktop")
    titles = nav.locator(".nav-group-title").all_inner_texts()
    assert [t.strip().lower() for t in titles] == [
        "calendar & bookings",
        "settings",
        "security & data",
        "my account",
    ]
    expect(nav.get_by_role("link", name="Failed e-mails")).to_be_visible()
    expect(nav.get_by_role("link", name="HIPAA")).to_be_visible()


#: ``--bad`` (#b42318) as the browser computes it.
RED = "rgb(180, 35, 24)"


def test_invalid_number_and_password_fields_show_the_red_border(page, portal):
    sign_in_staff(page, OWNER_EMAIL, OWNER_PASSWORD)
    page.goto("/staff/business")
    page.get_by_label("Minimum notice", exact=True).fill("-5")
    page.get_by_role("button", name="Save").click()
    summary = page.locator(".error-summary")
    expect(summary.get_by_role("link")).to_have_count(1)
    expect(page.locator("#min_notice_minutes")).to_have_css("border-top-color", RED)
    summary.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"#min_notice_minutes$"))

    page.goto("/staff/account/password")
    page.get_by_label("Current password").fill("not my password at all")
    page.get_by_label("New password", exact=True).fill("x")
    page.get_by_label("Repeat the new password").fill("y")
    page.get_by_role("button", name="Save the password").click()
    invalid = page.locator('input[type=password][aria-invalid="true"]')
    expect(invalid.first).to_be_visible()
    for index in range(invalid.count()):
        expect(invalid.nth(index)).to_have_css("border-top-color", RED)
