"""Passkey ceremonies against the domain (portal.accounts.passkeys), with real signatures.

Each ceremony is made once by the software authenticator (real P-256 keys,
real ES256 signatures) and then replayed or forged the way an attacker or a
broken device would: another origin, another RP ID, the same response twice,
a challenge too old or from another browser, a counter that went back, a key
nobody registered, no user verification, another user's key at the second
step. Every refusal must be audited with its reason and, where the account is
known, count towards its lock as a wrong password does.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from webauthn.helpers import decode_credential_public_key

from portal.accounts import passkeys, sessions, totp
from portal.accounts.models import ClientAccount, Passkey, RecoveryCode
from portal.accounts.passkeys import PasskeyError, PasskeyRefused, RelyingParty
from portal.accounts.service import create_staff_user
from portal.audit import service as audit
from portal.audit.models import AuditEvent
from portal.audit.service import Origin
from tests.conftest import NOW, OWNER_PASSWORD, STAFF_PASSWORD
from tests.factories import make_client
from tests.test_staff_2fa import enrol, secret_box
from tests.webauthn_authenticator import AuthenticatorRefused, SoftAuthenticator, b64url

WHERE = Origin(ip_address="203.0.113.5", user_agent="pytest")
EVIL = "https://portal.test.evil.example"


@pytest.fixture(autouse=True)
def app_context(app):
    """The domain's messages and the audit seals need the app."""
    with app.app_context():
        yield


@pytest.fixture
def rp(app) -> RelyingParty:
    relying_party = RelyingParty.from_base_url(app.config["BASE_URL"])
    assert relying_party == RelyingParty(id="portal.test", origin="http://portal.test")
    return relying_party


@pytest.fixture
def binding() -> str:
    """The browser's session binding of most ceremonies here."""
    return passkeys.new_binding()


def now() -> datetime:
    """The frozen clock's time (tests move it with ``clock``)."""
    return datetime.now(UTC)


def register(session, account, authenticator, rp, binding, name="Office laptop") -> passkeys.Added:
    """One full registration ceremony, committed as a request would."""
    options = passkeys.registration_options(session, account, rp, binding, now())
    response = authenticator.register(options, rp.origin)
    added = passkeys.add_passkey(session, account, response, name, rp, binding, now(), WHERE)
    session.commit()
    return added


def sign_in(session, response, rp, binding, **scope):
    result = passkeys.sign_in_with_passkey(session, response, rp, binding, now(), WHERE, **scope)
    session.commit()
    return result


def refused(session, response, rp, binding, **scope) -> PasskeyRefused:
    """The refusal of a sign-in; committed, as the view commits the audit and the count."""
    with pytest.raises(PasskeyRefused) as caught:
        passkeys.sign_in_with_passkey(session, response, rp, binding, now(), WHERE, **scope)
    session.commit()
    return caught.value


def failures(session) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.kind == audit.PASSKEY_FAILURE)
            .order_by(AuditEvent.id)
        )
    )


def events(session, kind: str) -> list[AuditEvent]:
    return list(
        session.scalars(select(AuditEvent).where(AuditEvent.kind == kind).order_by(AuditEvent.id))
    )


def fresh(session, account):
    session.commit()
    session.refresh(account)
    return account


@pytest.fixture
def laptop() -> SoftAuthenticator:
    """Sam's platform authenticator: verifies the user, counts up by one."""
    return SoftAuthenticator()


@pytest.fixture
def sams_passkey(session, staff_member, laptop, rp, clock) -> Passkey:
    """Sam Staff's registered passkey (made with a binding of its own browser)."""
    return register(session, staff_member, laptop, rp, passkeys.new_binding()).passkey


def signin_options(session, rp, binding, **scope) -> str:
    return passkeys.authentication_options(session, rp, binding, now(), **scope)


# --- Registration ----------------------------------------------------------------


def test_registration_keeps_the_public_credential_and_gives_first_recovery_codes(
    session, staff_member, rp, binding, clock
):
    authenticator = SoftAuthenticator(backup_eligible=True, backed_up=True)
    options = json.loads(passkeys.registration_options(session, staff_member, rp, binding, now()))
    assert options["rp"] == {"id": "portal.test", "name": "Portal"}
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    response = authenticator.register(json.dumps(options), rp.origin)

    added = passkeys.add_passkey(
        session, staff_member, response, "  Office   laptop ", rp, binding, now(), WHERE
    )
    session.commit()

    (credential,) = authenticator.credentials.values()
    passkey = session.scalars(select(Passkey)).one()
    assert passkey.staff_user_id == staff_member.id and passkey.client_account_id is None
    assert passkey.business_id == staff_member.business_id
    assert passkey.name == "Office laptop"
    assert passkey.credential_id == credential.id
    # The public key kept is the authenticator's, as a COSE key.
    public = credential.private_key.public_key().public_numbers()
    decoded = decode_credential_public_key(passkey.public_key)
    assert (decoded.x, decoded.y) == (public.x.to_bytes(32, "big"), public.y.to_bytes(32, "big"))
    assert passkey.sign_count == 0
    assert passkey.transports == "internal,hybrid"
    assert passkey.aaguid == "5011c0de-5011-c0de-5011-c0de5011c0de"
    assert passkey.backed_up is True
    assert passkey.created_at == NOW and passkey.last_used_at is None
    # The user handle kept is the one the options gave the authenticator.
    assert passkey.user_handle == credential.user_handle
    assert b64url(passkey.user_handle) == options["user"]["id"]

    # Sam had no authenticator app: the passkey is the first second factor.
    assert added.recovery_codes is not None and len(added.recovery_codes) == 10
    stored = session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == staff_member.id))
    assert len(list(stored)) == 10
    assert len(events(session, audit.RECOVERY_CODES_ISSUED)) == 1
    (event,) = events(session, audit.PASSKEY_ADDED)
    assert event.actor_id == staff_member.id and event.details["name"] == "Office laptop"
    assert event.details["aaguid"] == passkey.aaguid
    assert fresh(session, staff_member).has_2fa


def test_a_second_passkey_keeps_the_handle_and_issues_no_new_codes(
    session, staff_member, sams_passkey, rp, binding
):
    phone = SoftAuthenticator(sign_count_step=0)
    options = json.loads(passkeys.registration_options(session, staff_member, rp, binding, now()))
    # The first passkey is excluded: the same authenticator twice would be one key, two names.
    assert [item["id"] for item in options["excludeCredentials"]] == [
        b64url(sams_passkey.credential_id)
    ]
    response = phone.register(json.dumps(options), rp.origin)
    added = passkeys.add_passkey(
        session, staff_member, response, "Phone", rp, binding, now(), WHERE
    )
    session.commit()
    assert added.recovery_codes is None
    assert added.passkey.user_handle == sams_passkey.user_handle
    assert len(events(session, audit.RECOVERY_CODES_ISSUED)) == 1


def test_a_user_with_an_authenticator_app_gets_no_recovery_codes_with_a_passkey(
    session, staff_member, rp, binding, clock
):
    staff_member.totp_enabled_at = NOW
    session.commit()
    added = register(session, staff_member, SoftAuthenticator(), rp, binding)
    assert added.recovery_codes is None
    assert events(session, audit.RECOVERY_CODES_ISSUED) == []


def test_the_authenticator_refuses_an_excluded_credential_and_a_forged_duplicate_is_refused(
    session, staff_member, sams_passkey, laptop, rp, binding
):
    options = passkeys.registration_options(session, staff_member, rp, binding, now())
    with pytest.raises(AuthenticatorRefused):
        laptop.register(options, rp.origin)
    # A response forged to carry the registered credential id again is refused by the server.
    forged = SoftAuthenticator().register(
        options, rp.origin, credential_id=sams_passkey.credential_id
    )
    with pytest.raises(PasskeyRefused) as caught:
        passkeys.add_passkey(session, staff_member, forged, "Again", rp, binding, now(), WHERE)
    session.commit()
    assert "registered already" in str(caught.value.message)
    assert failures(session)[-1].details["reason"] == "passkey registered already"
    assert len(fresh(session, staff_member).passkeys) == 1


def test_registration_without_user_verification_is_refused_and_audited_not_counted(
    session, staff_member, rp, binding, clock
):
    options = passkeys.registration_options(session, staff_member, rp, binding, now())
    response = SoftAuthenticator(uv=False).register(options, rp.origin)
    with pytest.raises(PasskeyRefused) as caught:
        passkeys.add_passkey(session, staff_member, response, "Key", rp, binding, now(), WHERE)
    session.commit()
    assert caught.value.message == passkeys.REGISTRATION_REFUSED
    (event,) = failures(session)
    assert event.details["reason"] == "user not verified"
    assert event.actor_id == staff_member.id
    assert session.scalars(select(Passkey)).first() is None
    # Adding a key is no sign-in: a signed-in user's failing device locks nothing.
    assert fresh(session, staff_member).failed_attempts == 0


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        (dict(origin=EVIL), "wrong origin"),
        (dict(rp_id="evil.example"), "wrong RP ID"),
        (dict(binding="another browser"), "challenge of another session"),
        (dict(late=True), "challenge expired"),
    ],
)
def test_forged_registrations_are_refused_and_audited(
    session, staff_member, rp, binding, clock, forge, reason
):
    options = passkeys.registration_options(session, staff_member, rp, binding, now())
    response = SoftAuthenticator().register(
        options, forge.get("origin", rp.origin), rp_id=forge.get("rp_id")
    )
    if forge.get("late"):
        clock.shift(passkeys.CHALLENGE_LIFETIME + timedelta(seconds=1))
    with pytest.raises(PasskeyRefused):
        passkeys.add_passkey(
            session, staff_member, response, "Key", rp, forge.get("binding", binding), now(), WHERE
        )
    session.commit()
    assert [event.details["reason"] for event in failures(session)] == [reason]
    assert session.scalars(select(Passkey)).first() is None


def test_a_registration_response_replayed_is_refused(session, staff_member, rp, binding, clock):
    options = passkeys.registration_options(session, staff_member, rp, binding, now())
    response = SoftAuthenticator().register(options, rp.origin)
    passkeys.add_passkey(session, staff_member, response, "Key", rp, binding, now(), WHERE)
    session.commit()
    with pytest.raises(PasskeyRefused):
        passkeys.add_passkey(session, staff_member, response, "Key 2", rp, binding, now(), WHERE)
    session.commit()
    assert failures(session)[-1].details["reason"] == "challenge used already"
    assert len(fresh(session, staff_member).passkeys) == 1


@pytest.mark.parametrize(
    ("name", "message"),
    [("   ", "Give the passkey a name"), ("x" * 61, "at most 60 characters")],
)
def test_a_passkey_needs_a_short_name(session, staff_member, rp, binding, clock, name, message):
    options = passkeys.registration_options(session, staff_member, rp, binding, now())
    response = SoftAuthenticator().register(options, rp.origin)
    with pytest.raises(PasskeyError, match=message):
        passkeys.add_passkey(session, staff_member, response, name, rp, binding, now(), WHERE)


def test_two_passkeys_cannot_share_a_name(session, staff_member, sams_passkey, rp, binding):
    options = passkeys.registration_options(session, staff_member, rp, binding, now())
    response = SoftAuthenticator().register(options, rp.origin)
    with pytest.raises(PasskeyError, match="already have a passkey called"):
        passkeys.add_passkey(
            session, staff_member, response, "office LAPTOP", rp, binding, now(), WHERE
        )


@pytest.mark.parametrize("body", ["", "{", "[]", '{"id": 5}', json.dumps({"id": "x" * 10})])
def test_a_malformed_registration_is_refused_and_audited(
    session, staff_member, rp, binding, clock, body
):
    with pytest.raises(PasskeyRefused):
        passkeys.add_passkey(session, staff_member, body, "Key", rp, binding, now(), WHERE)
    session.commit()
    assert failures(session)[-1].details["reason"] == "malformed response"


def test_identity_is_confirmed_by_the_password_or_a_fresh_app_code(
    app, session, staff_member, clock
):
    box = secret_box(app)
    assert passkeys.confirm_identity(session, staff_member, STAFF_PASSWORD, now(), box)
    assert not passkeys.confirm_identity(session, staff_member, "guess", now(), box)
    assert not passkeys.confirm_identity(session, staff_member, "123456", now(), box)

    secret, _ = enrol(session, app, staff_member)
    code = totp.code_at(secret, totp.time_step(now()))
    assert passkeys.confirm_identity(session, staff_member, f" {code} ", now(), box)
    # Used up, as at sign-in; and no box, no codes.
    assert not passkeys.confirm_identity(session, staff_member, code, now(), box)
    later = totp.code_at(secret, totp.time_step(now()) + 1)
    assert not passkeys.confirm_identity(session, staff_member, later, now(), None)


# --- Signing in: the good path -----------------------------------------------------


def test_a_discoverable_sign_in_returns_the_owner_and_records_the_use(
    session, staff_member, sams_passkey, laptop, rp, binding, clock
):
    staff_member.failed_attempts = 2
    session.commit()
    clock.shift(timedelta(hours=1))
    options = json.loads(signin_options(session, rp, binding))
    assert options["rpId"] == "portal.test"
    assert options["allowCredentials"] == []  # the browser offers whichever passkey the person has
    assert options["userVerification"] == "required"
    response = laptop.authenticate(json.dumps(options), rp.origin)

    account, passkey = sign_in(session, response, rp, binding)

    assert account.id == staff_member.id and passkey.id == sams_passkey.id
    passkey = session.get(Passkey, sams_passkey.id)
    assert passkey.sign_count == 1
    assert passkey.last_used_at == NOW + timedelta(hours=1)
    assert fresh(session, staff_member).failed_attempts == 0
    assert failures(session) == []


def test_an_authenticator_without_a_counter_signs_in_again_and_again(
    session, staff_member, rp, binding, clock
):
    synced = SoftAuthenticator(sign_count_step=0, backup_eligible=True, backed_up=True)
    register(session, staff_member, synced, rp, binding)
    for _ in range(3):
        response = synced.authenticate(signin_options(session, rp, binding), rp.origin)
        account, passkey = sign_in(session, response, rp, binding)
        assert account.id == staff_member.id
        assert passkey.sign_count == 0 and passkey.backed_up


def test_the_second_step_offers_only_the_users_passkeys(
    session, owner, staff_member, sams_passkey, laptop, rp, binding
):
    register(session, owner, SoftAuthenticator(), rp, binding)
    options = json.loads(signin_options(session, rp, binding, account=staff_member))
    assert [item["id"] for item in options["allowCredentials"]] == [
        b64url(sams_passkey.credential_id)
    ]
    response = laptop.authenticate(json.dumps(options), rp.origin)
    account, _ = sign_in(session, response, rp, binding, account=staff_member)
    assert account.id == staff_member.id


# --- Signing in: forged and replayed ceremonies ------------------------------------


def assert_counted(session, user, reason: str, attempts: int = 1) -> None:
    """One more ``passkey.failure`` with ``reason`` on ``user``'s account, and one more failure."""
    event = failures(session)[-1]
    assert event.details["reason"] == reason
    assert (event.actor_kind, event.actor_id) == (user.kind, user.id)
    assert event.details["failed_attempts"] == attempts
    assert fresh(session, user).failed_attempts == attempts


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        (dict(origin=EVIL), "wrong origin"),
        (dict(origin="http://portal.test:8080"), "wrong origin"),
        (dict(rp_id="evil.example"), "wrong RP ID"),
        (dict(uv=False), "user not verified"),
    ],
    ids=["other-site", "other-port", "rp-id", "no-uv"],
)
def test_a_forged_sign_in_is_refused_audited_and_counted(
    session, staff_member, sams_passkey, laptop, rp, binding, forge, reason
):
    options = signin_options(session, rp, binding)
    response = laptop.authenticate(
        options, forge.get("origin", rp.origin), rp_id=forge.get("rp_id"), uv=forge.get("uv")
    )
    refusal = refused(session, response, rp, binding)
    assert refusal.message == passkeys.REFUSED  # one message: the reason is for the log only
    assert refusal.account.id == staff_member.id and not refusal.just_locked
    assert_counted(session, staff_member, reason)
    assert session.get(Passkey, sams_passkey.id).last_used_at is None


def test_the_same_response_twice_is_refused_the_second_time(
    session, staff_member, sams_passkey, laptop, rp, binding
):
    response = laptop.authenticate(signin_options(session, rp, binding), rp.origin)
    sign_in(session, response, rp, binding)
    refused(session, response, rp, binding)
    assert_counted(session, staff_member, "challenge used already")


def test_a_challenge_older_than_five_minutes_is_refused(
    session, staff_member, sams_passkey, laptop, rp, binding, clock
):
    options = signin_options(session, rp, binding)
    response = laptop.authenticate(options, rp.origin)
    clock.shift(timedelta(minutes=5))  # exactly five minutes: gone
    refused(session, response, rp, binding)
    assert_counted(session, staff_member, "challenge expired")


def test_a_challenge_just_under_five_minutes_old_still_works(
    session, staff_member, sams_passkey, laptop, rp, binding, clock
):
    response = laptop.authenticate(signin_options(session, rp, binding), rp.origin)
    clock.shift(timedelta(minutes=5) - timedelta(seconds=1))
    account, _ = sign_in(session, response, rp, binding)
    assert account.id == staff_member.id


def test_a_challenge_of_another_browser_is_refused(
    session, staff_member, sams_passkey, laptop, rp, binding
):
    """A response caught on its way (a log, a proxy) and sent from the attacker's browser."""
    response = laptop.authenticate(signin_options(session, rp, binding), rp.origin)
    refused(session, response, rp, passkeys.new_binding())
    assert_counted(session, staff_member, "challenge of another session")
    # A stranger cannot use up the rightful browser's challenge: it still signs in there.
    assert sign_in(session, response, rp, binding)[0].id == staff_member.id


def test_a_response_without_a_binding_is_refused(
    session, staff_member, sams_passkey, laptop, rp, binding
):
    response = laptop.authenticate(signin_options(session, rp, binding), rp.origin)
    refused(session, response, rp, None)
    assert_counted(session, staff_member, "challenge of another session")


def test_a_challenge_issued_for_registration_does_not_sign_in(
    session, staff_member, sams_passkey, laptop, rp, binding
):
    register_options = json.loads(
        passkeys.registration_options(session, staff_member, rp, binding, now())
    )
    # An assertion over the registration challenge, signed by Sam's real key.
    response = laptop.authenticate(json.dumps({**register_options, "rpId": rp.id}), rp.origin)
    refused(session, response, rp, binding)
    assert_counted(session, staff_member, "challenge of another session")


def test_a_challenge_this_server_never_issued_is_refused(
    session, staff_member, sams_passkey, laptop, rp, binding
):
    options = json.loads(signin_options(session, rp, binding))
    options["challenge"] = b64url(secrets.token_bytes(32))
    response = laptop.authenticate(json.dumps(options), rp.origin)
    refused(session, response, rp, binding)
    assert_counted(session, staff_member, "unknown challenge")


def test_a_counter_that_went_back_is_refused(
    session, staff_member, sams_passkey, laptop, rp, binding
):
    """A cloned authenticator: the copy reports a count the server has seen already."""
    sign_in(
        session, laptop.authenticate(signin_options(session, rp, binding), rp.origin), rp, binding
    )
    sign_in(
        session, laptop.authenticate(signin_options(session, rp, binding), rp.origin), rp, binding
    )
    assert session.get(Passkey, sams_passkey.id).sign_count == 2
    response = laptop.authenticate(signin_options(session, rp, binding), rp.origin, sign_count=2)
    refused(session, response, rp, binding)
    assert_counted(session, staff_member, "sign count went back")
    assert session.get(Passkey, sams_passkey.id).sign_count == 2


def test_a_response_signed_by_another_key_is_refused(
    session, staff_member, sams_passkey, rp, binding
):
    """Sam's credential id, but the signature of a key that is not Sam's."""
    impostor = SoftAuthenticator()
    options = signin_options(session, rp, binding)
    response = impostor.authenticate(options, rp.origin, credential_id=sams_passkey.credential_id)
    refused(session, response, rp, binding)
    assert_counted(session, staff_member, "signature not valid")


def test_a_user_handle_of_another_account_is_refused(
    session, staff_member, sams_passkey, laptop, rp, binding
):
    response = json.loads(laptop.authenticate(signin_options(session, rp, binding), rp.origin))
    response["response"]["userHandle"] = b64url(secrets.token_bytes(32))
    refused(session, json.dumps(response), rp, binding)
    assert_counted(session, staff_member, "user handle mismatch")


def test_an_unknown_credential_is_refused_and_audited_anonymously(
    session, owner, staff_member, sams_passkey, laptop, rp, binding
):
    stranger = SoftAuthenticator()
    options = signin_options(session, rp, binding)
    response = stranger.authenticate(options, rp.origin, credential_id=secrets.token_bytes(32))
    refusal = refused(session, response, rp, binding)
    assert refusal.account is None and refusal.message == passkeys.REFUSED
    (event,) = failures(session)
    assert (event.actor_kind, event.actor_id, event.actor_label) == ("anonymous", None, "")
    assert event.details == {"reason": "unknown passkey"}
    assert (event.ip_address, event.user_agent) == ("203.0.113.5", "pytest")
    # Nobody's account counts a failure: there is nobody to count it against.
    assert fresh(session, staff_member).failed_attempts == 0
    assert fresh(session, owner).failed_attempts == 0


@pytest.mark.parametrize("body", ["", "null", "{}", '{"id": "a", "rawId": "a"}', "[1, 2]"])
def test_a_malformed_sign_in_is_refused_and_audited(session, rp, binding, clock, body):
    refusal = refused(session, body, rp, binding)
    assert refusal.account is None
    assert failures(session)[-1].details["reason"] == "malformed response"


MANGLED = {
    "short authenticator data": ("authenticatorData", b64url(b"x" * 36)),
    "authenticator data not base64": ("authenticatorData", "@@@"),
    "signature garbage": ("signature", b64url(b"not a DER signature")),
    "empty signature": ("signature", ""),
    "client data not JSON": ("clientDataJSON", b64url(b"not json")),
    "client data without a challenge": ("clientDataJSON", b64url(b'{"type":"webauthn.get"}')),
    "user handle a number": ("userHandle", 5),
}


@pytest.mark.parametrize("field, value", MANGLED.values(), ids=MANGLED.keys())
def test_a_mangled_recorded_response_is_refused_never_an_error(
    session, staff_member, sams_passkey, laptop, rp, binding, field, value
):
    recorded = json.loads(laptop.authenticate(signin_options(session, rp, binding), rp.origin))
    recorded["response"][field] = value
    refused(session, json.dumps(recorded), rp, binding)
    assert failures(session)[-1].details["reason"]
    assert session.get(Passkey, sams_passkey.id).last_used_at is None


def test_an_id_that_is_not_the_raw_id_is_refused(
    session, staff_member, sams_passkey, laptop, rp, binding
):
    recorded = json.loads(laptop.authenticate(signin_options(session, rp, binding), rp.origin))
    recorded["id"] = b64url(secrets.token_bytes(32))
    refused(session, json.dumps(recorded), rp, binding)
    assert_counted(session, staff_member, "response not valid")


def test_failures_lock_the_account_and_the_lock_is_audited(
    session, staff_member, sams_passkey, laptop, rp, binding
):
    for attempt in range(1, 5):
        response = laptop.authenticate(signin_options(session, rp, binding), EVIL)
        assert not refused(session, response, rp, binding).just_locked
        assert_counted(session, staff_member, "wrong origin", attempts=attempt)
    response = laptop.authenticate(signin_options(session, rp, binding), EVIL)
    assert refused(session, response, rp, binding).just_locked
    assert fresh(session, staff_member).is_locked(now())
    (locked,) = events(session, audit.ACCOUNT_LOCKED)
    assert locked.actor_id == staff_member.id

    # Locked: even the right passkey, rightly used, does not sign in; that is audited, not counted.
    response = laptop.authenticate(signin_options(session, rp, binding), rp.origin)
    refusal = refused(session, response, rp, binding)
    assert refusal.account.id == staff_member.id and not refusal.just_locked
    assert failures(session)[-1].details["reason"] == "locked"
    assert fresh(session, staff_member).failed_attempts == 5
    assert session.get(Passkey, sams_passkey.id).last_used_at is None


def test_a_locked_account_is_refused_until_the_lock_ends(
    session, staff_member, sams_passkey, laptop, rp, binding, clock
):
    staff_member.locked_at = now()
    staff_member.locked_until = now() + timedelta(minutes=15)
    session.commit()
    refused(
        session, laptop.authenticate(signin_options(session, rp, binding), rp.origin), rp, binding
    )
    assert failures(session)[-1].details["reason"] == "locked"
    clock.shift(timedelta(minutes=15))
    response = laptop.authenticate(signin_options(session, rp, binding), rp.origin)
    assert sign_in(session, response, rp, binding)[0].id == staff_member.id


def test_a_deactivated_account_cannot_sign_in_with_its_passkey(
    session, staff_member, sams_passkey, laptop, rp, binding
):
    staff_member.active = False
    session.commit()
    refused(
        session, laptop.authenticate(signin_options(session, rp, binding), rp.origin), rp, binding
    )
    assert failures(session)[-1].details["reason"] == "account inactive"


# --- The second step (after the right password) ---------------------------------------


def test_another_users_passkey_at_the_second_step_is_refused_and_counted_for_the_user(
    session, owner, staff_member, sams_passkey, laptop, rp, binding
):
    """Sam typed the owner's password and offers Sam's own passkey for the owner's step."""
    register(session, owner, SoftAuthenticator(), rp, binding)
    options = signin_options(session, rp, binding, account=owner)
    response = laptop.authenticate(options, rp.origin, credential_id=sams_passkey.credential_id)
    refusal = refused(session, response, rp, binding, account=owner)
    assert refusal.account.id == owner.id
    assert_counted(session, owner, "unknown passkey")
    assert fresh(session, staff_member).failed_attempts == 0
    assert session.get(Passkey, sams_passkey.id).last_used_at is None


def test_a_second_step_challenge_of_another_user_is_refused(
    session, owner, staff_member, sams_passkey, laptop, rp, binding
):
    register(session, owner, SoftAuthenticator(), rp, binding)
    options_for_owner = signin_options(session, rp, binding, account=owner)
    response = laptop.authenticate(
        options_for_owner, rp.origin, credential_id=sams_passkey.credential_id
    )
    refused(session, response, rp, binding, account=staff_member)
    assert_counted(session, staff_member, "challenge of another account")


def test_a_discoverable_challenge_does_not_pass_the_second_step(
    session, staff_member, sams_passkey, laptop, rp, binding
):
    response = laptop.authenticate(signin_options(session, rp, binding), rp.origin)
    refused(session, response, rp, binding, account=staff_member)
    assert_counted(session, staff_member, "challenge of another session")


# --- Removing and resetting ------------------------------------------------------------


def test_a_user_removes_their_own_passkey_only(
    session, owner, staff_member, sams_passkey, rp, binding
):
    owners = register(session, owner, SoftAuthenticator(), rp, binding).passkey
    with pytest.raises(PasskeyError, match="does not exist"):
        passkeys.remove_passkey(session, staff_member, owners.id, now(), WHERE)
    session.rollback()
    removed = passkeys.remove_passkey(session, staff_member, sams_passkey.id, now(), WHERE)
    session.commit()
    assert removed.name == "Office laptop"
    assert session.scalars(select(Passkey.id)).all() == [owners.id]
    (event,) = events(session, audit.PASSKEY_REMOVED)
    assert event.actor_id == staff_member.id and event.details["name"] == "Office laptop"
    assert not fresh(session, staff_member).has_passkey


def test_a_removed_passkey_no_longer_signs_in(
    session, staff_member, sams_passkey, laptop, rp, binding
):
    passkeys.remove_passkey(session, staff_member, sams_passkey.id, now(), WHERE)
    session.commit()
    response = laptop.authenticate(signin_options(session, rp, binding), rp.origin)
    assert refused(session, response, rp, binding).account is None
    assert failures(session)[-1].details["reason"] == "unknown passkey"


def test_the_owner_resets_a_members_passkeys_with_their_password(
    session, owner, staff_member, sams_passkey, rp, binding
):
    register(session, staff_member, SoftAuthenticator(), rp, binding, name="Phone")
    token = sessions.start(session, staff_member, now())
    session.commit()

    with pytest.raises(PasskeyError, match="password was not correct"):
        passkeys.reset_passkeys(session, owner, staff_member, "guess", now(), WHERE)
    session.rollback()
    assert len(fresh(session, staff_member).passkeys) == 2

    removed = passkeys.reset_passkeys(session, owner, staff_member, OWNER_PASSWORD, now(), WHERE)
    session.commit()
    assert removed == 2
    assert not fresh(session, staff_member).passkeys
    assert session.scalars(select(Passkey)).first() is None
    # Sam had no authenticator app: the recovery codes went with the passkeys.
    assert not session.scalars(
        select(RecoveryCode).where(RecoveryCode.user_id == staff_member.id)
    ).all()
    assert sessions.find(session, token).ended_at == now()
    (event,) = events(session, audit.PASSKEYS_RESET)
    assert event.actor_id == owner.id
    assert event.details == {"user": staff_member.email, "removed": 2}


def test_a_reset_keeps_the_recovery_codes_of_an_authenticator_app(
    session, owner, staff_member, sams_passkey
):
    staff_member.totp_enabled_at = NOW
    session.commit()
    passkeys.reset_passkeys(session, owner, staff_member, OWNER_PASSWORD, now(), WHERE)
    session.commit()
    codes = session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == staff_member.id))
    assert len(list(codes)) == 10


def test_only_the_owner_of_the_same_business_resets_passkeys(
    session, owner, staff_member, sams_passkey, rival
):
    with pytest.raises(PasskeyError, match="Only the business owner"):
        passkeys.reset_passkeys(session, staff_member, owner, STAFF_PASSWORD, now(), WHERE)
    rival_owner = create_staff_user(
        session, rival.business, email="robin@rival.example", password=OWNER_PASSWORD, role="owner"
    )
    session.commit()
    with pytest.raises(PasskeyError, match="Only the business owner"):
        passkeys.reset_passkeys(session, rival_owner, staff_member, OWNER_PASSWORD, now(), WHERE)
    session.rollback()
    assert len(fresh(session, staff_member).passkeys) == 1
    assert events(session, audit.PASSKEYS_RESET) == []


# --- Client passkeys are scoped to their business -------------------------------------


def client_account(session, business, email="mia@example.com") -> ClientAccount:
    client = make_client(session, business, name="Mia Example", email=email)
    account = ClientAccount(
        business_id=business.id,
        client_id=client.id,
        email=email,
        name="Mia Example",
        email_verified_at=NOW,
    )
    session.add(account)
    session.commit()
    return account


def test_a_client_passkey_signs_in_at_its_own_business_only(
    session, salon, rival, rp, binding, clock
):
    mia = client_account(session, salon.business)
    phone = SoftAuthenticator()
    added = register(session, mia, phone, rp, binding, name="Phone")
    assert added.recovery_codes is None  # clients have no second factor to recover
    assert added.passkey.client_account_id == mia.id and added.passkey.staff_user_id is None

    at_salon = dict(kind=ClientAccount, business_id=salon.business.id)
    response = phone.authenticate(
        signin_options(session, rp, binding, business_id=salon.business.id), rp.origin
    )
    account, _ = sign_in(session, response, rp, binding, **at_salon)
    assert account.id == mia.id

    # The same passkey at another business's sign-in: nobody there has it.
    at_rival = dict(kind=ClientAccount, business_id=rival.business.id)
    options = signin_options(session, rp, binding, business_id=rival.business.id)
    refusal = refused(session, phone.authenticate(options, rp.origin), rp, binding, **at_rival)
    assert refusal.account is None
    event = failures(session)[-1]
    assert event.details["reason"] == "unknown passkey"
    assert (event.business_id, event.actor_kind) == (rival.business.id, "anonymous")
    assert fresh(session, mia).failed_attempts == 0


def test_a_challenge_of_one_business_does_not_sign_in_at_another(
    session, salon, rival, rp, binding, clock
):
    mia = client_account(session, salon.business)
    phone = SoftAuthenticator()
    register(session, mia, phone, rp, binding)
    options = signin_options(session, rp, binding, business_id=rival.business.id)
    response = phone.authenticate(options, rp.origin)
    refused(session, response, rp, binding, kind=ClientAccount, business_id=salon.business.id)
    assert_counted(session, mia, "challenge of another business")


def test_staff_sign_in_ignores_client_passkeys(session, salon, staff_member, rp, binding, clock):
    mia = client_account(session, salon.business)
    phone = SoftAuthenticator()
    register(session, mia, phone, rp, binding)
    response = phone.authenticate(signin_options(session, rp, binding), rp.origin)
    assert refused(session, response, rp, binding).account is None
    assert failures(session)[-1].details["reason"] == "unknown passkey"
    assert fresh(session, mia).failed_attempts == 0


def test_client_sign_in_ignores_staff_passkeys(
    session, salon, staff_member, sams_passkey, laptop, rp, binding
):
    options = signin_options(session, rp, binding, business_id=salon.business.id)
    response = laptop.authenticate(options, rp.origin)
    refusal = refused(
        session, response, rp, binding, kind=ClientAccount, business_id=salon.business.id
    )
    assert refusal.account is None
    assert fresh(session, staff_member).failed_attempts == 0


def test_a_client_with_failures_is_locked_like_staff(session, salon, rp, binding, clock):
    mia = client_account(session, salon.business)
    phone = SoftAuthenticator()
    register(session, mia, phone, rp, binding)
    scope = dict(kind=ClientAccount, business_id=salon.business.id)
    for _ in range(5):
        options = signin_options(session, rp, binding, business_id=salon.business.id)
        last = refused(
            session, phone.authenticate(options, rp.origin, uv=False), rp, binding, **scope
        )
    assert last.just_locked
    assert fresh(session, mia).is_locked(now())
    (locked,) = events(session, audit.ACCOUNT_LOCKED)
    assert (locked.actor_kind, locked.actor_id) == ("client", mia.id)


# --- The relying party ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        (
            "https://book.salon.example",
            RelyingParty("book.salon.example", "https://book.salon.example"),
        ),
        (
            "https://Book.Salon.Example:8443/",
            RelyingParty("book.salon.example", "https://book.salon.example:8443"),
        ),
        ("http://localhost:5000", RelyingParty("localhost", "http://localhost:5000")),
        ("http://192.0.2.10", None),
        ("http://[2001:db8::1]:8080", None),
        ("not a url", None),
    ],
)
def test_the_relying_party_is_the_base_urls_domain(base_url, expected):
    assert RelyingParty.from_base_url(base_url) == expected
