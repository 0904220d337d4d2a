"""Passkeys (WebAuthn): adding them, signing in with them, refusing what is not right.

py_webauthn checks each ceremony (CBOR, signatures, origin, RP ID, flags, the
counter); what Portal adds is around it: challenges that are single-use, bound
to one browser and good for five minutes; user verification always required;
named keys per account; one generic refusal for every failure, each audited and
counted towards the account's lock as a wrong password is.

Plain functions over a session; they flush, never commit.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask_babel import gettext as _
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    parse_authentication_credential_json,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidJSONStructure,
    InvalidRegistrationResponse,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from portal.accounts import lockout, sessions, totp
from portal.accounts.models import (
    ClientAccount,
    Passkey,
    PasskeyChallenge,
    RecoveryCode,
    StaffUser,
)
from portal.accounts.passwords import verify_password
from portal.accounts.service import issue_recovery_codes, record_lock, security_settings
from portal.audit import service as audit
from portal.audit.service import Origin
from portal.web.lazy_text import lazy_text as _l

CHALLENGE_LIFETIME = timedelta(minutes=5)
#: What the browser is told to wait for; the server's own limit is CHALLENGE_LIFETIME.
TIMEOUT_MS = 300_000
NAME_MAX = 60

REGISTER = "register"
#: A sign-in that names no account: the passkey says whose it is (a discoverable credential).
SIGN_IN = "signin"
#: The second step after the right password: only that user's passkeys.
SECOND_FACTOR = "second"

#: The one message for every refused passkey: which check failed is for the audit log only.
REFUSED = _l("That passkey could not be used. Try again, or sign in with your password instead.")
REGISTRATION_REFUSED = _l(
    "The passkey could not be added. Please try again; if it keeps failing, "
    "try another browser or device."
)


@dataclass(frozen=True)
class RelyingParty:
    """Who the passkeys belong to: the domain of ``PORTAL_BASE_URL`` and its origin."""

    id: str
    origin: str
    name: str = "Portal"

    @classmethod
    def from_base_url(cls, base_url: str) -> RelyingParty | None:
        """The relying party of ``base_url``; None when its host is an IP address.

        WebAuthn binds passkeys to a domain name: browsers refuse an IP address
        as RP ID, so a portal reached only by address offers no passkeys.
        """
        parts = urlsplit(base_url)
        host = (parts.hostname or "").lower()
        if not host:
            return None
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return cls(id=host, origin=f"{parts.scheme}://{parts.netloc.lower()}")
        return None


class PasskeyRefused(Exception):
    """A ceremony failed; ``message`` is all the user is told."""

    def __init__(self, account=None, *, just_locked: bool = False, message=None) -> None:
        super().__init__("passkey refused")
        self.account = account
        self.just_locked = just_locked
        self.message = message or REFUSED


class PasskeyError(ValueError):
    """A passkey cannot be added, named or removed as asked (a plain, specific message)."""


@dataclass
class Added:
    passkey: Passkey
    #: New recovery codes, shown once, when this passkey is the account's first second factor.
    recovery_codes: list[str] | None


def owner_filter(account):
    """The WHERE clause of ``account``'s passkeys."""
    if isinstance(account, StaffUser):
        return Passkey.staff_user_id == account.id
    return Passkey.client_account_id == account.id


# --- Challenges ---------------------------------------------------------------


def new_binding() -> str:
    """A random value the browser's session keeps: challenges are bound to it."""
    return secrets.token_urlsafe(32)


def _hash(value: bytes | str) -> str:
    if isinstance(value, str):
        value = value.encode()
    return hashlib.sha256(value).hexdigest()


def issue_challenge(
    session: Session,
    purpose: str,
    binding: str,
    now: datetime,
    *,
    account=None,
    business_id: int | None = None,
) -> bytes:
    """A fresh challenge for one ceremony, remembered by its hash only."""
    session.execute(delete(PasskeyChallenge).where(PasskeyChallenge.expires_at < now))
    challenge = secrets.token_bytes(32)
    session.add(
        PasskeyChallenge(
            challenge_hash=_hash(challenge),
            purpose=purpose,
            binding_hash=_hash(binding),
            account_kind=account.kind if account is not None else None,
            account_id=account.id if account is not None else None,
            business_id=business_id,
            created_at=now,
            expires_at=now + CHALLENGE_LIFETIME,
        )
    )
    session.flush()
    return challenge


def _take_challenge(
    session: Session,
    client_data_json: bytes,
    purpose: str,
    binding: str | None,
    now: datetime,
    *,
    account=None,
    business_id: int | None = None,
) -> tuple[bytes | None, str]:
    """The challenge the response answers, used up now; (None, why) if it may not be used.

    The challenge comes from the response itself; it counts only if this server
    issued it for this purpose, to this browser (``binding``), for this account,
    less than five minutes ago, and nobody used it before. Using it is one
    conditional UPDATE, so two requests racing with the same response cannot
    both pass.
    """
    try:
        challenge = parse_client_data_json(client_data_json).challenge
    except Exception:  # noqa: BLE001 (malformed client data, whatever the parser raised)
        return None, "malformed response"
    record = session.scalars(
        select(PasskeyChallenge).where(PasskeyChallenge.challenge_hash == _hash(challenge))
    ).first()
    if record is None:
        return None, "unknown challenge"
    if record.used_at is not None:
        return None, "challenge used already"
    if record.expires_at <= now:
        return None, "challenge expired"
    if binding is None or record.binding_hash != _hash(binding) or record.purpose != purpose:
        return None, "challenge of another session"
    if account is not None and (record.account_kind, record.account_id) != (
        account.kind,
        account.id,
    ):
        return None, "challenge of another account"
    if record.business_id != business_id:
        return None, "challenge of another business"
    taken = session.execute(
        update(PasskeyChallenge)
        .where(PasskeyChallenge.id == record.id, PasskeyChallenge.used_at.is_(None))
        .values(used_at=now)
    )
    if taken.rowcount != 1:
        return None, "challenge used already"
    return challenge, ""


# --- Adding a passkey ---------------------------------------------------------


def confirm_identity(
    session: Session, account, secret: str, now: datetime, box: totp.SecretBox | None
) -> bool:
    """Whether ``secret`` is the account's password or, for staff, a current app code.

    A matching code is used up, as at sign-in.
    """
    if verify_password(account.password_hash, secret):
        return True
    if box is None or not isinstance(account, StaffUser) or not account.has_totp:
        return False
    secret_key = totp.readable(box, account.totp_secret_encrypted)
    if secret_key is None:
        return False
    step = totp.matching_step(secret_key, secret.strip(), now, account.totp_last_step)
    if step is None:
        return False
    account.totp_last_step = step
    session.flush()
    return True


def registration_options(
    session: Session, account, rp: RelyingParty, binding: str, now: datetime
) -> str:
    """The JSON options for ``navigator.credentials.create()`` for one more passkey."""
    challenge = issue_challenge(
        session, REGISTER, binding, now, account=account, business_id=account.business_id
    )
    existing = list(account.passkeys)
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_name=account.email,
        user_id=_user_handle(account, challenge),
        user_display_name=account.name or account.email,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        # The same authenticator twice would be one key under two names.
        exclude_credentials=[_descriptor(passkey) for passkey in existing],
    )
    return options_to_json(options)


def add_passkey(
    session: Session,
    account,
    response: str,
    name: str,
    rp: RelyingParty,
    binding: str | None,
    now: datetime,
    origin: Origin,
) -> Added:
    """Verify a registration and keep the passkey; raises PasskeyRefused or PasskeyError."""
    name = _checked_name(session, account, name)
    try:
        credential = parse_registration_credential_json(response)
    except (InvalidJSONStructure, InvalidRegistrationResponse, ValueError, TypeError) as error:
        _record_failure(session, account, now, origin, "malformed response", str(error))
        raise PasskeyRefused(account, message=REGISTRATION_REFUSED) from None
    challenge, why = _take_challenge(
        session,
        credential.response.client_data_json,
        REGISTER,
        binding,
        now,
        account=account,
        business_id=account.business_id,
    )
    if challenge is None:
        _record_failure(session, account, now, origin, why)
        raise PasskeyRefused(account, message=REGISTRATION_REFUSED)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=True,
        )
    except InvalidRegistrationResponse as error:
        _record_failure(session, account, now, origin, _reason(str(error)), str(error))
        raise PasskeyRefused(account, message=REGISTRATION_REFUSED) from None
    taken = session.scalars(
        select(Passkey.id).where(Passkey.credential_id == verified.credential_id)
    ).first()
    if taken is not None:
        _record_failure(session, account, now, origin, "passkey registered already")
        raise PasskeyRefused(
            account,
            message=_("This passkey is registered already. Choose another device or key."),
        )
    first_factor = not account.has_2fa if isinstance(account, StaffUser) else False
    passkey = Passkey(
        business_id=account.business_id,
        name=name,
        credential_id=verified.credential_id,
        user_handle=_user_handle(account, challenge),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=",".join(_transports(credential)),
        aaguid=verified.aaguid,
        backed_up=bool(verified.credential_backed_up),
        created_at=now,
    )
    account.passkeys.append(passkey)
    audit.record(
        session,
        audit.PASSKEY_ADDED,
        now,
        business_id=account.business_id,
        actor=account,
        origin=origin,
        name=name,
        aaguid=verified.aaguid,
    )
    codes = None
    if first_factor:
        codes = issue_recovery_codes(session, account, now, origin)
    session.flush()
    return Added(passkey, codes)


def remove_passkey(
    session: Session, account, passkey_id: int, now: datetime, origin: Origin
) -> Passkey:
    """Remove one of ``account``'s own passkeys; raises PasskeyError for any other id."""
    passkey = session.scalars(
        select(Passkey).where(Passkey.id == passkey_id, owner_filter(account))
    ).first()
    if passkey is None:
        raise PasskeyError(_("That passkey does not exist (any more)."))
    account.passkeys.remove(passkey)
    if isinstance(account, StaffUser) and not account.has_2fa:
        # The recovery codes stood in for the last second factor: with it gone, so are they.
        for code in session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == account.id)):
            session.delete(code)
    audit.record(
        session,
        audit.PASSKEY_REMOVED,
        now,
        business_id=account.business_id,
        actor=account,
        origin=origin,
        name=passkey.name,
    )
    session.flush()
    return passkey


def reset_passkeys(
    session: Session,
    owner: StaffUser,
    user: StaffUser,
    owner_password: str,
    now: datetime,
    origin: Origin,
) -> int:
    """An owner removes all of a member's passkeys (own password first); their sessions end.

    Recovery codes go too when no authenticator app is left for them to stand in for.
    Returns how many passkeys were removed.
    """
    if not owner.is_owner or owner.business_id != user.business_id:
        raise PasskeyError(_("Only the business owner can reset passkeys."))
    if not verify_password(owner.password_hash, owner_password):
        raise PasskeyError(_("Your password was not correct."))
    count = len(user.passkeys)
    user.passkeys.clear()
    if not user.has_totp:
        for code in session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)):
            session.delete(code)
    sessions.end_all(session, user, now)
    audit.record(
        session,
        audit.PASSKEYS_RESET,
        now,
        business_id=user.business_id,
        actor=owner,
        origin=origin,
        user=user.email,
        removed=count,
    )
    session.flush()
    return count


# --- Signing in with a passkey -------------------------------------------------


def authentication_options(
    session: Session,
    rp: RelyingParty,
    binding: str,
    now: datetime,
    *,
    account=None,
    business_id: int | None = None,
) -> str:
    """The JSON options for ``navigator.credentials.get()``.

    With ``account`` (the second step after a password) only its passkeys are
    offered; without, the browser offers whichever passkey of this site the
    person has (a discoverable credential: no e-mail address typed).
    """
    purpose = SECOND_FACTOR if account is not None else SIGN_IN
    challenge = issue_challenge(
        session, purpose, binding, now, account=account, business_id=business_id
    )
    allowed = [_descriptor(passkey) for passkey in account.passkeys] if account else []
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        allow_credentials=allowed,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options_to_json(options)


def sign_in_with_passkey(
    session: Session,
    response: str,
    rp: RelyingParty,
    binding: str | None,
    now: datetime,
    origin: Origin,
    *,
    kind: type = StaffUser,
    business_id: int | None = None,
    account=None,
):
    """The account whose passkey signed this response, its use recorded; raises PasskeyRefused.

    ``kind`` is StaffUser or ClientAccount (then ``business_id`` scopes the
    search to one business). ``account``: the user who already gave the right
    password (the second step); only their passkeys count.

    Every refusal is audited with its reason; one that names a known account
    counts as a failed sign-in of that account.
    """
    try:
        credential = parse_authentication_credential_json(response)
    except (InvalidJSONStructure, InvalidAuthenticationResponse, ValueError, TypeError) as error:
        _record_failure(
            session, account, now, origin, "malformed response", str(error), business_id
        )
        raise PasskeyRefused(account) from None
    purpose = SECOND_FACTOR if account is not None else SIGN_IN
    challenge, why = _take_challenge(
        session,
        credential.response.client_data_json,
        purpose,
        binding,
        now,
        account=account,
        business_id=business_id,
    )
    passkey = _find_passkey(session, credential.raw_id, kind, business_id)
    owner = passkey.owner if passkey is not None else None
    if account is not None and owner is not account:
        # Another account's key at the second step: as good as unknown.
        passkey, owner = None, None
    if passkey is None:
        if account is not None:
            _refuse_counted(session, account, now, origin, "unknown passkey")
        _record_failure(session, None, now, origin, "unknown passkey", None, business_id)
        raise PasskeyRefused()
    if not owner.active:
        _record_failure(session, owner, now, origin, "account inactive")
        raise PasskeyRefused(owner)
    if owner.is_locked(now):
        _record_failure(session, owner, now, origin, "locked")
        raise PasskeyRefused(owner)
    if challenge is None:
        _refuse_counted(session, owner, now, origin, why)
    handle = credential.response.user_handle
    if handle is not None and handle != passkey.user_handle:
        # The authenticator names another account than the one the key belongs to.
        _refuse_counted(session, owner, now, origin, "user handle mismatch")
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=True,
        )
    except InvalidAuthenticationResponse as error:
        _refuse_counted(session, owner, now, origin, _reason(str(error)), str(error))
    passkey.sign_count = verified.new_sign_count
    passkey.backed_up = bool(verified.credential_backed_up)
    passkey.last_used_at = now
    lockout.register_success(owner)
    session.flush()
    return owner, passkey


def _find_passkey(session: Session, credential_id: bytes, kind: type, business_id: int | None):
    query = select(Passkey).where(Passkey.credential_id == credential_id)
    if kind is ClientAccount:
        query = query.where(
            Passkey.client_account_id.is_not(None), Passkey.business_id == business_id
        )
    else:
        query = query.where(Passkey.staff_user_id.is_not(None))
    return session.scalars(query).first()


def _refuse_counted(session, account, now, origin, reason, detail=None):
    """Count a failed sign-in against ``account``, audit it, and raise PasskeyRefused."""
    settings = security_settings(session, account.business_id)
    just_locked = lockout.register_failure(account, settings, now)
    _record_failure(session, account, now, origin, reason, detail)
    if just_locked:
        record_lock(session, account, now, origin)
    session.flush()
    raise PasskeyRefused(account, just_locked=just_locked)


def _record_failure(session, account, now, origin, reason, detail=None, business_id=None):
    details = {"reason": reason}
    if detail:
        details["detail"] = detail[:200]
    if account is not None:
        details["failed_attempts"] = account.failed_attempts
        audit.record(
            session,
            audit.PASSKEY_FAILURE,
            now,
            business_id=account.business_id,
            actor=account,
            origin=origin,
            **details,
        )
    else:
        audit.record(
            session,
            audit.PASSKEY_FAILURE,
            now,
            business_id=business_id,
            actor_kind="anonymous",
            actor_label="",
            origin=origin,
            **details,
        )
    session.flush()


#: py_webauthn's refusals, by the words of its message, as the audit log names them.
_REASONS = (
    ("origin", "wrong origin"),
    ("RP ID", "wrong RP ID"),
    ("sign count", "sign count went back"),
    ("User verification", "user not verified"),
    ("not present", "user not present"),
    ("signature", "signature not valid"),
    ("challenge", "wrong challenge"),
    ("client data type", "wrong ceremony type"),
)


def _reason(message: str) -> str:
    for words, reason in _REASONS:
        if words.lower() in message.lower():
            return reason
    return "response not valid"


# --- Small parts ----------------------------------------------------------------


def checked_name(session: Session, account, name: str) -> str:
    """``name`` tidied, or PasskeyError: asked before the browser's prompt, so that a
    name that would be refused costs no ceremony."""
    return _checked_name(session, account, name)


def _checked_name(session: Session, account, name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise PasskeyError(_("Give the passkey a name, such as \u201coffice laptop\u201d."))
    if len(name) > NAME_MAX or any(ord(char) < 32 for char in name):
        raise PasskeyError(_("The name can have at most %(num)d characters.", num=NAME_MAX))
    if any(passkey.name.lower() == name.lower() for passkey in account.passkeys):
        raise PasskeyError(_("You already have a passkey called \u201c%(name)s\u201d.", name=name))
    return name


def _user_handle(account, challenge: bytes) -> bytes:
    """The account's WebAuthn user handle: that of its passkeys, or one new for its first.

    The new one comes from the registration's random challenge, so the options
    sent and the passkey kept name the same handle (the authenticator stores it
    and returns it at each sign-in); it says nothing about the account.
    """
    for passkey in account.passkeys:
        return passkey.user_handle
    return hashlib.sha256(b"portal passkey user handle:" + challenge).digest()


def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    transports = []
    for name in filter(None, passkey.transports.split(",")):
        try:
            transports.append(AuthenticatorTransport(name))
        except ValueError:
            continue
    return PublicKeyCredentialDescriptor(id=passkey.credential_id, transports=transports or None)


def _transports(credential) -> list[str]:
    return [transport.value for transport in credential.response.transports or []]


def describe(passkey: Passkey) -> dict:
    """What the passkeys page shows of one (no key material)."""
    return {
        "id": passkey.id,
        "name": passkey.name,
        "created_at": passkey.created_at,
        "last_used_at": passkey.last_used_at,
        "synced": passkey.backed_up,
    }
