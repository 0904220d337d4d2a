"""Platform support: created by CLI, allowed and audited, then refused."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from portal.accounts import totp
from portal.audit.models import AuditEvent
from portal.cli import main
from portal.hipaa.models import ComplianceSettings
from tests.conftest import NOW, csrf_token
from tests.test_staff_signin import save_security

SUPPORT_EMAIL = "helper@vendor.example"
SUPPORT_PASSWORD = "granite willow sparrow 93"
STEP = totp.time_step(NOW)


def create_support_user(*args: str):
    return CliRunner().invoke(main, ["create-support-user", *args])


@pytest.fixture
def support_secret(app, salon) -> str:
    result = create_support_user("--email", SUPPORT_EMAIL, "--password", SUPPORT_PASSWORD)
    assert result.exit_code == 0, result.output
    match = re.search(r"Authenticator secret \(shown once\): ([A-Z2-7 ]+)", result.output)
    return match.group(1).replace(" ", "")


def support_signs_in(client, secret, code=None, password=SUPPORT_PASSWORD):
    page = client.get("/support/login")
    return client.post(
        "/support/login",
        data={
            "csrf_token": csrf_token(page.text),
            "email": SUPPORT_EMAIL,
            "password": password,
            "code": code or totp.code_at(secret, STEP),
        },
    )


def open_business(client, slug="salon"):
    page = client.get("/support/")
    return client.post(f"/support/open/{slug}", data={"csrf_token": csrf_token(page.text)})


def events(session, kind=None) -> list[AuditEvent]:
    session.rollback()
    query = select(AuditEvent).order_by(AuditEvent.id)
    if kind:
        query = query.where(AuditEvent.kind == kind)
    return list(session.scalars(query))


def set_compliance(session, business, **values) -> None:
    session.rollback()
    settings = session.get(ComplianceSettings, business.id) or ComplianceSettings.defaults(
        business.id
    )
    for name, value in values.items():
        setattr(settings, name, value)
    session.add(settings)
    session.commit()


def test_cli_refuses_a_short_password_and_a_duplicate(app, support_secret):
    assert (
        "at least 12"
        in create_support_user("--email", "x@vendor.example", "--password", "short").output
    )
    duplicate = create_support_user("--email", SUPPORT_EMAIL, "--password", SUPPORT_PASSWORD)
    assert duplicate.exit_code != 0
    assert "already has a support account" in duplicate.output


def test_support_sign_in_needs_password_and_code(client, session, support_secret):
    wrong = support_signs_in(client, support_secret, password="wrong password here")
    assert wrong.status_code == 422
    assert "Sign-in failed" in wrong.text
    bad_code = support_signs_in(client, support_secret, code="12")
    assert bad_code.status_code == 422
    assert "6 digits" in bad_code.text
    response = support_signs_in(client, support_secret)
    assert response.status_code == 302
    assert response.headers["Location"] == "/support/"
    assert "Salon Test" in client.get("/support/").text
    # A support user belongs to no business: the staff area stays closed until one is opened.
    assert client.get("/staff/").status_code == 302


def test_support_access_is_allowed_audited_then_refused(
    client, session, salon, owner, support_secret
):
    support_signs_in(client, support_secret)
    opened = open_business(client)
    assert opened.status_code == 303
    dashboard = client.get("/staff/")
    assert dashboard.status_code == 200
    assert f"Platform support ({SUPPORT_EMAIL}) is viewing this account" in dashboard.text
    assert "Platform support" in client.get("/staff/clients").text
    assert save_security(client, lockout_attempts=7).status_code == 302

    assert events(session, "support.opened")[0].business_id == salon.business.id
    views = events(session, "support.page_viewed")
    assert [e.details["path"] for e in views][:2] == ["/staff/", "/staff/clients"]
    assert {e.actor_kind for e in views} == {"support"}
    assert {e.actor_label for e in views} == {SUPPORT_EMAIL}
    change = events(session, "settings.changed")[-1]
    assert (change.actor_kind, change.actor_label) == ("support", SUPPORT_EMAIL)
    assert change.details["changes"]["lockout_attempts"] == [5, 7]

    # The owner sees it all in the audit log.
    owner_view = [e.kind for e in events(session) if e.business_id == salon.business.id]
    assert {"support.opened", "support.page_viewed", "settings.changed"} <= set(owner_view)

    # Support may not touch a staff member's own sign-in settings.
    assert client.get("/staff/account/password").status_code == 403

    # The owner switches support access off: the next page is refused and audited.
    set_compliance(session, salon.business, support_access=False)
    refused = client.get("/staff/")
    assert refused.status_code == 403
    assert events(session, "support.refused")[-1].details["reason"] == "support access is off"
    assert open_business(client).status_code == 403


def test_support_is_refused_with_403_in_hipaa_mode(client, session, salon, owner, support_secret):
    set_compliance(session, salon.business, hipaa_mode=True)
    support_signs_in(client, support_secret)
    response = open_business(client)
    assert response.status_code == 403
    assert "does not allow platform support" in response.text
    refusal = events(session, "support.refused")[-1]
    assert (refusal.business_id, refusal.details["reason"]) == (salon.business.id, "HIPAA mode")
    assert client.get("/staff/").status_code == 302  # not inside the business


def test_owner_switches_support_access_off_on_the_hipaa_page(client, session, salon, owner):
    from tests.conftest import sign_in

    sign_in(client)
    page = client.get("/staff/hipaa/")
    response = client.post(
        "/staff/hipaa/settings",
        data={"csrf_token": csrf_token(page.text), "audit_retention_days": "3000"},
    )
    assert response.status_code == 303
    session.rollback()
    settings = session.get(ComplianceSettings, salon.business.id)
    assert (settings.support_access, settings.audit_retention_days) == (False, 3000)
    bad = client.post(
        "/staff/hipaa/settings",
        data={"csrf_token": csrf_token(page.text), "audit_retention_days": "10"},
    )
    assert bad.status_code == 422
    assert "between 365 and 36500" in bad.text


def test_a_refused_post_changes_nothing_and_leaves_its_refusal_in_the_log(
    client, session, salon, owner, support_secret
):
    from portal.accounts.models import SecuritySettings

    support_signs_in(client, support_secret)
    open_business(client)
    token = csrf_token(client.get("/staff/security").text)
    set_compliance(session, salon.business, support_access=False)
    response = client.post("/staff/security", data={"csrf_token": token, "lockout_attempts": "7"})
    assert response.status_code == 403
    assert "Platform support may not open this account or page." in response.text
    refusal = events(session, "support.refused")[-1]
    assert refusal.details == {"path": "/staff/security", "reason": "support access is off"}
    viewed = events(session, "support.page_viewed")
    assert [(e.details["path"], e.details["method"]) for e in viewed] == [
        ("/staff/security", "GET")
    ]
    settings = session.get(SecuritySettings, salon.business.id)
    assert settings is None or settings.lockout_attempts == 5
