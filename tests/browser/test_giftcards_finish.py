"""Gift card pages at 390 px and 1280 px, English and German: history, void, switching off.

Nothing scrolls sideways, axe finds nothing serious or critical; screenshots
go to test-artifacts/giftcards-<viewport>/.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from portal.businesses.models import Business
from portal.catalog.models import Provider, Service
from portal.giftcards.models import GiftCard
from tests.browser.support import Screenshots, assert_accessible, page_errors, sign_in_staff
from tests.conftest import NOW, OWNER_EMAIL, OWNER_PASSWORD
from tests.factories import enable_gift_cards, make_booking, redeem_gift_card


@pytest.fixture(scope="module")
def cards(portal) -> dict[str, int]:
    """A card that paid for a booking, and a second one with its whole balance left."""
    with portal.session() as session:
        business = session.get(Business, portal.ids["business"])
        enable_gift_cards(session, business, NOW)
        booking = make_booking(
            session,
            business=business,
            service=session.get(Service, portal.ids["service"]),
            provider=session.get(Provider, portal.ids["provider"]),
            start=NOW + timedelta(days=2),
            name="Gina Gift",
        )
        used = redeem_gift_card(session, booking, "BROWSERCARD0001", created_at=NOW)
        full = GiftCard(
            business_id=business.id,
            code="BROWSERCARD0002",
            value_cents=2500,
            balance_cents=2500,
            expires_on=date(2026, 12, 31),
            status="active",
            note="Raffle prize",
            created_at=NOW,
        )
        session.add(full)
        session.commit()
        return {"used": used.id, "full": full.id}


def fits(page: Page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert width <= 0, f"{page.url} scrolls {width}px sideways"


def choose_language(page: Page, lang: str) -> None:
    if lang == "de":
        page.get_by_role("navigation", name="Language").get_by_role("link", name="Deutsch").click()
        expect(page.locator("html")).to_have_attribute("lang", "de")


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
@pytest.mark.parametrize("lang", ["en", "de"])
def test_gift_card_pages_fit_and_are_accessible(page, portal, cards, viewport, lang, console):
    shot = Screenshots(page, f"giftcards-{viewport}")
    sign_in_staff(page, OWNER_EMAIL, OWNER_PASSWORD)
    expect(page).to_have_url(f"{portal.url}/staff/")
    choose_language(page, lang)
    for name, path in (
        ("list", "/staff/gift-cards/"),
        ("card", f"/staff/gift-cards/{cards['used']}"),
        ("switch-off", "/staff/gift-cards/switch-off"),
    ):
        response = page.goto(path)
        assert response is not None and response.ok, f"{path}: {response and response.status}"
        fits(page)
        assert_accessible(page)
        shot(f"{lang}-{name}")
    assert page_errors(console) == []


def test_the_owner_voids_a_card_from_its_page(page, portal, cards):
    sign_in_staff(page, OWNER_EMAIL, OWNER_PASSWORD)
    page.goto(f"/staff/gift-cards/{cards['full']}")
    page.get_by_role("button", name="Void the card").click()
    expect(page.locator(".has-error")).to_contain_text("Say why the card is voided.")
    page.get_by_label("Reason").fill("Reported lost by the winner.")
    page.get_by_role("button", name="Void the card").click()
    expect(page.get_by_role("status")).to_contain_text("is void")
    expect(page.locator("#card-history")).to_contain_text("Voided: balance forfeited")
    expect(page.locator(".details")).to_contain_text("Forfeited when voided")
    Screenshots(page, "giftcards-desktop")("en-card-voided")
    assert_accessible(page)
