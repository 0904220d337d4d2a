"""Signing in step by step, around the domain in ``service``.

The password; with two-factor sign-in, the code within five minutes; then a
fresh session and what the features registered to follow it (``hooks``).
Views call one function per step. A step raises what the domain raised, so
the form can show it; a failure that just locked an account mails its owner
first (the mail leaves only if the request commits, which a refusal page does).
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from flask import abort, current_app, request, session, url_for
from flask_babel import gettext as _

from portal.accounts import passkeys, service, tokens, totp, unreadable
from portal.accounts.current import origin, secret_box, sign_in
from portal.accounts.forms import STAFF_SIGN_IN_FAILED
from portal.accounts.hooks import staff_signed_in
from portal.accounts.models import LOCK_UNTIL_UNLOCKED, ClientAccount, Passkey, StaffUser
from portal.accounts.notifications import (
    send_lock_notice,
    send_passkey_notice,
    send_recovery_code_notice,
    send_reset_link,
)
from portal.audit import service as audit
from portal.businesses.models import Business
from portal.clock import utcnow
from portal.extensions import db
from portal.secret_box import SecretBox, encryption_keys
from portal.web.i18n import clear_session_keeping_language
from portal.web.lazy_text import lazy_text as _l

#: Where the cookie session keeps a sign-in that waits for its second factor.
PENDING_KEY = "pending_2fa"
PENDING_LIFETIME_SECONDS = 300

PASSWORD_SET = _l("Your password is set. Sign in with it now.")
PASSWORD_SET_STILL_LOCKED = _l(
    "Your password is set, but your account stays locked until the business owner "
    "unlocks it: a new password does not unlock it."
)
SIGNED_OUT = _l("You are signed out.")


def staff_password_step(email: str, password: str, next_url: str | None) -> str:
    """Where a staff user goes after the right password: the code page, or signed in to ``next_url``.

    Raises SignInFailed.
    """
    try:
        user = _mailing_a_lock(
            service.sign_in_staff, db.session, email, password, utcnow(), origin()
        )
    except service.SignInFailed as failure:
        failure.message = STAFF_SIGN_IN_FAILED
        raise
    if not user.has_2fa:
        return finish_staff_sign_in(user, "password", next_url)
    clear_session_keeping_language()
    session[PENDING_KEY] = {"user_id": user.id, "at": int(utcnow().timestamp()), "next": next_url}
    return url_for("staff_auth.two_factor")


def pending_user() -> StaffUser | None:
    """The staff user who gave the right password in the last five minutes and owes a code."""
    pending = session.get(PENDING_KEY)
    if (
        not isinstance(pending, dict)
        or utcnow().timestamp() - pending.get("at", 0) > PENDING_LIFETIME_SECONDS
    ):
        return None
    user = db.session.get(StaffUser, pending.get("user_id"))
    return user if user is not None and user.active else None


def second_factor_step(user: StaffUser, code: str) -> str:
    """Where ``user`` goes, signed in, after a right TOTP or recovery code.

    Raises SignInFailed; the code's failure and its time step stay recorded.
    A lock also ends the pending sign-in.
    """
    try:
        method = _mailing_a_lock(
            service.verify_second_factor, db.session, user, code, utcnow(), secret_box(), origin()
        )
    except service.SignInFailed as failure:
        if failure.just_locked:
            session.pop(PENDING_KEY, None)
        raise
    except totp.SecretUnreadable:
        session.pop(PENDING_KEY, None)
        unreadable.refuse(user)
    if method == "recovery":
        send_recovery_code_notice(user, service.remaining_recovery_codes(db.session, user))
    return finish_staff_sign_in(user, method, session[PENDING_KEY].get("next"))


def finish_staff_sign_in(user: StaffUser, method: str, next_url: str | None) -> str:
    """A fresh session for ``user``, recorded, and what features follow it with; the next URL."""
    now = utcnow()
    sign_in(user)
    service.record_sign_in(db.session, user, now, origin(), method=method)
    staff_signed_in(user, now, origin())
    return next_url or url_for("staff.dashboard")


def client_password_step(business: Business, email: str, password: str) -> ClientAccount:
    """Sign a client in at ``business``; raises SignInFailed or EmailNotConfirmed."""
    now = utcnow()
    try:
        account = _mailing_a_lock(
            service.sign_in_client, db.session, business.id, email, password, now, origin()
        )
    except service.SignInFailed as failure:
        # The business is in the address: its lock mode tells nothing about the account.
        if service.security_settings(db.session, business.id).lockout_mode == LOCK_UNTIL_UNLOCKED:
            failure.message = _(
                "Sign-in failed: the e-mail address or password is wrong, or the account is "
                "locked after too many attempts. A locked account stays locked until "
                "%(business)s unlocks it (a new password does not unlock it): please "
                "contact them.",
                business=business.name,
            )
        raise
    sign_in(account)
    service.record_sign_in(db.session, account, now, origin())
    return account


def offer_password_reset(account, reset_endpoint: str) -> None:
    """Mail a reset link when ``account`` may reset its password; otherwise, silently, nothing."""
    token = service.request_password_reset(db.session, account, utcnow(), origin())
    if token is not None:
        send_reset_link(account, reset_endpoint, token)


def link_or_404(token: str, purpose: str, model: type, business_id: int | None = None):
    """The valid reset or invitation link of ``token`` (``tokens.Link``); a 404 page if none."""
    link = tokens.open_link(db.session, token, purpose, model, utcnow(), business_id=business_id)
    if link is None:
        abort(
            404,
            description=_(
                "This link is not valid any more: it was used already or has expired. "
                "Ask for a new one."
            ),
        )
    return link


def set_password_by_link(link: tokens.Link, password: str) -> None:
    """Raises PasswordRejected; a reset never signs anyone in (the second factor still follows)."""
    service.set_password_by_link(db.session, link, password, utcnow(), origin=origin())


def password_set_notice(account):
    """What to say once a link set the password: sign in now, unless only an owner can unlock."""
    return PASSWORD_SET_STILL_LOCKED if account.waits_for_unlock else PASSWORD_SET


def _mailing_a_lock(step, *args):
    """``step(*args)``; when it fails and that locked the account, its owner is told."""
    try:
        return step(*args)
    except service.SignInFailed as failure:
        if failure.just_locked:
            send_lock_notice(failure.account)
        raise


# --- Passkeys -------------------------------------------------------------------

#: The Flask session's random value the passkey challenges are bound to (``passkeys``).
PASSKEY_BINDING_KEY = "passkey_binding"
#: When the signed-in user last re-entered a password or code to add a passkey.
PASSKEY_CONFIRMED_KEY = "passkey_confirmed_at"
PASSKEY_CONFIRMATION_SECONDS = 300
#: New recovery codes, sealed, until the one page that shows them is opened.
PASSKEY_CODES_KEY = "passkey_recovery_codes"
NOT_CONFIRMED = _l("That is not your password, nor a current code from your authenticator app.")
CONFIRM_AGAIN = _l(
    "Please enter your password again: it confirms adding a passkey for five minutes."
)


def configured_relying_party() -> passkeys.RelyingParty | None:
    """The relying party of ``PORTAL_BASE_URL``; None when that is an IP address."""
    return passkeys.RelyingParty.from_base_url(current_app.config["BASE_URL"])


def passkey_relying_party() -> passkeys.RelyingParty | None:
    """The relying party, if passkeys work at the address of this request; else None.

    A passkey belongs to the domain of ``PORTAL_BASE_URL``: reached by another
    host name, the browser would refuse the ceremony, so none is offered.
    """
    rp = configured_relying_party()
    if rp is None or urlsplit(request.host_url).hostname != rp.id:
        return None
    return rp


def passkey_binding() -> str:
    """This browser's binding for passkey challenges, made when first needed."""
    binding = session.get(PASSKEY_BINDING_KEY)
    if not isinstance(binding, str):
        binding = session[PASSKEY_BINDING_KEY] = passkeys.new_binding()
    return binding


def staff_passkey_sign_in(rp: passkeys.RelyingParty, response: str, next_url: str | None) -> str:
    """Sign in the staff user whose passkey signed ``response``; the next URL.

    A passkey that verified the user is both factors: no code follows.
    Raises PasskeyRefused (a refusal that just locked the account mails its owner).
    """
    user, _passkey = _verified_passkey(rp, response)
    return finish_staff_sign_in(user, "passkey", next_url)


def client_passkey_sign_in(business: Business, rp: passkeys.RelyingParty, response: str):
    """Sign in the client of ``business`` whose passkey signed ``response``; the account.

    Only passkeys of this business's client accounts count. Raises PasskeyRefused.
    """
    account, _passkey = _verified_passkey(rp, response, kind=ClientAccount, business_id=business.id)
    sign_in(account)
    service.record_sign_in(db.session, account, utcnow(), origin(), method="passkey")
    return account


def passkey_second_factor_step(user: StaffUser, rp: passkeys.RelyingParty, response: str) -> str:
    """Where ``user`` (right password given) goes, signed in, after their passkey.

    Raises PasskeyRefused; a lock also ends the pending sign-in.
    """
    try:
        _verified_passkey(rp, response, account=user)
    except passkeys.PasskeyRefused as refusal:
        if refusal.just_locked:
            session.pop(PENDING_KEY, None)
        raise
    return finish_staff_sign_in(user, "passkey", session[PENDING_KEY].get("next"))


def passkey_registration_options(
    account, rp: passkeys.RelyingParty, name: str, password_or_code: str
) -> str:
    """Options for one more passkey of ``account``, once it re-entered its password or a code.

    Raises PasskeyError (a name that would be refused, or the wrong secret: audited).
    """
    now = utcnow()
    passkeys.checked_name(db.session, account, name)
    if not passkeys.confirm_identity(db.session, account, password_or_code, now, secret_box()):
        audit.record(
            db.session,
            audit.PASSKEY_FAILURE,
            now,
            business_id=account.business_id,
            actor=account,
            origin=origin(),
            reason="identity not confirmed",
        )
        raise passkeys.PasskeyError(str(NOT_CONFIRMED))
    session[PASSKEY_CONFIRMED_KEY] = int(now.timestamp())
    return passkeys.registration_options(db.session, account, rp, passkey_binding(), now)


def add_passkey(account, rp: passkeys.RelyingParty, response: str, name: str) -> passkeys.Added:
    """Keep the passkey ``response`` registered, within five minutes of the re-entered password.

    Mails the account's owner; new recovery codes wait, sealed, for ``take_recovery_codes``.
    Raises PasskeyError or PasskeyRefused.
    """
    now = utcnow()
    confirmed = session.get(PASSKEY_CONFIRMED_KEY)
    if (
        not isinstance(confirmed, int)
        or not 0 <= now.timestamp() - confirmed <= PASSKEY_CONFIRMATION_SECONDS
    ):
        raise passkeys.PasskeyError(str(CONFIRM_AGAIN))
    added = passkeys.add_passkey(
        db.session, account, response, name, rp, session.get(PASSKEY_BINDING_KEY), now, origin()
    )
    session.pop(PASSKEY_CONFIRMED_KEY, None)
    send_passkey_notice(account, added.passkey.name, added=True)
    if added.recovery_codes:
        session[PASSKEY_CODES_KEY] = _codes_box().seal(json.dumps(added.recovery_codes)).decode()
    return added


def take_recovery_codes() -> list[str] | None:
    """The recovery codes the last added passkey brought, once; None after that."""
    sealed = session.pop(PASSKEY_CODES_KEY, None)
    if not isinstance(sealed, str):
        return None
    try:
        return json.loads(_codes_box().open(sealed.encode()))
    except ValueError:
        return None


def remove_passkey(account, passkey_id: int) -> Passkey:
    """Remove one of ``account``'s passkeys and mail its owner; raises PasskeyError."""
    passkey = passkeys.remove_passkey(db.session, account, passkey_id, utcnow(), origin())
    send_passkey_notice(account, passkey.name, added=False)
    return passkey


def _codes_box() -> SecretBox:
    # The cookie session is signed, not encrypted: the codes ride in it sealed.
    return SecretBox(encryption_keys(current_app.config), b"passkey recovery codes")


def _verified_passkey(rp: passkeys.RelyingParty, response: str, **scope):
    """``passkeys.sign_in_with_passkey`` for this browser; a refusal that locked mails the owner."""
    try:
        return passkeys.sign_in_with_passkey(
            db.session,
            response,
            rp,
            session.get(PASSKEY_BINDING_KEY),
            utcnow(),
            origin(),
            **scope,
        )
    except passkeys.PasskeyRefused as refusal:
        if refusal.just_locked and refusal.account is not None:
            send_lock_notice(refusal.account)
        raise
