"""A staff member turns on two-factor sign-in, then signs in with password and app code.

The code comes from pyotp with the key the enrolment page shows as text (what
a person types into an authenticator app when they cannot scan the QR code),
at the server's clock.
"""

from __future__ import annotations

import re

import pyotp
from playwright.sync_api import expect

from tests.browser.conftest import STAFF_EMAIL, STAFF_PASSWORD
from tests.browser.support import page_errors, sign_in_staff

CODE_FAILED = "That code was not accepted."


def test_staff_enrol_2fa_then_sign_in_with_password_and_code(page, portal, shot, console):
    sign_in_staff(page, STAFF_EMAIL, STAFF_PASSWORD)
    staff_area = page.get_by_role("navigation", name="Staff area")
    expect(staff_area).to_be_visible()
    shot("staff-signed-in-with-password")

    staff_area.get_by_role("link", name="Two-factor").click()
    expect(page.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()
    expect(page.locator("figure.qr svg")).to_be_visible()
    key = page.locator("#totp-secret").inner_text().replace(" ", "")
    app = pyotp.TOTP(key)
    shot("staff-2fa-enrolment")

    page.get_by_label("6-digit code shown by the app").fill(app.at(portal.now()))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_role("heading", name="Two-factor sign-in is on")).to_be_visible()
    expect(page.locator("#recovery-codes").get_by_role("listitem")).to_have_count(10)
    shot("staff-2fa-recovery-codes")
    page.get_by_role("link", name="I have saved them – continue").click()
    expect(staff_area).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Staff sign-in")).to_be_visible()
    expect(staff_area).to_have_count(0)

    # The password alone is no longer enough: it leads to the code step.
    sign_in_staff(page, STAFF_EMAIL, STAFF_PASSWORD)
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    expect(staff_area).to_have_count(0)
    shot("staff-2fa-code-step")
    code_field = page.get_by_label("6-digit code from your authenticator app")
    # The code of the step after the one used to enrol: a used code is never accepted again.
    code = app.at(portal.now(), counter_offset=1)
    valid_now = {app.at(portal.now(), counter_offset=offset) for offset in (-1, 0, 1, 2)}
    wrong = next(guess for guess in ("000000", "111111", "222222") if guess not in valid_now)
    code_field.fill(wrong)
    page.get_by_role("button", name="Verify").click()
    # The message belongs to the field: screen readers read it with the field.
    expect(code_field).to_have_attribute("aria-invalid", "true")
    expect(code_field).to_have_accessible_description(re.compile(re.escape(CODE_FAILED)))
    expect(staff_area).to_have_count(0)
    shot("staff-2fa-wrong-code")

    page.get_by_label("6-digit code from your authenticator app").fill(code)
    page.get_by_role("button", name="Verify").click()
    expect(staff_area).to_be_visible()
    expect(page).to_have_url(f"{portal.url}/staff/")
    shot("staff-signed-in-with-code")
    assert page_errors(console) == []
