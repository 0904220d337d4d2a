"""HIPAA mode: each rule switched on and off."""

from __future__ import annotations

import email
from datetime import timedelta
from email import policy

import pytest
from sqlalchemy import event, select

from portal.accounts import totp
from portal.accounts.current import idle_timeout
from portal.accounts.models import SecuritySettings
from portal.audit.models import AuditEvent
from portal.booking.models import Booking
from portal.extensions import db as portal_db
from portal.hipaa.models import ComplianceSettings
from tests.conftest import NOW, OWNER_EMAIL, OWNER_PASSWORD, csrf_token, outbox, sign_in
from tests.test_clients import book_online
from tests.test_staff_2fa import STEP, enrol, enter_code
from tests.test_staff_signin import STAFF_EMAIL, STAFF_PASSWORD, make_staff

SECURE = {"base_url": "https://localhost"}
#: Flask-WTF checks the Referer of HTTPS posts.
SECURE_POST = {**SECURE, "headers": {"Referer": "https://localhost/staff/"}}


def set_hipaa(session, business, on: bool = True) -> None:
    session.rollback()
    settings = session.get(ComplianceSettings, business.id)
    if settings is None:
        settings = ComplianceSettings.defaults(business.id)
        session.add(settings)
    settings.hipaa_mode = on
    session.commit()


def events(session, kind: str) -> list[AuditEvent]:
    session.rollback()
    return list(
        session.scalars(select(AuditEvent).where(AuditEvent.kind == kind).order_by(AuditEvent.id))
    )


def mails(app) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in outbox(app)]


@pytest.fixture
def enrolled_owner(session, app, owner):
    secret, _codes = enrol(session, app, owner)
    return secret


def owner_signs_in(client, secret, step=STEP):
    response = sign_in(client, OWNER_EMAIL, OWNER_PASSWORD)
    assert response.headers["Location"] == "/staff/2fa"
    response = enter_code(client, totp.code_at(secret, step))
    assert response.status_code == 302, response.text
    return response


def switch(client, enable: str, password=OWNER_PASSWORD, code="000000"):
    page = client.get("/staff/hipaa/", **SECURE)
    return client.post(
        "/staff/hipaa/switch",
        data={
            "csrf_token": csrf_token(page.text),
            "enable": enable,
            "password": password,
            "code": code,
        },
        **SECURE_POST,
    )


# --- the switch ---------------------------------------------------------------


def test_switching_hipaa_mode_needs_password_and_a_fresh_code(
    app, client, session, salon, enrolled_owner
):
    owner_signs_in(client, enrolled_owner)
    wrong_password = switch(client, "on", "not my password", totp.code_at(enrolled_owner, STEP + 1))
    assert wrong_password.status_code == 403
    assert "password or the code" in wrong_password.text
    used_code = switch(client, "on", code=totp.code_at(enrolled_owner, STEP))
    assert used_code.status_code == 403
    assert not events(session, "hipaa.enabled")
    bad_input = switch(client, "maybe", code="12")
    assert bad_input.status_code == 422
    assert "6 digits" in bad_input.text

    assert switch(client, "on", code=totp.code_at(enrolled_owner, STEP + 1)).status_code == 303
    session.rollback()
    assert session.get(ComplianceSettings, salon.business.id).hipaa_mode is True
    enabled = events(session, "hipaa.enabled")
    assert enabled[-1].actor_label == OWNER_EMAIL
    # Switching on clamps the idle timeout to 15 minutes, recorded with the switch.
    assert enabled[-1].details["changes"] == {"idle_timeout_minutes": [30, 15]}
    assert session.get(SecuritySettings, salon.business.id).idle_timeout_minutes == 15

    # Switching off is re-authenticated too.
    assert switch(client, "off", code=totp.code_at(enrolled_owner, STEP)).status_code == 403
    app_clock_later = NOW + timedelta(seconds=31)
    with __import__("time_machine").travel(app_clock_later, tick=False):
        assert switch(client, "off", code=totp.code_at(enrolled_owner, STEP + 2)).status_code == 303
    session.rollback()
    assert session.get(ComplianceSettings, salon.business.id).hipaa_mode is False
    assert events(session, "hipaa.disabled")


def test_hipaa_mode_is_switched_on_only_from_a_request_over_https(
    client, session, salon, enrolled_owner
):
    """Before: switching on over plain HTTP worked, and every page then went to an
    https:// address where nothing may speak TLS, the owner stranded outside."""
    owner_signs_in(client, enrolled_owner)
    page = client.get("/staff/hipaa/")
    assert "can be switched on only over HTTPS" in page.text  # said before the password
    assert "can be switched on only over HTTPS" not in client.get("/staff/hipaa/", **SECURE).text
    fields = {
        "csrf_token": csrf_token(page.text),
        "enable": "on",
        "password": OWNER_PASSWORD,
        "code": totp.code_at(enrolled_owner, STEP + 1),
    }
    plain = client.post("/staff/hipaa/switch", data=fields)
    assert plain.status_code == 403
    assert plain.text.count("can be switched on only over HTTPS") == 1
    assert "Open this page at its https:// address" in plain.text
    # A forged X-Forwarded-Proto is no HTTPS: no proxy is trusted here.
    forged = client.post("/staff/hipaa/switch", data=fields, headers={"X-Forwarded-Proto": "https"})
    assert forged.status_code == 403
    session.rollback()
    settings = session.get(ComplianceSettings, salon.business.id)
    assert settings is None or not settings.hipaa_mode
    assert not events(session, "hipaa.enabled")
    # The same code, unused by the refusals, switches it on over HTTPS.
    assert switch(client, "on", code=totp.code_at(enrolled_owner, STEP + 1)).status_code == 303
    assert events(session, "hipaa.enabled")


def test_staff_member_cannot_switch_hipaa_mode(client, session, salon, owner):
    make_staff(session, salon.business)
    sign_in(client, STAFF_EMAIL, STAFF_PASSWORD)
    assert client.get("/staff/hipaa/").status_code == 403


# --- 2FA for everyone ---------------------------------------------------------


def test_staff_without_2fa_must_enrol_right_after_the_password_in_hipaa_mode(
    client, session, salon, owner
):
    make_staff(session, salon.business)
    sign_in(client, STAFF_EMAIL, STAFF_PASSWORD)
    assert client.get("/staff/", **SECURE).status_code == 200

    set_hipaa(session, salon.business)
    for page in ("/staff/", "/staff/bookings", "/staff/clients"):
        response = client.get(page, **SECURE)
        assert response.status_code == 302
        assert response.headers["Location"] == "/staff/account/2fa"


# --- automatic logoff -----------------------------------------------------------


def test_idle_timeout_is_at_most_15_minutes_in_hipaa_mode(
    app, client, session, salon, enrolled_owner, clock
):
    owner_signs_in(client, enrolled_owner)
    with app.app_context():
        assert idle_timeout(session, salon.business.id) == timedelta(minutes=30)
    clock.move_to(NOW + timedelta(minutes=16))
    assert client.get("/staff/").status_code == 200  # off: 30 minutes

    set_hipaa(session, salon.business)
    with app.app_context():
        assert idle_timeout(session, salon.business.id) == timedelta(minutes=15)
    clock.move_to(NOW + timedelta(minutes=32))
    response = client.get("/staff/", **SECURE)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/staff/login")


def test_owner_may_set_less_than_15_minutes(app, session, salon):
    settings = SecuritySettings.defaults(salon.business.id)
    settings.idle_timeout_minutes = 10
    session.add(settings)
    session.commit()
    set_hipaa(session, salon.business)
    with app.app_context():
        assert idle_timeout(session, salon.business.id) == timedelta(minutes=10)


# --- HTTPS -------------------------------------------------------------------------


def test_https_is_forced_for_the_business_in_hipaa_mode(client, session, salon):
    assert client.get("/b/salon/").status_code == 200
    set_hipaa(session, salon.business)
    response = client.get("/b/salon/?embed=1")
    assert response.status_code == 301
    # To the configured host (PORTAL_BASE_URL), not the request's.
    assert response.headers["Location"] == "https://portal.test/b/salon/?embed=1"
    assert client.get("/b/salon/", **SECURE).status_code == 200


def test_forged_forwarded_proto_does_not_count_as_https(client, session, salon):
    set_hipaa(session, salon.business)
    response = client.get("/b/salon/", headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 301
    assert "Strict-Transport-Security" not in response.headers


# --- sign-in notices ---------------------------------------------------------------


def test_every_staff_sign_in_is_emailed_in_hipaa_mode(app, client, session, salon, owner):
    make_staff(session, salon.business)
    sign_in(client, STAFF_EMAIL, STAFF_PASSWORD)
    assert not [m for m in mails(app) if m["Subject"].startswith("New sign-in")]

    set_hipaa(session, salon.business)
    other = app.test_client()
    other.get("/staff/login", **SECURE)
    page = other.get("/staff/login", **SECURE)
    other.post(
        "/staff/login",
        data={
            "csrf_token": csrf_token(page.text),
            "email": STAFF_EMAIL,
            "password": STAFF_PASSWORD,
        },
        headers={"User-Agent": "TestBrowser/9.1", "Referer": "https://localhost/staff/login"},
        environ_base={"REMOTE_ADDR": "203.0.113.7"},
        **SECURE,
    )
    notices = [m for m in mails(app) if m["Subject"].startswith("New sign-in")]
    assert len(notices) == 1
    body = notices[0].get_body(("plain",)).get_content()
    assert notices[0]["To"].addresses[0].addr_spec == STAFF_EMAIL
    assert "203.0.113.7" in body
    assert "TestBrowser/9.1" in body
    assert "Monday, 02 March 2026, 07:00" in body


# --- notifications without health information --------------------------------------


def _booking_mail(app):
    found = [m for m in mails(app) if "confirmed" in m["Subject"].lower()]
    assert found, [m["Subject"] for m in mails(app)]
    return found[-1]


def test_booking_emails_name_service_and_client_when_hipaa_is_off(app, client, salon):
    assert book_online(client, salon).status_code == 303
    message = _booking_mail(app)
    assert salon.service.name in message["Subject"]
    assert "Mia Example" in str(message)


def test_booking_emails_and_ics_are_free_of_health_information_in_hipaa_mode(
    app, client, session, salon
):
    set_hipaa(session, salon.business)
    page = client.get(
        f"/b/salon/services/{salon.service.id}/book?provider=any&start=2026-03-03T09:00Z", **SECURE
    )
    assert page.status_code == 200, page.text
    data = {
        "csrf_token": csrf_token(page.text),
        "name": "Mia Example",
        "email": "mia@example.com",
        "phone": "+49 30 1234567",
        "accept_terms": "y",
        "accept_policy": "y",
    }
    response = client.post(
        page.request.path + "?" + page.request.query_string.decode(),
        data=data,
        headers={"Referer": "https://localhost/b/salon/"},
        **SECURE,
    )
    assert response.status_code == 303, response.text
    session.rollback()
    assert session.scalars(select(Booking)).first() is not None
    message = _booking_mail(app)
    raw = message.as_string()
    for secret in ("Mia Example", "Mia", salon.service.name, salon.provider.name):
        assert secret not in raw, secret
    assert salon.business.name in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    assert "/b/salon/manage/" in text
    assert "03 March 2026" in text
    ics = next(part for part in message.iter_attachments()).get_content()
    ics = ics.decode() if isinstance(ics, bytes) else ics
    assert "SUMMARY:Appointment" in ics
    assert salon.service.name not in ics


# --- views of client details ------------------------------------------------------------


def test_client_views_are_audited_in_hipaa_mode(client, session, salon, enrolled_owner):
    book_online(client, salon)
    session.rollback()
    booking = session.scalars(select(Booking)).first()
    owner_signs_in(client, enrolled_owner)
    assert client.get(f"/staff/clients/{booking.client_id}").status_code == 200
    assert not events(session, "client.viewed")

    set_hipaa(session, salon.business)
    assert client.get(f"/staff/clients/{booking.client_id}", **SECURE).status_code == 200
    assert client.get(f"/staff/bookings/{booking.id}", **SECURE).status_code == 200
    viewed = events(session, "client.viewed")
    assert [e.details["client_id"] for e in viewed] == [booking.client_id] * 2
    assert viewed[0].actor_label == OWNER_EMAIL


# --- checklist --------------------------------------------------------------------------


def test_checklist_lists_each_safeguard_with_its_state(client, session, salon, enrolled_owner):
    """Off: what switching on would do (no list of failures); on: the checklist."""
    make_staff(session, salon.business)
    owner_signs_in(client, enrolled_owner)
    page = client.get("/staff/hipaa/")
    assert page.status_code == 200
    for name in (
        "Two-factor sign-in",
        "Automatic logoff",
        "HTTPS",
        "Platform support barred",
        "Sign-in notices",
        "without health information",
        "Audit controls",
    ):
        assert name in page.text
    assert "Not in force" not in page.text
    assert "What switching it on does" in page.text
    assert STAFF_EMAIL in page.text  # not enrolled yet

    set_hipaa(session, salon.business)
    page = client.get("/staff/hipaa/", **SECURE)
    assert page.text.count("Not in force") == 0
    assert page.text.count("In force") == 8  # the mode itself and its seven safeguards
    assert "Switch HIPAA mode off" in page.text


def test_security_form_refuses_an_idle_timeout_over_15_minutes_in_hipaa_mode(
    client, session, salon, enrolled_owner
):
    from tests.test_staff_signin import save_security

    owner_signs_in(client, enrolled_owner)
    assert save_security(client, idle_timeout_minutes=60).status_code == 302
    set_hipaa(session, salon.business)
    client.environ_base["wsgi.url_scheme"] = "https"
    response = client.get("/staff/security", **SECURE)
    page = client.post(
        "/staff/security",
        data={
            "csrf_token": csrf_token(response.text),
            "idle_timeout_minutes": "60",
            "password_min_length": "12",
            "password_min_strength": "2",
            "lockout_attempts": "5",
            "lockout_mode": "timed",
            "lockout_minutes": "15",
        },
        **SECURE_POST,
    )
    assert page.status_code == 422
    assert "at most 15 idle minutes" in page.text
    # An hour typed as one hour is refused too: the ceiling is checked in minutes.
    fields = {
        "csrf_token": csrf_token(response.text),
        "idle_timeout_minutes": "1",
        "idle_timeout_unit": "hours",
        "password_min_length": "12",
        "password_min_strength": "2",
        "lockout_attempts": "5",
        "lockout_mode": "timed",
        "lockout_minutes": "15",
    }
    in_hours = client.post("/staff/security", data=fields, **SECURE_POST)
    assert in_hours.status_code == 422
    assert "at most 15 idle minutes" in in_hours.text


@pytest.mark.parametrize("hipaa", [False, True], ids=["off", "on"])
def test_a_public_page_reads_its_business_and_compliance_settings_in_one_query(
    client, session, salon, hipaa
):
    """Every public page asks whether HIPAA mode is on; the answer comes with the business."""
    set_hipaa(session, salon.business, hipaa)
    statements = []

    def remember(_connection, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(portal_db.engine, "before_cursor_execute", remember)
    try:
        assert client.get("/b/salon/", **SECURE).status_code == 200
    finally:
        event.remove(portal_db.engine, "before_cursor_execute", remember)
    asking = [statement for statement in statements if "compliance_settings" in statement]
    assert len(asking) == 1
    assert "FROM businesses" in asking[0]
