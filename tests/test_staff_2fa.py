"""Two-factor sign-in for staff: enrolment, codes, recovery codes, owner resets, require-2FA."""

from __future__ import annotations

import base64
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from portal.accounts import service, totp
from portal.accounts.models import RecoveryCode, UserSession
from portal.audit.service import Origin
from tests.conftest import NOW, OWNER_EMAIL, OWNER_PASSWORD, csrf_token, sign_in
from tests.factories import make_business
from tests.test_staff_signin import (
    SIGN_IN_FAILED,
    STAFF_EMAIL,
    STAFF_PASSWORD,
    events,
    is_signed_in,
    mails,
    make_staff,
    page_token,
    reload,
    save_security,
    sign_out,
)

STEP = totp.time_step(NOW)
ENROL_FAILED = "That code did not match."

#: What a refused second-factor code gets, whatever was wrong with it.
CODE_FAILED = "That code was not accepted. Type the current code from your app, or a recovery code."
#: A right code typed again within its 30 seconds (issue 16): refused as used, no guess.
CODE_USED = "That code was used already. Wait for the next code in your app"


def secret_box(app) -> totp.SecretBox:
    return totp.SecretBox(app.config.get("ENCRYPTION_KEY") or app.config["SECRET_KEY"])


def enrol(session, app, user, minutes_ago: int = 1) -> tuple[str, list[str]]:
    """Turn 2FA on for ``user`` as if they did it ``minutes_ago``; return secret and codes."""
    box = secret_box(app)
    secret = service.start_enrolment(session, user, box)
    then = NOW - timedelta(minutes=minutes_ago)
    codes = service.activate_2fa(
        session, user, totp.code_at(secret, totp.time_step(then)), then, box, Origin()
    )
    session.commit()
    return secret, codes


def password_step(client, email=STAFF_EMAIL, password=STAFF_PASSWORD):
    response = sign_in(client, email, password)
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/2fa"
    return response


def enter_code(client, code: str):
    page = client.get("/staff/2fa")
    token = csrf_token(page.text) if page.status_code == 200 else page_token(client)
    return client.post("/staff/2fa", data={"csrf_token": token, "code": code})


def shown_key(html: str) -> str:
    match = re.search(r'id="totp-secret">([^<]+)<', html)
    assert match, "no key on the page"
    return match.group(1).replace(" ", "")


def shown_recovery_codes(html: str) -> list[str]:
    listing = html.split('id="recovery-codes">', 1)[1].split("</ul>", 1)[0]
    return re.findall(r"<code>([^<]+)</code>", listing)


@pytest.fixture
def enrolled(session, app, staff_member):
    """The staff member with 2FA on; returns their TOTP secret and recovery codes."""
    return enrol(session, app, staff_member)


# Enrolment.


def test_enrolment_page_shows_an_inline_svg_qr_code_and_the_key(app, client, session, owner):
    sign_in(client)
    page = client.get("/staff/account/2fa")
    assert page.status_code == 200
    svg = page.text.split('<figure class="qr">', 1)[1].split("</figure>", 1)[0]
    assert svg.startswith("<svg")
    assert "style=" not in svg
    assert "<img" not in page.text
    key = shown_key(page.text)
    assert re.fullmatch(r"[A-Z2-7]{32}", key)
    # The key shown is the one stored (encrypted) for this user.
    assert secret_box(app).open(reload(session, owner).totp_secret_encrypted) == key
    # The QR code encodes the otpauth URI with the business name as issuer.
    uri = totp.provisioning_uri(key, OWNER_EMAIL, "Salon Test")
    assert "issuer=Salon%20Test" in uri
    assert uri.startswith("otpauth://totp/Salon%20Test:owner%40salon.example?")
    assert svg == totp.qr_svg(uri)
    # A strict CSP still lets the inline SVG show: no inline styles are allowed or needed.
    csp = page.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp
    assert "img-src 'self' data:" in csp


def test_reloading_the_enrolment_page_keeps_the_same_key(client, owner):
    sign_in(client)
    first = shown_key(client.get("/staff/account/2fa").text)
    second = shown_key(client.get("/staff/account/2fa").text)
    assert first == second


def test_a_wrong_code_does_not_turn_2fa_on(client, session, owner):
    sign_in(client)
    page = client.get("/staff/account/2fa")
    key = shown_key(page.text)
    valid = {totp.code_at(key, STEP + offset) for offset in (-1, 0, 1)}
    wrong = next(code for code in ("000000", "111111", "222222") if code not in valid)
    response = client.post(
        "/staff/account/2fa", data={"csrf_token": csrf_token(page.text), "code": wrong}
    )
    assert response.status_code == 422
    assert ENROL_FAILED in response.text
    assert shown_key(response.text) == key
    for malformed in ["12345", "abcdef", ""]:
        response = client.post(
            "/staff/account/2fa", data={"csrf_token": csrf_token(page.text), "code": malformed}
        )
        assert response.status_code == 422
    assert not reload(session, owner).has_2fa
    assert session.scalars(select(RecoveryCode)).all() == []
    assert events(session, "2fa.enrolled") == []


def test_a_valid_code_turns_2fa_on_and_shows_ten_recovery_codes_once(client, session, owner):
    sign_in(client)
    page = client.get("/staff/account/2fa")
    key = shown_key(page.text)
    response = client.post(
        "/staff/account/2fa",
        data={"csrf_token": csrf_token(page.text), "code": totp.code_at(key, STEP)},
    )
    assert response.status_code == 200
    assert "Two-factor sign-in is on" in response.text
    codes = shown_recovery_codes(response.text)
    assert len(codes) == 10
    assert len(set(codes)) == 10

    reload(session, owner)
    assert owner.has_2fa
    assert owner.totp_enabled_at == NOW
    stored = session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == owner.id)).all()
    assert sorted(code.code_hash for code in stored) == sorted(
        totp.hash_recovery_code(code) for code in codes
    )
    for code in codes:
        assert all(code not in record.code_hash for record in stored)
    (enrolled,) = events(session, "2fa.enrolled")
    assert enrolled.actor_id == owner.id

    again = client.get("/staff/account/2fa")
    assert again.status_code == 200
    assert "Two-factor sign-in is on" in again.text
    assert "recovery-codes" not in again.text
    assert not any(code in again.text for code in codes)
    assert "<svg" not in again.text


def test_the_totp_secret_is_encrypted_at_rest(app, session, staff_member, enrolled):
    secret, _ = enrolled
    session.rollback()
    (stored,) = session.execute(
        text("SELECT totp_secret_encrypted FROM staff_users WHERE id = :id"),
        {"id": staff_member.id},
    ).one()
    stored = bytes(stored)
    assert secret.encode() not in stored
    assert secret.lower().encode() not in stored
    assert base64.b32decode(secret) not in stored
    assert secret_box(app).open(stored) == secret
    with pytest.raises(ValueError):
        totp.SecretBox("some other key").open(stored)


class TestEncryptionKey:
    @pytest.fixture
    def app_env(self, app_env, monkeypatch):
        monkeypatch.setenv("PORTAL_ENCRYPTION_KEY", "a separate key for secrets at rest")
        return app_env

    def test_the_encryption_key_seals_the_secret(
        self, app, client, session, staff_member, enrolled
    ):
        secret, _ = enrolled
        stored = reload(session, staff_member).totp_secret_encrypted
        assert totp.SecretBox("a separate key for secrets at rest").open(stored) == secret
        with pytest.raises(ValueError):
            totp.SecretBox(app.config["SECRET_KEY"]).open(stored)
        password_step(client)
        assert enter_code(client, totp.code_at(secret, STEP)).headers["Location"] == "/staff/"


# Signing in with a code.


def test_sign_in_asks_for_the_code_after_the_password(client, session, staff_member, enrolled):
    secret, _ = enrolled
    password_step(client)
    # The password alone signs nobody in.
    assert not is_signed_in(client)
    assert session.scalars(select(UserSession)).all() == []
    page = client.get("/staff/2fa")
    assert page.status_code == 200
    assert "Enter your code" in page.text

    response = enter_code(client, totp.code_at(secret, STEP))
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/"
    assert is_signed_in(client)
    (success,) = events(session, "signin.success")
    assert success.details == {"method": "totp"}


def test_the_code_page_needs_the_password_step_first(client, staff_member, enrolled):
    response = client.get("/staff/2fa")
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/login"


def test_the_code_step_expires_after_five_minutes(client, clock, staff_member, enrolled):
    secret, _ = enrolled
    password_step(client)
    clock.shift(timedelta(minutes=5, seconds=1))
    response = enter_code(client, totp.code_at(secret, totp.time_step(NOW) + 10))
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/login"
    assert not is_signed_in(client)


def test_the_code_step_keeps_the_page_asked_for(client, staff_member, enrolled):
    secret, _ = enrolled
    page = client.get("/staff/login?next=/staff/account/password")
    client.post(
        "/staff/login?next=/staff/account/password",
        data={
            "csrf_token": csrf_token(page.text),
            "email": STAFF_EMAIL,
            "password": STAFF_PASSWORD,
        },
    )
    response = enter_code(client, totp.code_at(secret, STEP))
    assert response.headers["Location"] == "/staff/account/password"


def test_a_code_is_accepted_once_and_a_replay_is_refused(
    app, client, session, staff_member, enrolled
):
    secret, _ = enrolled
    code = totp.code_at(secret, STEP)
    password_step(client)
    assert enter_code(client, code).status_code == 302
    assert reload(session, staff_member).totp_last_step == STEP

    # Someone who saw the code types it in another browser within the same 30 s.
    other = app.test_client()
    password_step(other)
    replay = enter_code(other, code)
    assert replay.status_code == 422
    # Said as it is (issue 16): the code is right but used, so wait for the next one.
    assert CODE_USED in replay.text
    assert not is_signed_in(other)

    # Even the owner of the code, signing in again, cannot reuse it.
    sign_out(client)
    password_step(client)
    assert enter_code(client, code).status_code == 422
    # The next step's code is new, so it works (once).
    assert enter_code(client, totp.code_at(secret, STEP + 1)).status_code == 302


def test_an_older_code_is_refused_once_a_newer_one_was_used(app, client, staff_member, enrolled):
    secret, _ = enrolled
    password_step(client)
    assert enter_code(client, totp.code_at(secret, STEP)).status_code == 302
    other = app.test_client()
    password_step(other)
    assert enter_code(other, totp.code_at(secret, STEP - 1)).status_code == 422


@pytest.mark.parametrize(("offset", "accepted"), [(-2, False), (-1, True), (1, True), (2, False)])
def test_codes_one_step_either_side_are_accepted(client, staff_member, enrolled, offset, accepted):
    secret, _ = enrolled
    password_step(client)
    response = enter_code(client, totp.code_at(secret, STEP + offset))
    assert response.status_code == (302 if accepted else 422)
    assert is_signed_in(client) is accepted


def test_malformed_codes_are_refused_with_a_message(client, staff_member, enrolled):
    password_step(client)
    assert "Please enter the code." in enter_code(client, "").text
    for code in ["12345", "abcdef", "１２３４５６"]:
        response = enter_code(client, code)
        assert response.status_code == 422, code
        assert CODE_FAILED in response.text
    assert enter_code(client, "1" * 40).status_code == 422
    assert not is_signed_in(client)


# Recovery codes.


def test_a_recovery_code_works_once_and_is_audited_and_emailed(
    app, client, session, staff_member, enrolled
):
    _, codes = enrolled
    password_step(client)
    response = enter_code(client, codes[3].upper())
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/"
    assert is_signed_in(client)

    (used,) = events(session, "2fa.recovery_code_used")
    assert used.actor_id == staff_member.id
    assert used.details == {"remaining": 9}
    (success,) = events(session, "signin.success")
    assert success.details == {"method": "recovery"}
    (message,) = mails(app)
    assert message["To"] == f"Sam Staff <{STAFF_EMAIL}>"
    assert message["Subject"] == "A recovery code was used to sign in"
    assert "9 unused codes remain" in message.get_body(("plain",)).get_content()
    texts = [part.get_content() for part in message.walk() if part.get_content_maintype() == "text"]
    assert texts and all(codes[3] not in text for text in texts)

    sign_out(client)
    password_step(client)
    again = enter_code(client, codes[3])
    assert again.status_code == 422
    assert CODE_FAILED in again.text
    assert not is_signed_in(client)
    # Another unused code still works.
    assert enter_code(client, codes[4]).status_code == 302


def test_recovery_codes_of_another_user_do_not_work(
    app, client, session, salon, staff_member, enrolled
):
    other = make_staff(session, salon.business, email="kim@salon.example")
    _, other_codes = enrol(session, app, other)
    password_step(client)
    assert enter_code(client, other_codes[0]).status_code == 422


# Wrong codes and lockout.


def test_wrong_codes_count_towards_the_lockout(app, client, session, staff_member, enrolled):
    secret, _ = enrolled
    valid = {totp.code_at(secret, STEP + offset) for offset in (-1, 0, 1)}
    wrong = next(code for code in ("000000", "111111", "222222") if code not in valid)
    password_step(client)
    for _ in range(4):
        response = enter_code(client, wrong)
        assert response.status_code == 422
        assert CODE_FAILED in response.text
    assert not reload(session, staff_member).is_locked(NOW)
    assert enter_code(client, wrong).status_code == 422
    assert reload(session, staff_member).is_locked(NOW)
    assert len(events(session, "2fa.failure")) == 5
    assert len(events(session, "account.locked")) == 1
    (message,) = mails(app)
    assert message["Subject"] == "Your Salon Test account was locked"

    # Locked: the right code is no use, and neither is the password.
    response = enter_code(client, totp.code_at(secret, STEP))
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/login"
    assert not is_signed_in(client)
    locked = sign_in(client, STAFF_EMAIL, STAFF_PASSWORD)
    assert locked.status_code == 422
    assert SIGN_IN_FAILED in locked.text


def test_the_right_password_does_not_forgive_wrong_codes(client, session, staff_member, enrolled):
    """Re-entering the password must not reset the count, or codes could be guessed forever."""
    secret, _ = enrolled
    valid = {totp.code_at(secret, STEP + offset) for offset in (-1, 0, 1)}
    wrong = next(code for code in ("000000", "111111", "222222") if code not in valid)
    password_step(client)
    for _ in range(3):
        assert enter_code(client, wrong).status_code == 422
    password_step(client)
    for _ in range(2):
        assert enter_code(client, wrong).status_code == 422
    assert reload(session, staff_member).is_locked(NOW)


def test_a_successful_code_clears_the_failure_count(client, session, staff_member, enrolled):
    secret, _ = enrolled
    valid = {totp.code_at(secret, STEP + offset) for offset in (-1, 0, 1)}
    wrong = next(code for code in ("000000", "111111", "222222") if code not in valid)
    password_step(client)
    for _ in range(4):
        enter_code(client, wrong)
    assert enter_code(client, totp.code_at(secret, STEP)).status_code == 302
    assert reload(session, staff_member).failed_attempts == 0


class TestCodeRateLimit:
    @pytest.fixture
    def app_env(self, app_env, monkeypatch):
        monkeypatch.setenv("PORTAL_SIGNIN_ACCOUNT_RATE_LIMIT", "3 per minute")
        return app_env

    def test_code_posts_past_the_limit_get_429(self, client, staff_member, enrolled):
        secret, _ = enrolled
        valid = {totp.code_at(secret, STEP + offset) for offset in (-1, 0, 1)}
        wrong = next(code for code in ("000000", "111111", "222222") if code not in valid)
        password_step(client)
        for _ in range(3):
            assert enter_code(client, wrong).status_code == 422
        response = enter_code(client, totp.code_at(secret, STEP))
        assert response.status_code == 429
        assert "Retry-After" in response.headers
        assert not is_signed_in(client)


# The owner requires 2FA.

STAFF_PAGES = [
    "/staff/",
    "/staff/team",
    "/staff/security",
    "/staff/audit",
    "/staff/account/password",
]


@pytest.fixture
def required(client, owner):
    """The owner (whose client stays signed in) switched "require 2FA" on."""
    sign_in(client)
    assert save_security(client, require_2fa=True).status_code == 302


def test_required_2fa_sends_staff_to_enrolment_before_any_other_page(
    app, session, staff_member, required
):
    staff_client = app.test_client()
    response = sign_in(staff_client, STAFF_EMAIL, STAFF_PASSWORD)
    assert response.status_code == 302
    for path in STAFF_PAGES:
        response = staff_client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == "/staff/account/2fa", path

    page = staff_client.get("/staff/account/2fa")
    assert page.status_code == 200
    assert "Your business requires two-factor sign-in." in page.text
    response = staff_client.post(
        "/staff/account/2fa",
        data={
            "csrf_token": csrf_token(page.text),
            "code": totp.code_at(shown_key(page.text), STEP),
        },
    )
    assert response.status_code == 200
    assert len(shown_recovery_codes(response.text)) == 10
    assert staff_client.get("/staff/").status_code == 200


def test_required_2fa_applies_to_the_owner_too(client, required):
    for path in STAFF_PAGES:
        assert client.get(path).headers["Location"] == "/staff/account/2fa", path


def test_a_user_who_must_enrol_can_still_sign_out(app, staff_member, required):
    staff_client = app.test_client()
    sign_in(staff_client, STAFF_EMAIL, STAFF_PASSWORD)
    token = page_token(staff_client, "/staff/account/2fa")
    response = staff_client.post("/staff/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/login"
    assert not is_signed_in(staff_client)


def test_staff_with_2fa_are_not_held_up_by_the_requirement(app, staff_member, enrolled, required):
    secret, _ = enrolled
    staff_client = app.test_client()
    password_step(staff_client)
    enter_code(staff_client, totp.code_at(secret, STEP))
    assert staff_client.get("/staff/").status_code == 200


# The owner resets a staff member's 2FA.


def reset_2fa(client, user, password: str):
    page = client.get("/staff/team")
    assert page.status_code == 200
    return client.post(
        f"/staff/team/{user.id}/reset-2fa",
        data={"csrf_token": csrf_token(page.text), "password": password},
    )


def test_the_owner_resets_2fa_only_with_the_right_password(
    app, client, session, owner, staff_member, enrolled
):
    staff_client = app.test_client()
    secret, _ = enrolled
    password_step(staff_client)
    enter_code(staff_client, totp.code_at(secret, STEP))
    sign_in(client)

    refused = reset_2fa(client, staff_member, "not my password at all")
    assert refused.status_code == 303
    assert "Your password was not correct." in client.get("/staff/team").text
    assert reload(session, staff_member).has_2fa
    assert events(session, "2fa.reset") == []
    assert is_signed_in(staff_client)
    assert mails(app) == []

    response = reset_2fa(client, staff_member, OWNER_PASSWORD)
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/team"
    assert f"Two-factor sign-in of {STAFF_EMAIL} is reset" in client.get("/staff/team").text

    reload(session, staff_member)
    assert not staff_member.has_2fa
    assert staff_member.totp_secret_encrypted is None
    assert session.scalars(select(RecoveryCode)).all() == []
    (reset,) = events(session, "2fa.reset")
    assert reset.actor_id == owner.id
    assert reset.details == {"user": STAFF_EMAIL}
    (message,) = mails(app)
    assert message["To"] == f"Sam Staff <{STAFF_EMAIL}>"
    assert message["Subject"] == "Your two-factor sign-in was reset"
    # Their sessions are over; the owner's is not.
    assert not is_signed_in(staff_client)
    assert is_signed_in(client)
    # They sign in with the password alone now, and may enrol again.
    assert sign_in(staff_client, STAFF_EMAIL, STAFF_PASSWORD).headers["Location"] == "/staff/"
    assert "<svg" in staff_client.get("/staff/account/2fa").text


def test_the_reset_form_needs_the_password(client, session, owner, staff_member, enrolled):
    sign_in(client)
    response = reset_2fa(client, staff_member, "")
    assert response.status_code == 303
    assert "Enter your password to confirm the reset." in client.get("/staff/team").text
    assert reload(session, staff_member).has_2fa


def test_staff_members_cannot_reset_2fa(app, session, salon, owner, staff_member, enrolled):
    kim = make_staff(session, salon.business, email="kim@salon.example")
    kim_client = app.test_client()
    sign_in(kim_client, "kim@salon.example", STAFF_PASSWORD)
    response = kim_client.post(
        f"/staff/team/{staff_member.id}/reset-2fa",
        data={"csrf_token": page_token(kim_client, "/staff/"), "password": STAFF_PASSWORD},
    )
    assert response.status_code == 403
    assert reload(session, staff_member).has_2fa
    assert kim.role == "staff"


def test_an_owner_cannot_reset_2fa_at_another_business(app, client, session, owner):
    elsewhere = make_business(session, slug="elsewhere", name="Elsewhere Studio")
    stranger = make_staff(session, elsewhere, email="stranger@elsewhere.example")
    enrol(session, app, stranger)
    sign_in(client)
    response = reset_2fa(client, stranger, OWNER_PASSWORD)
    assert response.status_code == 404
    assert reload(session, stranger).has_2fa


# A password reset does not get around 2FA.


def test_a_password_reset_still_asks_for_the_code(app, client, session, staff_member, enrolled):
    secret, _ = enrolled
    page = client.get("/staff/reset")
    client.post("/staff/reset", data={"csrf_token": csrf_token(page.text), "email": STAFF_EMAIL})
    (message,) = mails(app)
    link = re.search(
        r"http://portal\.test(/staff/reset/\S+)", message.get_body(("plain",)).get_content()
    ).group(1)

    form = client.get(link)
    new_password = "quiet meadow copper 19"
    response = client.post(
        link,
        data={
            "csrf_token": csrf_token(form.text),
            "password": new_password,
            "confirm": new_password,
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/login"
    assert not is_signed_in(client)

    password_step(client, STAFF_EMAIL, new_password)
    assert not is_signed_in(client)
    assert reload(session, staff_member).has_2fa
    assert enter_code(client, totp.code_at(secret, STEP)).headers["Location"] == "/staff/"
