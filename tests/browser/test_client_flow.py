"""A client books, is held to both consents, cancels in time, and is warned when too late.

Each test runs at a phone and at a desktop viewport and saves a screenshot of
every step under test-artifacts/<viewport>/. The salon's policy lets clients
cancel free of charge until 24 hours before the appointment; the server's
clock starts on Monday 2 March 2026, 07:00 in Berlin.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.browser.support import choose_first_time_on, fill_details, manage_link, page_errors

VIEWPORTS = pytest.mark.parametrize("viewport", ["phone", "desktop"])
TERMS_MISSING = "Please accept the terms and conditions to book."
POLICY_MISSING = "Please accept the cancellation policy to book."


def chosen_start(page: Page) -> datetime:
    """The appointment's start, from the details page's address (``start=...Z``)."""
    raw = parse_qs(urlsplit(page.url).query)["start"][0]
    return datetime.fromisoformat(raw.replace("Z", "+00:00"))


@VIEWPORTS
def test_a_client_books_with_both_consents_and_cancels_from_the_email(
    page, portal, shot, console, viewport
):
    email = f"mia.{viewport}@example.com"
    page.goto("/b/salon/")
    expect(page.get_by_role("heading", name="Book an appointment")).to_be_visible()
    shot("services")

    page.get_by_role("link", name="Choose a time for Haircut").click()
    expect(page.get_by_role("heading", name="Choose a time", exact=True)).to_be_visible()
    shot("choose-time")

    time_shown = choose_first_time_on(page, "Wed 4 Mar")
    expect(page.get_by_label("Your appointment")).to_contain_text(time_shown)
    terms = page.get_by_label("I accept the terms and conditions")
    policy = page.get_by_label("I have read and accept the cancellation policy")
    expect(terms).not_to_be_checked()
    expect(policy).not_to_be_checked()
    fill_details(page, email)
    shot("details")

    # Without the two ticks the booking does not go through, and the page says why.
    page.get_by_role("button", name="Confirm booking").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Your booking is not complete yet")
    expect(alert).to_contain_text(TERMS_MISSING)
    expect(alert).to_contain_text(POLICY_MISSING)
    expect(terms).to_have_attribute("aria-invalid", "true")
    expect(policy).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("E-mail")).to_have_value(email)  # typed details are kept
    shot("consents-missing")
    assert portal.mails_to(email) == []

    terms.check()
    policy.check()
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_role("heading", name="Your booking is confirmed")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text(email)
    expect(page.get_by_role("definition").filter(has_text=time_shown)).to_be_visible()
    shot("confirmed")

    # Later, from the e-mail: the link opens the booking, which can still be cancelled.
    confirmation = portal.wait_for_mail(email, "Booking confirmed")
    link = manage_link(confirmation)
    assert link.startswith(portal.url)
    assert urlsplit(link).path == urlsplit(page.url).path
    page.goto(link)
    expect(page.get_by_role("heading", name="Your booking", exact=True)).to_be_visible()
    expect(page.get_by_text("You can cancel free of charge until")).to_be_visible()
    shot("manage")

    page.get_by_role("link", name="Cancel this booking").click()
    expect(page.get_by_role("heading", name="Cancel your booking?")).to_be_visible()
    page.get_by_role("button", name="Yes, cancel the booking").click()
    expect(page.get_by_role("heading", name="Your booking is cancelled")).to_be_visible()
    expect(page.get_by_role("link", name="Cancel this booking")).to_have_count(0)
    shot("cancelled")
    portal.wait_for_mail(email, "Booking cancelled")
    assert page_errors(console) == []


@VIEWPORTS
def test_a_late_cancellation_is_refused_with_a_warning(page, portal, shot, console, viewport):
    email = f"leo.{viewport}@example.com"
    page.goto("/b/salon/")
    page.get_by_role("link", name="Choose a time for Haircut").click()
    # Tuesday morning: on Monday morning it can still be cancelled, but not for long.
    choose_first_time_on(page, "Tue 3 Mar")
    start = chosen_start(page)
    deadline = start - timedelta(hours=24)
    assert portal.now() < deadline
    fill_details(page, email)
    page.get_by_label("I accept the terms and conditions").check()
    page.get_by_label("I have read and accept the cancellation policy").check()
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_role("heading", name="Your booking is confirmed")).to_be_visible()
    page.get_by_role("link", name="Cancel this booking").click()
    cancel = page.get_by_role("button", name="Yes, cancel the booking")
    expect(cancel).to_be_visible()
    shot("late-before-deadline")

    # The client leaves the confirmation open and comes back a minute after the deadline.
    portal.move_clock_to(deadline + timedelta(minutes=1))
    cancel.click()
    warning = page.get_by_role("alert")
    expect(warning).to_contain_text("This booking can no longer be cancelled online")
    expect(warning).to_contain_text("That time has passed, so your booking stands.")
    expect(page.get_by_role("definition").filter(has_text="Confirmed")).to_be_visible()
    shot("late-cancellation-refused")

    # Reloading the booking: it stands, and the form to cancel is gone.
    page.goto(manage_link(portal.wait_for_mail(email, "Booking confirmed")))
    expect(page.get_by_text("The time to cancel online ended at")).to_be_visible()
    expect(page.get_by_role("link", name="Cancel this booking")).to_have_count(0)
    assert [m for m in portal.mails_to(email) if "Booking cancelled" in str(m["Subject"])] == []
    assert page_errors(console) == []
