"""Staff passkeys through the test client, with a real software authenticator.

Every ceremony is real: tests/webauthn_authenticator.py makes P-256 keys and
signs what the server's options ask for; py_webauthn checks it as it would a
browser's. The app's PORTAL_BASE_URL is http://localhost, the test client's
own host, so the passkey buttons are offered.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.accounts import totp
from portal.accounts.models import Passkey, RecoveryCode, SecuritySettings
from portal.audit import service as audit
from tests.conftest import NOW, STAFF_EMAIL, STAFF_PASSWORD, csrf_token, path_of, sign_in
from tests.test_staff_2fa import enrol, shown_recovery_codes
from tests.test_staff_signin import events, is_signed_in, mails, reload, sign_out
from tests.test_support import set_compliance
from tests.webauthn_authenticator import SoftAuthenticator

ORIGIN = "http://localhost"
REFUSED = "That passkey could not be used. Try again, or sign in with your password instead."


@pytest.fixture
def app_env(app_env, monkeypatch):
    """The test client's host is the relying party: passkeys work at this address."""
    monkeypatch.setenv("PORTAL_BASE_URL", ORIGIN)
    return {**app_env, "PORTAL_BASE_URL": ORIGIN}


@pytest.fixture
def authenticator() -> SoftAuthenticator:
    return SoftAuthenticator()


# Helpers.


def token_of(client, path: str) -> str:
    return csrf_token(client.get(path).text)


def json_post(client, url: str, token: str, body=None):
    return client.post(url, json=body, headers={"X-CSRFToken": token})


def add_passkey(client, authenticator, name="office laptop", confirm=STAFF_PASSWORD, origin=ORIGIN):
    """Add a passkey as static/passkeys.js does: the form's fields, the ceremony, the finish."""
    token = token_of(client, "/staff/account/passkeys")
    options = client.post(
        "/staff/account/passkeys/options",
        data={"csrf_token": token, "name": name, "confirm": confirm},
        headers={"X-CSRFToken": token},
    )
    assert options.status_code == 200, options.text
    credential = authenticator.register(options.text, origin)
    return json_post(
        client,
        "/staff/account/passkeys",
        token,
        {"credential": json.loads(credential), "name": name},
    )


def passkey_sign_in(client, authenticator, next_url: str | None = None, **knobs):
    """The "Sign in with a passkey" button: no e-mail address typed."""
    token = token_of(client, "/staff/login")
    options = json_post(client, "/staff/passkey/options", token)
    assert options.status_code == 200, options.text
    assert options.json["publicKey"]["allowCredentials"] == []
    finish = "/staff/passkey" + (f"?next={next_url}" if next_url else "")
    assertion = authenticator.authenticate(options.text, knobs.pop("origin", ORIGIN), **knobs)
    return json_post(client, finish, token, {"credential": json.loads(assertion)})


def passkey_second_factor(client, authenticator, origin=ORIGIN, **knobs):
    """The "Use your passkey" button of /staff/2fa."""
    token = token_of(client, "/staff/2fa")
    options = json_post(client, "/staff/2fa/passkey/options", token)
    assert options.status_code == 200, options.text
    assertion = authenticator.authenticate(options.text, origin, **knobs)
    return json_post(client, "/staff/2fa/passkey", token, {"credential": json.loads(assertion)})


def set_security(session, business_id: int, **values) -> None:
    session.rollback()
    settings = session.get(SecuritySettings, business_id) or SecuritySettings.defaults(business_id)
    for name, value in values.items():
        setattr(settings, name, value)
    session.add(settings)
    session.commit()


def passkeys_of(session, user) -> list[Passkey]:
    session.rollback()
    return list(session.scalars(select(Passkey).where(Passkey.staff_user_id == user.id)))


def subjects(app) -> list[str]:
    return [mail["Subject"] for mail in mails(app)]


# Adding a passkey.


def test_first_passkey_added_with_the_password_shows_recovery_codes_once(
    app, session, clock, staff_client, staff_member, authenticator
):
    answer = add_passkey(staff_client, authenticator)

    assert answer.status_code == 200
    assert answer.json == {"redirect": "/staff/account/passkeys/recovery-codes"}
    page = staff_client.get("/staff/account/passkeys/recovery-codes")
    codes = shown_recovery_codes(page.text)
    assert len(codes) == 10
    stored = session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == staff_member.id))
    assert {code.code_hash for code in stored} == {totp.hash_recovery_code(c) for c in codes}
    # Shown once: the session no longer holds them, the page sends back to the list.
    again = staff_client.get("/staff/account/passkeys/recovery-codes")
    assert again.status_code == 302
    assert codes[0] not in staff_client.get("/staff/account/passkeys").text

    [passkey] = passkeys_of(session, staff_member)
    assert passkey.name == "office laptop"
    assert passkey.aaguid == "5011c0de-5011-c0de-5011-c0de5011c0de"
    assert passkey.transports == "internal,hybrid"
    listing = staff_client.get("/staff/account/passkeys").text
    assert 'id="passkey-list"' in listing and "office laptop" in listing
    [added] = events(session, audit.PASSKEY_ADDED)
    assert added.actor_id == staff_member.id and added.details["name"] == "office laptop"
    [mail] = [m for m in mails(app) if m["Subject"] == "A passkey was added to your account"]
    assert mail["To"].addresses[0].addr_spec == STAFF_EMAIL
    text = mail.get_body(("plain",)).get_content()
    assert "A passkey called \u201coffice laptop\u201d was just added to your account" in text


def test_a_passkey_added_with_an_app_code_brings_no_new_recovery_codes(
    app, session, clock, client, staff_member, authenticator
):
    secret, codes = enrol(session, app, staff_member)
    step = totp.time_step(NOW)
    assert sign_in(client, STAFF_EMAIL, STAFF_PASSWORD).headers["Location"] == "/staff/2fa"
    page = client.get("/staff/2fa")
    code = totp.code_at(secret, step)
    client.post("/staff/2fa", data={"csrf_token": csrf_token(page.text), "code": code})
    clock.move_to(NOW + timedelta(seconds=30))  # the sign-in used this step's code up

    answer = add_passkey(client, authenticator, confirm=totp.code_at(secret, step + 1))

    assert answer.json == {"redirect": "/staff/account/passkeys"}
    assert len(passkeys_of(session, staff_member)) == 1
    # The codes shown at the app's enrolment still work: no second set was made.
    stored = session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == staff_member.id))
    assert {c.code_hash for c in stored} == {totp.hash_recovery_code(c) for c in codes}
    assert (
        "Your passkey \u201coffice laptop\u201d is added."
        in client.get(answer.json["redirect"]).text
    )


def test_a_wrong_password_gets_no_options_and_is_audited(session, clock, staff_client):
    token = token_of(staff_client, "/staff/account/passkeys")
    answer = staff_client.post(
        "/staff/account/passkeys/options",
        data={"csrf_token": token, "name": "office laptop", "confirm": "not my password"},
        headers={"X-CSRFToken": token},
    )

    assert answer.status_code == 422
    assert answer.json == {
        "error": "That is not your password, nor a current code from your authenticator app."
    }
    [failure] = events(session, audit.PASSKEY_FAILURE)
    assert failure.details["reason"] == "identity not confirmed"


def test_finishing_without_the_password_first_is_refused(
    session, clock, staff_client, staff_member, authenticator
):
    token = token_of(staff_client, "/staff/account/passkeys")
    # Options of a confirmed request, then the confirmation runs out.
    options = staff_client.post(
        "/staff/account/passkeys/options",
        data={"csrf_token": token, "name": "office laptop", "confirm": STAFF_PASSWORD},
        headers={"X-CSRFToken": token},
    )
    clock.move_to(NOW + timedelta(minutes=5, seconds=1))
    credential = json.loads(authenticator.register(options.text, ORIGIN))

    answer = json_post(
        staff_client,
        "/staff/account/passkeys",
        token,
        {"credential": credential, "name": "office laptop"},
    )

    assert answer.status_code == 422
    assert "Please enter your password again" in answer.json["error"]
    assert passkeys_of(session, staff_member) == []


def test_a_name_in_use_is_refused_before_the_browser_asks(
    clock, staff_client, staff_member, authenticator
):
    add_passkey(staff_client, authenticator)
    token = token_of(staff_client, "/staff/account/passkeys")
    answer = staff_client.post(
        "/staff/account/passkeys/options",
        data={"csrf_token": token, "name": "Office  Laptop", "confirm": STAFF_PASSWORD},
        headers={"X-CSRFToken": token},
    )
    assert answer.status_code == 422
    assert "already have a passkey called" in answer.json["error"]


# Signing in.


def test_sign_in_with_a_passkey_types_no_email_and_keeps_next(
    session, clock, staff_client, staff_member, authenticator
):
    add_passkey(staff_client, authenticator)
    sign_out(staff_client)
    login = staff_client.get("/staff/login").text
    assert 'id="passkey-signin"' in login and 'data-passkey="get"' in login
    assert 'data-msg-cancelled="The passkey prompt was closed. Try again."' in login

    answer = passkey_sign_in(staff_client, authenticator, next_url="/staff/clients")

    assert answer.status_code == 200
    assert answer.json == {"redirect": "/staff/clients"}
    assert is_signed_in(staff_client)
    success = events(session, audit.SIGNIN_SUCCESS)[-1]
    assert success.actor_id == staff_member.id and success.details["method"] == "passkey"
    [passkey] = passkeys_of(session, staff_member)
    assert passkey.last_used_at == NOW and passkey.sign_count == 1


def test_an_open_redirect_in_next_is_dropped(clock, staff_client, authenticator):
    add_passkey(staff_client, authenticator)
    sign_out(staff_client)
    answer = passkey_sign_in(staff_client, authenticator, next_url="//evil.example/")
    assert answer.json == {"redirect": "/staff/"}


def test_a_passkey_from_another_origin_is_refused_and_counted(
    session, clock, staff_client, staff_member, authenticator
):
    add_passkey(staff_client, authenticator)
    sign_out(staff_client)

    answer = passkey_sign_in(staff_client, authenticator, origin="http://evil.example")

    assert answer.status_code == 403
    assert answer.json == {"error": REFUSED}
    assert not is_signed_in(staff_client)
    assert reload(session, staff_member).failed_attempts == 1
    assert events(session, audit.PASSKEY_FAILURE)[-1].details["reason"] == "wrong origin"


def test_the_refusal_that_locks_the_account_mails_the_lock_notice(
    app, session, clock, staff_client, staff_member, authenticator
):
    add_passkey(staff_client, authenticator)
    sign_out(staff_client)
    staff_member = reload(session, staff_member)
    staff_member.failed_attempts = 4
    session.commit()

    answer = passkey_sign_in(staff_client, authenticator, origin="http://evil.example")

    assert answer.json == {"error": REFUSED}
    assert reload(session, staff_member).is_locked(NOW)
    assert any("was locked" in subject for subject in subjects(app))
    # Locked: even the right passkey gets the same message, and no new mail.
    count = len(mails(app))
    assert passkey_sign_in(staff_client, authenticator).json == {"error": REFUSED}
    assert len(mails(app)) == count


# The second factor.


def test_a_passkey_is_the_second_factor_after_the_password(
    session, clock, staff_client, staff_member, authenticator
):
    add_passkey(staff_client, authenticator)
    sign_out(staff_client)
    assert sign_in(staff_client, STAFF_EMAIL, STAFF_PASSWORD).headers["Location"] == "/staff/2fa"
    page = staff_client.get("/staff/2fa").text
    assert 'id="passkey-second-factor"' in page
    # No authenticator app: the code field takes recovery codes.
    assert '<label for="code">Recovery code</label>' in page

    answer = passkey_second_factor(staff_client, authenticator)

    assert answer.json == {"redirect": "/staff/"}
    assert is_signed_in(staff_client)
    assert events(session, audit.SIGNIN_SUCCESS)[-1].details["method"] == "passkey"


def test_a_recovery_code_still_works_without_javascript(clock, staff_client, authenticator):
    add_passkey(staff_client, authenticator)
    codes = shown_recovery_codes(staff_client.get("/staff/account/passkeys/recovery-codes").text)
    sign_out(staff_client)
    sign_in(staff_client, STAFF_EMAIL, STAFF_PASSWORD)
    token = token_of(staff_client, "/staff/2fa")

    answer = staff_client.post("/staff/2fa", data={"csrf_token": token, "code": codes[0]})

    assert answer.status_code == 302 and answer.headers["Location"] == "/staff/"
    assert is_signed_in(staff_client)


def test_where_a_passkey_is_required_app_codes_give_way_to_it(
    app, session, clock, client, staff_member, authenticator
):
    secret, _codes = enrol(session, app, staff_member)
    set_security(session, staff_member.business_id, passkey_policy="all")
    staff_member = reload(session, staff_member)
    # A passkey of the user's, made in the domain as the page would.
    sign_in(client, STAFF_EMAIL, STAFF_PASSWORD)
    page = client.get("/staff/2fa")
    client.post(
        "/staff/2fa",
        data={
            "csrf_token": csrf_token(page.text),
            "code": totp.code_at(secret, totp.time_step(NOW)),
        },
    )
    clock.move_to(NOW + timedelta(seconds=30))
    add_passkey(client, authenticator)
    sign_out(client)
    sign_in(client, STAFF_EMAIL, STAFF_PASSWORD)

    page = client.get("/staff/2fa").text

    assert "codes from your authenticator app are not accepted" in page
    assert 'id="passkey-second-factor"' in page
    refused = client.post(
        "/staff/2fa",
        data={
            "csrf_token": csrf_token(page),
            "code": totp.code_at(secret, totp.time_step(NOW) + 1),
        },
    )
    assert refused.status_code == 422
    assert passkey_second_factor(client, authenticator).json == {"redirect": "/staff/"}


def test_the_second_factor_options_need_a_pending_sign_in(client, staff_member):
    token = token_of(client, "/staff/login")
    answer = json_post(client, "/staff/2fa/passkey/options", token)
    assert answer.status_code == 401
    assert answer.json == {"error": "Please sign in again."}


# The owner's rule, HIPAA.


def test_a_required_passkey_comes_right_after_the_password(
    session, clock, client, staff_member, authenticator
):
    set_security(session, staff_member.business_id, passkey_policy="all")
    assert sign_in(client, STAFF_EMAIL, STAFF_PASSWORD).status_code == 302

    assert client.get("/staff/").headers["Location"] == "/staff/account/passkeys"
    assert client.get("/staff/account/2fa").headers["Location"] == "/staff/account/passkeys"
    page = client.get("/staff/account/passkeys").text
    assert 'id="passkey-required"' in page
    assert "Your business requires a passkey (phishing-resistant sign-in)" in page

    assert add_passkey(client, authenticator).status_code == 200
    assert client.get("/staff/").status_code == 200


def test_owners_only_leaves_staff_members_free(session, clock, client, staff_member):
    set_security(session, staff_member.business_id, passkey_policy="owners")
    sign_in(client, STAFF_EMAIL, STAFF_PASSWORD)
    assert client.get("/staff/").status_code == 200


def test_a_passkey_is_two_factor_enough_for_hipaa_mode(
    app, session, clock, salon, client, staff_member, authenticator
):
    # HIPAA mode is served over HTTPS only: so is this portal.
    app.config["BASE_URL"] = "https://localhost"
    app.config["PREFERRED_URL_SCHEME"] = "https"  # the test client's requests
    client.environ_base["HTTP_REFERER"] = "https://localhost/staff/"
    set_compliance(session, salon.business, hipaa_mode=True)
    sign_in(client, STAFF_EMAIL, STAFF_PASSWORD)
    assert path_of(client.get("/staff/")) == "/staff/account/2fa"
    # The enrolment page offers a passkey instead.
    assert 'href="/staff/account/passkeys"' in client.get("/staff/account/2fa").text

    # A passkey-only member is not sent to the authenticator app afterwards.
    assert client.get("/staff/account/passkeys").status_code == 200
    assert add_passkey(client, authenticator, origin="https://localhost").status_code == 200
    assert client.get("/staff/").status_code == 200
    sign_out(client)
    sign_in(client, STAFF_EMAIL, STAFF_PASSWORD)
    answer = passkey_second_factor(client, authenticator, origin="https://localhost")
    assert answer.json == {"redirect": "/staff/"}
    assert client.get("/staff/").status_code == 200


# Removing.


def test_removing_a_passkey_is_audited_and_mailed(
    app, session, clock, staff_client, staff_member, authenticator
):
    add_passkey(staff_client, authenticator)
    [passkey] = passkeys_of(session, staff_member)
    page = staff_client.get("/staff/account/passkeys").text
    assert f'action="/staff/account/passkeys/{passkey.id}/remove"' in page

    answer = staff_client.post(
        f"/staff/account/passkeys/{passkey.id}/remove", data={"csrf_token": csrf_token(page)}
    )

    assert answer.headers["Location"] == "/staff/account/passkeys"
    assert (
        "The passkey \u201coffice laptop\u201d is removed."
        in staff_client.get("/staff/account/passkeys").text
    )
    assert passkeys_of(session, staff_member) == []
    [removed] = events(session, audit.PASSKEY_REMOVED)
    assert removed.details["name"] == "office laptop"
    assert "A passkey was removed from your account" in subjects(app)
    # It was the last second factor: its recovery codes went with it.
    assert (
        session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == staff_member.id)).all()
        == []
    )
    # The password alone signs in again.
    sign_out(staff_client)
    assert sign_in(staff_client, STAFF_EMAIL, STAFF_PASSWORD).headers["Location"] == "/staff/"


def test_another_users_passkey_cannot_be_removed(
    session, clock, salon, client, staff_member, owner, authenticator
):
    assert sign_in(client, STAFF_EMAIL, STAFF_PASSWORD).status_code == 302
    add_passkey(client, authenticator)
    [passkey] = passkeys_of(session, staff_member)
    sign_out(client)
    sign_in(client)  # the owner
    page = client.get("/staff/account/passkeys").text

    client.post(
        f"/staff/account/passkeys/{passkey.id}/remove", data={"csrf_token": csrf_token(page)}
    )

    assert "That passkey does not exist (any more)." in client.get("/staff/account/passkeys").text
    assert len(passkeys_of(session, staff_member)) == 1


# Bad input.


@pytest.mark.parametrize(
    "body",
    [
        None,
        {},
        {"credential": "not an object"},
        {"credential": None},
        [1, 2, 3],
    ],
)
def test_a_sign_in_without_a_credential_is_a_400_in_json(client, staff_member, body):
    token = token_of(client, "/staff/login")
    answer = json_post(client, "/staff/passkey", token, body)
    assert answer.status_code == 400
    assert answer.json == {
        "error": "The browser sent something we could not read. Please try again."
    }


def test_malformed_json_is_a_400_in_json(client, staff_member):
    token = token_of(client, "/staff/login")
    answer = client.post(
        "/staff/passkey",
        data="{not json",
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert answer.status_code == 400
    assert "error" in answer.json


def test_a_credential_that_is_no_credential_is_refused_and_audited(session, client, staff_member):
    token = token_of(client, "/staff/login")
    answer = json_post(client, "/staff/passkey", token, {"credential": {"id": "x", "type": 7}})
    assert answer.status_code == 403
    assert answer.json == {"error": REFUSED}
    assert events(session, audit.PASSKEY_FAILURE)[-1].details["reason"] == "malformed response"


def test_adding_without_a_name_or_the_fields_is_a_400(clock, staff_client, authenticator):
    token = token_of(staff_client, "/staff/account/passkeys")
    missing = staff_client.post(
        "/staff/account/passkeys/options",
        data={"csrf_token": token},
        headers={"X-CSRFToken": token},
    )
    assert missing.status_code == 400 and "error" in missing.json
    no_name = json_post(staff_client, "/staff/account/passkeys", token, {"credential": {}})
    assert no_name.status_code == 400 and "error" in no_name.json
    nameless = staff_client.post(
        "/staff/account/passkeys/options",
        data={"csrf_token": token, "name": " ", "confirm": STAFF_PASSWORD},
        headers={"X-CSRFToken": token},
    )
    assert nameless.status_code == 422
    assert "Give the passkey a name" in nameless.json["error"]


def test_a_huge_body_is_refused_in_json(client, staff_member):
    token = token_of(client, "/staff/login")
    answer = json_post(client, "/staff/passkey", token, {"credential": {"id": "x" * 100_000}})
    assert answer.status_code == 413
    assert "error" in answer.json


def test_without_the_csrf_token_nothing_starts(session, client, staff_member):
    answer = client.post("/staff/passkey/options", json={})
    assert answer.status_code == 400
    assert answer.json == {"error": "This page has expired. Please reload it and try again."}
    token = token_of(client, "/staff/login")
    assert json_post(client, "/staff/passkey/options", token + "x").status_code == 400


# Where passkeys cannot work.


@pytest.mark.parametrize(
    ("base_url", "says"),
    [
        ("http://127.0.0.1:8000", "Passkeys need a domain name"),
        ("http://portal.test", "Passkeys work only at http://portal.test"),
    ],
)
def test_no_passkey_buttons_where_passkeys_cannot_work(
    app, client, clock, staff_member, base_url, says
):
    app.config["BASE_URL"] = base_url

    assert 'id="passkey-signin"' not in client.get("/staff/login").text
    token = token_of(client, "/staff/login")
    answer = json_post(client, "/staff/passkey/options", token)
    assert answer.status_code == 404
    assert answer.json == {"error": "Passkeys cannot be used at this address."}
    sign_in(client, STAFF_EMAIL, STAFF_PASSWORD)
    page = client.get("/staff/account/passkeys").text
    assert says in page
    assert 'id="passkey-add"' not in page


def test_a_required_passkey_is_not_forced_where_none_can_be_added(
    app, session, client, clock, staff_member
):
    app.config["BASE_URL"] = "http://127.0.0.1:8000"
    set_security(session, staff_member.business_id, passkey_policy="all")
    sign_in(client, STAFF_EMAIL, STAFF_PASSWORD)
    assert client.get("/staff/").status_code == 200


def test_the_account_menu_links_the_passkeys_page(staff_client):
    page = staff_client.get("/staff/").text
    assert re.search(r'<a href="/staff/account/passkeys"[^>]*>Passkeys</a>', page)


def test_the_passkey_posts_are_rate_limited_in_json(app, client, staff_member):
    app.config["SIGNIN_RATE_LIMIT"] = "2 per minute"
    token = token_of(client, "/staff/login")
    answers = [json_post(client, "/staff/passkey/options", token) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert answers[-1].json == {
        "error": "You are going a little fast. Please wait a moment and retry."
    }
