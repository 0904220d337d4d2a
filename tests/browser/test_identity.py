"""The business's identity in a browser: logo, colour and contact details; long German words.

At a phone (390x844) and a desktop (1280x800), in English and German, the
services page shows the salon's logo and name on top, its accent colour on
the buttons and its address, phone, e-mail and website below; at 320 px no
page scrolls sideways in either language, even under "Stornierungsbedingungen".
Screenshots go to test-artifacts/<viewport>/.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect

from portal.accounts.models import StaffUser
from portal.audit.service import SYSTEM
from portal.branding.logos import checked_logo
from portal.branding.service import replace_logo
from portal.businesses.models import Business
from tests.browser.support import blocking_violations, describe, page_errors, sign_in_staff
from tests.conftest import NOW, OWNER_EMAIL, OWNER_PASSWORD

ACCENT = "#2e6b4e"
#: The accent as the browser computes it (rgb() of #2e6b4e).
ACCENT_RGB = "rgb(46, 107, 78)"
LANGUAGES = pytest.mark.parametrize("language", ["en", "de"])
#: Which elements stick out past the right edge of the screen (for the failure message).
WIDEST_ELEMENTS = """() => [...document.querySelectorAll("body *")]
    .filter(el => el.getBoundingClientRect().right > document.documentElement.clientWidth)
    .map(el => el.tagName + "." + el.className + " " + Math.round(el.getBoundingClientRect().right))
    .slice(0, 8)"""


def logo_png() -> bytes:
    """A made-up logo: a green rounded square with a white leaf, on a transparent ground."""
    image = Image.new("RGBA", (400, 400), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, 399, 399), radius=80, fill=(46, 107, 78, 255))
    draw.ellipse((110, 70, 290, 330), fill=(255, 255, 255, 255))
    draw.line((200, 90, 200, 330), fill=(46, 107, 78, 255), width=14)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def identity(portal):
    """The salon with an address, phone, e-mail, website, accent colour and logo."""
    with portal.session() as session:
        business = session.get(Business, portal.ids["business"])
        business.address = "Lindenstraße 12\n10969 Berlin"
        business.phone = "+49 30 1234567"
        business.contact_email = "hallo@salon.example"
        business.website = "https://www.salon.example"
        business.accent_color = ACCENT
        owner = session.get(StaffUser, portal.ids["owner"])
        replace_logo(session, business, checked_logo(logo_png()), owner, NOW, SYSTEM)
        session.commit()


def open_services(page: Page, language: str) -> None:
    page.goto(f"/b/salon/?lang={language}")  # the visitor's choice, kept in the session
    expect(page.get_by_role("heading", level=1)).to_be_visible()


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
@LANGUAGES
def test_the_services_page_shows_logo_colour_and_contact_details(
    page, portal, identity, viewport, language, shot, console
):
    open_services(page, language)
    header = page.locator("header.site-header")
    logo = header.locator("img.brand-logo")
    expect(logo).to_be_visible()
    assert page.evaluate("img => img.naturalWidth > 0", logo.element_handle())
    expect(header.get_by_role("link", name="Salon Test")).to_be_visible()
    box = logo.bounding_box()
    assert box and box["height"] <= 48  # a header logo, not a banner

    button = page.locator("main .button").first
    assert button.evaluate("el => getComputedStyle(el).color") == ACCENT_RGB

    contact = page.locator("footer address.identity-contact")
    expect(contact).to_contain_text("Lindenstraße 12")
    expect(contact).to_contain_text("10969 Berlin")
    expect(contact.locator('a[href="tel:+49301234567"]')).to_be_visible()
    expect(contact.locator('a[href="mailto:hallo@salon.example"]')).to_be_visible()
    expect(contact.locator('a[href="https://www.salon.example"]')).to_be_visible()
    contact.scroll_into_view_if_needed()
    shot(f"identity-services-{language}")

    violations = blocking_violations(page)
    assert not violations, describe(violations)
    assert page_errors(console) == []


@pytest.mark.parametrize("viewport", ["narrow"])
@LANGUAGES
def test_no_page_scrolls_sideways_at_320_pixels(page, portal, identity, viewport, language, shot):
    """Long German words ("Stornierungsbedingungen") wrap; the contact block fits too."""
    open_services(page, language)
    too_wide = {}
    for name, path in {
        "services": "/b/salon/",
        "terms": "/b/salon/terms",
        "policy": "/b/salon/cancellation-policy",
        "staff-sign-in": "/staff/login",
    }.items():
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        shot(f"narrow-{language}-{name}")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 320:
            too_wide[name] = width
    assert too_wide == {}


def test_the_policy_heading_is_german_and_wraps_inside_the_screen(page, portal, identity, shot):
    """The page the issue saw push a 320 px screen wider: its heading stays inside it."""
    page.set_viewport_size({"width": 320, "height": 640})
    page.goto("/b/salon/cancellation-policy?lang=de")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text("Stornierungsbedingungen")
    # The word wraps inside the heading's box rather than spilling out of it.
    assert heading.evaluate("el => el.scrollWidth <= el.clientWidth")
    box = heading.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 320


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_the_owner_sets_logo_and_colour_on_the_profile_page(
    page, portal, identity, viewport, shot, console, tmp_path
):
    sign_in_staff(page, OWNER_EMAIL, OWNER_PASSWORD)
    page.goto("/staff/profile")
    expect(page.get_by_role("heading", name="Business profile", level=1)).to_be_visible()
    expect(page.get_by_role("img", name="Your current logo")).to_be_visible()

    # A colour too light to read is refused, and a darker one of the same hue offered.
    page.get_by_label("Accent colour (optional)").fill("#f5c400")
    page.get_by_role("button", name="Save", exact=True).click()
    # Said twice: in the error summary (a link to the field) and under the field.
    summary = page.locator(".error-summary")
    expect(summary.get_by_role("link", name="#f5c400 is too light", exact=False)).to_be_visible()
    expect(page.get_by_text("#f5c400 is too light")).to_have_count(2)
    offered = page.get_by_label("Accent colour (optional)").input_value()
    assert offered != "#f5c400" and offered.startswith("#")
    shot("profile-colour-refused")

    # An SVG is refused with a message; a PNG is taken.
    svg = tmp_path / "logo.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
    page.get_by_label("Logo image (PNG, JPEG or WebP, up to 2 MB)").set_input_files(str(svg))
    page.get_by_role("button", name="Upload a new logo").click()
    expect(page.get_by_text("is not a PNG, JPEG or WebP image we can read")).to_be_visible()
    shot("profile-logo-refused")
    png = tmp_path / "logo.png"
    png.write_bytes(logo_png())
    page.get_by_label("Logo image (PNG, JPEG or WebP, up to 2 MB)").set_input_files(str(png))
    page.get_by_role("button", name="Upload a new logo").click()
    expect(page.get_by_text("Your logo is saved.")).to_be_visible()
    shot("profile-saved")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], page.evaluate(WIDEST_ELEMENTS)
    violations = blocking_violations(page)
    assert not violations, describe(violations)
    assert page_errors(console) == []
