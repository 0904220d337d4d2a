"""What the owner controls about passkeys: the Security page, the Team page, the HIPAA page.

Passkeys are added through the domain with the software authenticator of
``tests/webauthn_authenticator.py`` (real keys, real signatures, verified by
py_webauthn): the sign-in ceremonies themselves are tested elsewhere.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.accounts import passkeys
from portal.accounts.models import Passkey, RecoveryCode, SecuritySettings
from portal.accounts.passkeys import RelyingParty
from portal.audit.service import Origin
from tests.conftest import NOW, OWNER_EMAIL, OWNER_PASSWORD, csrf_token, sign_in
from tests.test_hipaa import SECURE, SECURE_POST
from tests.test_staff_2fa import enrol, enter_code
from tests.test_staff_signin import (
    STAFF_EMAIL,
    events,
    is_signed_in,
    mails,
    page_token,
    reload,
    save_security,
)
from tests.webauthn_authenticator import SoftAuthenticator


def give_passkey(app, session, user, name: str = "office laptop") -> list[str] | None:
    """Add a passkey to ``user`` as the passkeys page would; the recovery codes it gave."""
    rp = RelyingParty.from_base_url(app.config["BASE_URL"])
    binding = passkeys.new_binding()
    with app.test_request_context():
        options = passkeys.registration_options(session, user, rp, binding, NOW)
        response = SoftAuthenticator().register(options, rp.origin)
        added = passkeys.add_passkey(session, user, response, name, rp, binding, NOW, Origin())
    session.commit()
    return added.recovery_codes


def stored_settings(session, business) -> SecuritySettings:
    session.rollback()
    return session.get(SecuritySettings, business.id)


# --- The Security page ------------------------------------------------------------------


def test_the_security_page_offers_the_passkey_policy_and_client_passkeys(owner_client):
    page = owner_client.get("/staff/security")
    assert page.status_code == 200
    assert "Phishing-resistant sign-in (passkeys) required for" in page.text
    for value in ("optional", "owners", "all"):
        assert f'name="passkey_policy" type="radio" value="{value}"' in page.text
    # Nobody by default.
    assert (
        '<input checked id="passkey_policy-0" name="passkey_policy" type="radio" value="optional">'
        in page.text
    )
    assert "cannot be typed into a fake sign-in page" in page.text
    assert "Clients may add a passkey" in page.text
    assert "Only while clients may create accounts" in page.text


def test_requiring_passkeys_is_saved_audited_and_the_owner_is_told_what_follows(
    owner_client, session, salon, owner
):
    response = save_security(owner_client, passkey_policy="owners", client_passkeys_enabled=True)
    assert response.status_code == 302
    settings = stored_settings(session, salon.business)
    assert settings.passkey_policy == "owners"
    assert settings.client_passkeys_enabled is True
    [change] = events(session, "settings.changed")
    assert change.details["changes"]["passkey_policy"] == ["optional", "owners"]
    assert change.details["changes"]["client_passkeys_enabled"] == [False, True]
    page = owner_client.get("/staff/security")
    assert "Saved 2 change(s)." in page.text
    assert "Passkeys are now required, and you have none yet" in page.text
    # The rule applies at once: the owner adds a passkey first, but may set the rule back.
    assert owner_client.get("/staff/audit").headers["Location"] == "/staff/account/passkeys"
    assert save_security(owner_client, passkey_policy="optional").status_code == 302
    log = owner_client.get("/staff/audit").text
    assert "passkeys required for" in log and "client passkeys" in log


def test_an_owner_with_a_passkey_hears_that_staff_will_be_asked(
    app, owner_client, session, salon, owner
):
    give_passkey(app, session, owner)
    assert save_security(owner_client, passkey_policy="all").status_code == 302
    assert stored_settings(session, salon.business).passkey_policy == "all"
    page = owner_client.get("/staff/security").text
    assert "Staff who must use a passkey and have none are asked to add one" in page
    assert "you have none yet" not in page


@pytest.mark.parametrize("value", ["everyone", "", "ALL", "owners; drop table"])
def test_an_unknown_policy_is_refused_with_a_message(owner_client, session, salon, value):
    response = save_security(owner_client, passkey_policy=value)
    assert response.status_code == 422
    assert "Choose nobody, owners or all staff." in response.text
    assert stored_settings(session, salon.business) is None or (
        stored_settings(session, salon.business).passkey_policy == "optional"
    )
    assert events(session, "settings.changed") == []


def test_an_address_without_a_domain_cannot_require_passkeys(app, owner_client, session, salon):
    app.config["BASE_URL"] = "http://192.0.2.10"
    response = save_security(owner_client, passkey_policy="all")
    assert response.status_code == 422
    assert "Passkeys need a domain name in PORTAL_BASE_URL" in response.text
    assert events(session, "settings.changed") == []


# --- The Team page -----------------------------------------------------------------------


def test_the_team_page_shows_each_members_second_factors(
    app, owner_client, session, owner, staff_member
):
    enrol(session, app, staff_member)
    give_passkey(app, session, staff_member, "phone")
    give_passkey(app, session, staff_member, "laptop")
    page = owner_client.get("/staff/team").text
    row = page.split(STAFF_EMAIL, 1)[1].split("</tr>", 1)[0]
    assert "App + passkey" in row
    assert '<td data-label="Passkeys">\n            2' in row
    assert f'action="/staff/team/{staff_member.id}/reset-passkeys"' in row
    assert f'action="/staff/team/{staff_member.id}/reset-2fa"' in row
    owner_row = page.split(OWNER_EMAIL, 1)[1].split("</tr>", 1)[0]
    assert ">Off<" in owner_row
    assert "reset-passkeys" not in owner_row and "reset-2fa" not in owner_row


def test_a_member_with_only_a_passkey_reads_passkey(app, owner_client, session, staff_member):
    give_passkey(app, session, staff_member)
    row = owner_client.get("/staff/team").text.split(STAFF_EMAIL, 1)[1].split("</tr>", 1)[0]
    assert ">Passkey<" in row
    assert "reset-2fa" not in row  # no app to reset


def reset_passkeys(client, user, password: str):
    return client.post(
        f"/staff/team/{user.id}/reset-passkeys",
        data={"csrf_token": page_token(client, "/staff/"), "password": password},
    )


def test_the_owner_resets_a_members_passkeys_only_with_the_right_password(
    app, client, session, owner, staff_member
):
    staff_client = app.test_client()
    assert sign_in(staff_client, STAFF_EMAIL, "velvet harbour cinnamon 77").status_code == 302
    give_passkey(app, session, staff_member)
    assert sign_in(client).status_code == 302

    refused = reset_passkeys(client, staff_member, "not my password at all")
    assert refused.status_code == 303
    assert "Your password was not correct." in client.get("/staff/team").text
    assert len(reload(session, staff_member).passkeys) == 1
    assert events(session, "passkey.reset") == []
    assert is_signed_in(staff_client)
    assert mails(app) == []

    empty = reset_passkeys(client, staff_member, "")
    assert empty.status_code == 303
    assert "Enter your password to confirm the reset." in client.get("/staff/team").text
    assert len(reload(session, staff_member).passkeys) == 1

    done = reset_passkeys(client, staff_member, OWNER_PASSWORD)
    assert done.status_code == 303 and done.headers["Location"] == "/staff/team"
    assert f"The passkeys of {STAFF_EMAIL} are removed" in client.get("/staff/team").text
    session.rollback()
    assert session.scalars(select(Passkey)).all() == []
    # Without an app, the recovery codes that stood in for the passkey go too.
    assert session.scalars(select(RecoveryCode)).all() == []
    [reset] = events(session, "passkey.reset")
    assert reset.actor_id == owner.id
    assert reset.details == {"user": STAFF_EMAIL, "removed": 1}
    [message] = mails(app)
    assert message["To"] == f"Sam Staff <{STAFF_EMAIL}>"
    assert message["Subject"] == "Your passkeys were removed"
    assert "removed all passkeys of your account" in message.get_body(("plain",)).get_content()
    assert not is_signed_in(staff_client)
    assert is_signed_in(client)


def test_staff_members_cannot_reset_passkeys(app, staff_client, session, owner, staff_member):
    give_passkey(app, session, owner)
    response = reset_passkeys(staff_client, owner, "velvet harbour cinnamon 77")
    assert response.status_code == 403
    assert len(reload(session, owner).passkeys) == 1


# --- The HIPAA page --------------------------------------------------------------------------


def test_the_hipaa_page_counts_passkeys_as_two_factor(app, client, session, salon, owner):
    codes = give_passkey(app, session, owner)
    assert sign_in(client).headers["Location"] == "/staff/2fa"
    assert enter_code(client, codes[0]).status_code == 302  # a recovery code: no app here
    page = client.get("/staff/hipaa/", **SECURE).text
    assert "a code from an authenticator app or a passkey; all of them already do." in page
    # The switch still asks an app code: said before the owner tries.
    assert 'id="hipaa-app-code-needed"' in page
    assert "Switching HIPAA mode needs a code from an authenticator app" in page
    assert "Set up two-factor sign-in for your own account first." not in page

    switched = client.post(
        "/staff/hipaa/switch",
        data={
            "csrf_token": csrf_token(page),
            "enable": "on",
            "password": OWNER_PASSWORD,
            "code": "123456",
        },
        **SECURE_POST,
    )
    assert switched.status_code == 403
    assert "a passkey cannot confirm it" in switched.text
    session.rollback()
    assert events(session, "hipaa.enabled") == []


def test_the_hipaa_checklist_says_how_many_use_a_passkey(
    app, client, session, salon, owner, staff_member
):
    from tests.test_hipaa import set_hipaa

    secret, _codes = enrol(session, app, owner)
    give_passkey(app, session, staff_member)
    set_hipaa(session, salon.business)
    from tests.test_hipaa import owner_signs_in

    owner_signs_in(client, secret)
    page = client.get("/staff/hipaa/", **SECURE).text
    assert "Enrolled: all staff." in page
    assert "An authenticator app or a passkey counts; 1 of 2 use a passkey" in page
