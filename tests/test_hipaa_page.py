"""The HIPAA page explains before it checks; the security page and the support console say why."""

from __future__ import annotations

from sqlalchemy import select

from portal.accounts.models import SecuritySettings
from tests.conftest import csrf_token
from tests.test_hipaa import SECURE, SECURE_POST, enrolled_owner, owner_signs_in, set_hipaa
from tests.test_staff_signin import STAFF_EMAIL, make_staff, save_security
from tests.test_support import (
    open_business,
    set_compliance,
    support_secret,
    support_signs_in,
)

__all__ = ["enrolled_owner", "support_secret"]  # fixtures used by the tests below

SECURITY_FORM = {
    "idle_timeout_minutes": "10",
    "password_min_length": "12",
    "password_min_strength": "2",
    "lockout_attempts": "5",
    "lockout_mode": "timed",
    "lockout_minutes": "15",
}


# -- the HIPAA page --------------------------------------------------------------------------


def test_a_business_without_hipaa_sees_what_switching_on_does_not_failures(
    client, session, salon, enrolled_owner
):
    make_staff(session, salon.business)
    owner_signs_in(client, enrolled_owner)
    page = client.get("/staff/hipaa/")
    assert page.status_code == 200
    assert "HIPAA mode is off." in page.text
    assert "What switching it on does" in page.text
    assert "Not in force" not in page.text
    assert "hipaa-checklist" not in page.text
    assert "not-met" not in page.text
    # Said for this business as it is: who still needs 2FA, what the idle limit becomes.
    assert f"(they are asked at their next sign-in): {STAFF_EMAIL}." in page.text
    assert "Staff are signed out after 15 minutes without activity (now: 30 minutes)." in page.text
    assert "Platform support can no longer open your account" in page.text
    # The switch is right there.
    assert "Switch HIPAA mode on" in page.text
    assert 'action="/staff/hipaa/switch"' in page.text


def test_with_hipaa_on_the_page_is_the_checklist(client, session, salon, enrolled_owner):
    owner_signs_in(client, enrolled_owner)
    set_hipaa(session, salon.business)
    page = client.get("/staff/hipaa/", **SECURE)
    assert page.status_code == 200
    assert "HIPAA mode is on" in page.text
    assert "hipaa-checklist" in page.text
    assert "What switching it on does" not in page.text
    assert "Switch HIPAA mode off" in page.text


def test_staff_who_are_not_the_owner_cannot_see_the_hipaa_page(staff_client):
    assert staff_client.get("/staff/hipaa/").status_code == 403


# -- the security page -----------------------------------------------------------------------


def test_without_hipaa_the_owner_chooses_two_factor_sign_in(owner_client):
    page = owner_client.get("/staff/security").text
    assert 'name="require_2fa" type="checkbox"' in page
    assert "HIPAA mode is on" not in page


def test_hipaa_mode_shows_what_it_forces_as_facts_not_a_checkbox(
    client, session, salon, enrolled_owner
):
    owner_signs_in(client, enrolled_owner)
    assert save_security(client, require_2fa=True).status_code == 302
    set_hipaa(session, salon.business)
    client.environ_base["wsgi.url_scheme"] = "https"
    page = client.get("/staff/security", **SECURE)
    assert page.status_code == 200
    assert 'type="checkbox"' not in page.text.split('name="require_2fa"')[0][-80:]
    assert 'name="require_2fa" type="checkbox"' not in page.text
    assert "Two-factor sign-in is required for every staff member: HIPAA mode is on." in page.text
    assert "at most 15 minutes without activity: HIPAA mode is on." in page.text

    # Saving the form keeps the owner's own choice for when HIPAA mode is off again.
    response = client.post(
        "/staff/security",
        data={"csrf_token": csrf_token(page.text), "require_2fa": "y", **SECURITY_FORM},
        **SECURE_POST,
    )
    assert response.status_code == 302
    session.rollback()
    settings = session.scalars(
        select(SecuritySettings).where(SecuritySettings.business_id == salon.business.id)
    ).one()
    assert (settings.require_2fa, settings.idle_timeout_minutes) == (True, 10)


# -- the support console ---------------------------------------------------------------------


def test_the_console_offers_open_only_where_support_is_allowed(
    client, session, salon, rival, owner, support_secret
):
    set_compliance(session, salon.business, hipaa_mode=True)
    support_signs_in(client, support_secret)
    page = client.get("/support/").text
    assert "Refuses platform support: HIPAA mode is on." in page
    assert 'action="/support/open/salon"' not in page
    assert 'action="/support/open/rival"' in page

    set_compliance(session, salon.business, hipaa_mode=False, support_access=False)
    page = client.get("/support/").text
    assert "Refuses platform support: the owner has switched support access off." in page
    assert 'action="/support/open/salon"' not in page
    # Posting anyway is still refused and audited, as before.
    assert open_business(client, "salon").status_code == 403


def test_the_console_offers_open_for_a_business_that_allows_support(
    client, session, salon, owner, support_secret
):
    support_signs_in(client, support_secret)
    page = client.get("/support/").text
    assert 'action="/support/open/salon"' in page
    assert "Refuses platform support" not in page
