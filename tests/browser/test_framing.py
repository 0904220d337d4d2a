"""The portal inside an iframe: works on a site the owner allowed, blocked on any other.

The other websites are http.server pages on 127.0.0.1 at ports of their own
(other origins than the portal's); the browser enforces the portal's
``frame-ancestors`` policy.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from portal.businesses.models import Business
from tests.browser.support import page_errors, sign_in_staff
from tests.conftest import OWNER_EMAIL, OWNER_PASSWORD

FRAME_TITLE = "Book with Salon Test"


def host_page(body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>Our salon</title></head><body><h1>Welcome to our salon</h1>"
        f"{body}</body></html>"
    )


def test_the_portal_works_inside_a_frame_on_a_site_the_owner_allowed(
    page, portal, site, shot, console
):
    salon_site = site()
    sign_in_staff(page, OWNER_EMAIL, OWNER_PASSWORD)
    page.get_by_role("navigation", name="Staff area").get_by_role("link", name="Embedding").click()
    page.get_by_label("Sites allowed to embed the booking pages").fill(salon_site.origin)
    page.get_by_role("button", name="Save").click()
    snippet = page.get_by_label("Embed code")
    frame_tag = f'<iframe src="{portal.url}/b/salon/?embed=1" title="{FRAME_TITLE}"'
    expect(snippet).to_have_value(re.compile("^" + re.escape(frame_tag)))
    shot("embedding-settings")

    # The owner pastes the code into a page of their site; a client opens that page.
    salon_site.html = host_page(snippet.input_value())
    page.goto(salon_site.origin)
    frame = page.frame_locator(f'iframe[title="{FRAME_TITLE}"]')
    expect(frame.get_by_role("heading", name="Book an appointment")).to_be_visible()
    expect(frame.get_by_role("banner")).to_have_count(0)  # no header of ours inside the frame
    shot("embedded-services")

    frame.get_by_role("link", name="Choose a time for Haircut").click()
    expect(frame.get_by_role("heading", name="Choose a time", exact=True)).to_be_visible()
    expect(page).to_have_url(f"{salon_site.origin}/")  # the visitor stays on the salon's site
    [portal_frame] = [f for f in page.frames if f.url.startswith(portal.url)]
    assert "embed=1" in portal_frame.url
    shot("embedded-choose-time")
    assert page_errors(console) == []


def test_a_site_the_owner_did_not_allow_cannot_show_the_portal(page, portal, site, shot, console):
    allowed, other = site(), site()
    with portal.session() as session:
        session.get(Business, portal.ids["business"]).embed_origins = allowed.origin
        session.commit()
    other.html = host_page(
        f'<iframe src="{portal.url}/b/salon/?embed=1" title="{FRAME_TITLE}" '
        'width="100%" height="600"></iframe>'
    )
    with page.expect_console_message(lambda message: "frame-ancestors" in message.text) as refusal:
        page.goto(other.origin)
    expect(page.get_by_role("heading", name="Welcome to our salon")).to_be_visible()
    # The browser names the rule it enforced: only the allowed site may frame the portal.
    assert f'"frame-ancestors {allowed.origin}"' in refusal.value.text
    # It shows its own error page in the frame instead of the portal.
    [child] = page.main_frame.child_frames
    child.wait_for_url(re.compile(r"^chrome-error://"))
    frame = page.frame_locator(f'iframe[title="{FRAME_TITLE}"]')
    expect(frame.get_by_role("heading", name="Book an appointment")).to_have_count(0)
    expect(frame.get_by_role("link")).to_have_count(0)
    shot("embedding-refused")
    assert [line for line in page_errors(console) if "frame-ancestors" not in line] == []
