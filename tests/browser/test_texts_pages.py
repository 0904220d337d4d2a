"""The policy editor's preview and the readable audit log, at 390 px and 1280 px.

Screenshots go to test-artifacts/texts-<viewport>/.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.support import Screenshots, assert_accessible, sign_in_staff
from tests.conftest import OWNER_EMAIL, OWNER_PASSWORD

VIEWPORTS = pytest.mark.parametrize("viewport", ["phone", "desktop"])
SIDEWAYS = "() => document.documentElement.scrollWidth > window.innerWidth"


@VIEWPORTS
def test_the_owner_previews_the_policy_and_reads_the_audit_log(page: Page, viewport):
    shots = Screenshots(page, f"texts-{viewport}")
    sign_in_staff(page, OWNER_EMAIL, OWNER_PASSWORD)
    page.goto("/staff/cancellation-policy")
    page.get_by_label("Your own sentence (optional)").first.fill(
        "Missed appointments may be charged at half the price."
    )
    page.get_by_label("Refunds").first.fill("Deposits come back **within 5 days**.\n\n- by card")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#preview")
    expect(preview).to_contain_text("Not saved yet")
    expect(preview).to_contain_text(
        "You can cancel or move your booking online until 24 hours before it starts"
    )
    expect(preview.locator("strong")).to_have_text("within 5 days")
    assert not page.evaluate(SIDEWAYS)
    assert_accessible(page)
    shots("policy-preview")

    page.goto("/staff/audit")
    first = page.locator(".audit-event").first
    expect(first.locator(".audit-sentence")).to_contain_text("Olivia Owner signed in.")
    first.locator("summary").click()
    expect(first.locator(".audit-json")).to_be_visible()
    assert not page.evaluate(SIDEWAYS)
    assert_accessible(page)
    shots("audit-log")
