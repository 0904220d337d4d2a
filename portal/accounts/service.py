"""Accounts: creating them, signing in, passwords, lockout and two-factor codes.

Plain functions over a session; they flush, never commit, and raise domain
errors the views turn into messages.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts import lockout, sessions, tokens, totp
from portal.accounts.models import (
    RESET,
    STAFF,
    VERIFY,
    ClientAccount,
    RecoveryCode,
    SecuritySettings,
    StaffUser,
)
from portal.accounts.password_rules import PasswordRules, password_problems
from portal.accounts.passwords import hash_password, needs_rehash, verify_password
from portal.audit import service as audit
from portal.audit.service import Origin
from portal.businesses.models import Business
from portal.web.lazy_text import lazy_text as _l


class AccountError(ValueError):
    """An account cannot be created or changed as asked."""

    #: The form field the message belongs to; None: the form's own choice.
    field: str | None = None


class PasswordRejected(AccountError):
    """The new password breaks the owner's rules; ``problems`` says which."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


class SignInFailed(Exception):
    """Unknown account, wrong password or locked: the caller must not say which."""

    def __init__(self, account=None, *, just_locked: bool = False, message=None) -> None:
        super().__init__("sign-in failed")
        self.account = account
        self.just_locked = just_locked
        #: What the form says instead of its own refusal; set only where that tells
        #: nothing more than the person typing it knows (``flow`` sets it).
        self.message = message


#: A code of a time step already used: typed again within its 30 seconds.
CODE_USED = _l(
    "That code was used already. Wait for the next code in your app "
    "(a new one every 30 seconds), or type a recovery code."
)


class EmailNotConfirmed(AccountError):
    """The right password, but the client has not yet opened the confirmation link."""

    field = "email"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def security_settings(session: Session, business_id: int) -> SecuritySettings:
    """The business's settings; unsaved defaults when the owner never changed them."""
    settings = session.get(SecuritySettings, business_id)
    return settings if settings is not None else SecuritySettings.defaults(business_id)


def password_rules(session: Session, business_id: int) -> PasswordRules:
    return PasswordRules.from_settings(security_settings(session, business_id))


def check_new_password(session: Session, business: Business, email: str, password: str) -> None:
    """Raise PasswordRejected when ``password`` breaks the business's rules."""
    problems = password_problems(
        password,
        password_rules(session, business.id),
        email=email,
        business_name=business.name,
    )
    if problems:
        raise PasswordRejected(problems)


def accounts_enabled(session: Session, business: Business) -> bool:
    """Whether the owner lets clients create accounts ("clients may create accounts")."""
    return security_settings(session, business.id).client_accounts_enabled


def find_staff(session: Session, email: str) -> StaffUser | None:
    return session.scalars(
        select(StaffUser).where(StaffUser.email == normalise_email(email))
    ).first()


def find_client_account(session: Session, business_id: int, email: str) -> ClientAccount | None:
    return session.scalars(
        select(ClientAccount).where(
            ClientAccount.business_id == business_id,
            ClientAccount.email == normalise_email(email),
        )
    ).first()


def create_staff_user(
    session: Session,
    business: Business,
    *,
    email: str,
    password: str | None,
    role: str = STAFF,
    name: str = "",
    check_rules: bool = True,
) -> StaffUser:
    """Add a staff user; ``password`` None leaves it unusable until an invitation is accepted."""
    email = normalise_email(email)
    if find_staff(session, email) is not None:
        raise AccountError(_("%(email)s already has a staff account.", email=email))
    if password is not None and check_rules:
        check_new_password(session, business, email, password)
    user = StaffUser(
        business_id=business.id,
        email=email,
        name=name.strip(),
        role=role,
        password_hash=hash_password(password) if password is not None else None,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(
    session: Session,
    account: StaffUser | ClientAccount | None,
    password: str,
    now: datetime,
    *,
    email: str,
    business_id: int | None,
    origin: Origin,
) -> StaffUser | ClientAccount:
    """Check a password; count failures, lock, and audit; raise SignInFailed on any failure.

    The password hash is checked even for unknown or locked accounts so every
    failure costs the same time.
    """
    password_ok = verify_password(account.password_hash if account else None, password)
    if account is None or not account.active:
        audit.record(
            session,
            audit.SIGNIN_FAILURE,
            now,
            business_id=business_id,
            actor_kind="anonymous",
            actor_label=normalise_email(email)[:254],
            origin=origin,
            reason="unknown account",
        )
        raise SignInFailed()
    settings = security_settings(session, account.business_id)
    if account.is_locked(now):
        audit.record(
            session,
            audit.SIGNIN_FAILURE,
            now,
            business_id=account.business_id,
            actor=account,
            origin=origin,
            reason="locked",
        )
        raise SignInFailed(account)
    if not password_ok:
        just_locked = lockout.register_failure(account, settings, now)
        audit.record(
            session,
            audit.SIGNIN_FAILURE,
            now,
            business_id=account.business_id,
            actor=account,
            origin=origin,
            reason="wrong password",
            failed_attempts=account.failed_attempts,
        )
        if just_locked:
            record_lock(session, account, now, origin)
        session.flush()
        raise SignInFailed(account, just_locked=just_locked)

    if not account.has_2fa:
        # With 2FA the count is cleared only once the code is right too: re-entering
        # the password must not buy more guesses at the code.
        lockout.register_success(account)
    if needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    business = session.get(Business, account.business_id)
    problems = password_problems(
        password,
        PasswordRules.from_settings(settings),
        email=account.email,
        business_name=business.name,
    )
    # Rules tightened since this password was chosen: it must be changed now.
    account.must_change_password = bool(problems)
    session.flush()
    return account


def sign_in_staff(
    session: Session, email: str, password: str, now: datetime, origin: Origin
) -> StaffUser:
    """The staff user with this address and password (see ``authenticate``)."""
    user = find_staff(session, email)
    business_id = user.business_id if user is not None else None
    return authenticate(
        session, user, password, now, email=email, business_id=business_id, origin=origin
    )


def sign_in_client(
    session: Session, business_id: int, email: str, password: str, now: datetime, origin: Origin
) -> ClientAccount:
    """The client account at this business with this address and password.

    Raises SignInFailed as ``authenticate`` does, and EmailNotConfirmed until
    the client opened the link of their sign-up mail.
    """
    account = find_client_account(session, business_id, email)
    authenticate(
        session, account, password, now, email=email, business_id=business_id, origin=origin
    )
    if account.email_verified_at is None:
        raise EmailNotConfirmed(
            _(
                "Please confirm your e-mail address first: "
                "open the link we sent you when you signed up."
            )
        )
    return account


def confirm_email(
    session: Session, token: str, business_id: int, now: datetime
) -> ClientAccount | None:
    """Confirm the address a sign-up link of this business went to; None for a dead link."""
    link = tokens.open_link(session, token, VERIFY, ClientAccount, now, business_id=business_id)
    if link is None:
        return None
    account = link.account
    if account.email_verified_at is None:
        account.email_verified_at = now
        account.password_changed_at = now
    link.record.used_at = now
    session.flush()
    return account


def record_sign_in(session: Session, account, now: datetime, origin: Origin, **details) -> None:
    audit.record(
        session,
        audit.SIGNIN_SUCCESS,
        now,
        business_id=account.business_id,
        actor=account,
        origin=origin,
        **details,
    )


def verify_second_factor(
    session: Session, user: StaffUser, code: str, now: datetime, box: totp.SecretBox, origin: Origin
) -> str:
    """Accept a TOTP code or a recovery code; return which ("totp" or "recovery").

    A wrong code counts as a failed sign-in. Raises SignInFailed.
    """
    settings = security_settings(session, user.business_id)
    if user.is_locked(now) or not user.has_2fa:
        raise SignInFailed(user)
    if app_codes_accepted(settings, user):
        secret = box.open(user.totp_secret_encrypted)
        step = totp.matching_step(secret, code, now, user.totp_last_step)
        if step is not None:
            user.totp_last_step = step
            lockout.register_success(user)
            session.flush()
            return "totp"
        if totp.matching_step(secret, code, now, last_step=-1) is not None:
            # The right code, used already (typed twice, or a second browser): refused,
            # but no guess at the code, so it counts towards no lock.
            _record_2fa_failure(session, user, now, origin, reason="code used already")
            session.flush()
            raise SignInFailed(user, message=CODE_USED)
    recovery = session.scalars(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == totp.hash_recovery_code(code),
            RecoveryCode.used_at.is_(None),
        )
    ).first()
    if recovery is not None:
        recovery.used_at = now
        lockout.register_success(user)
        audit.record(
            session,
            audit.RECOVERY_CODE_USED,
            now,
            business_id=user.business_id,
            actor=user,
            origin=origin,
            remaining=remaining_recovery_codes(session, user),
        )
        session.flush()
        return "recovery"
    just_locked = lockout.register_failure(user, settings, now)
    _record_2fa_failure(session, user, now, origin)
    if just_locked:
        audit.record(
            session,
            audit.ACCOUNT_LOCKED,
            now,
            business_id=user.business_id,
            actor=user,
            origin=origin,
        )
    session.flush()
    raise SignInFailed(user, just_locked=just_locked)


def app_codes_accepted(settings: SecuritySettings, user: StaffUser) -> bool:
    """Whether an authenticator-app code signs ``user`` in at the second step.

    Where the owner requires a passkey and the user has one, a code that can be
    phished does not; recovery codes stay the way back in.
    """
    return user.has_totp and not (settings.passkey_required(user) and user.has_passkey)


def issue_recovery_codes(
    session: Session, user: StaffUser, now: datetime, origin: Origin
) -> list[str]:
    """A new set of recovery codes for ``user`` (any old ones stop working); shown once."""
    codes = _replace_recovery_codes(session, user)
    audit.record(
        session,
        audit.RECOVERY_CODES_ISSUED,
        now,
        business_id=user.business_id,
        actor=user,
        origin=origin,
    )
    session.flush()
    return codes


def _replace_recovery_codes(session: Session, user: StaffUser) -> list[str]:
    """New recovery codes for ``user``, stored as hashes; any old ones stop working."""
    for old in session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)):
        session.delete(old)
    codes = totp.new_recovery_codes()
    session.add_all(
        RecoveryCode(user_id=user.id, code_hash=totp.hash_recovery_code(c)) for c in codes
    )
    return codes


def record_lock(session: Session, account, now: datetime, origin: Origin) -> None:
    """Audit that a failed sign-in just locked ``account`` (and until when)."""
    audit.record(
        session,
        audit.ACCOUNT_LOCKED,
        now,
        business_id=account.business_id,
        actor=account,
        origin=origin,
        until=account.locked_until.isoformat() if account.locked_until else "unlocked",
    )


def remaining_recovery_codes(session: Session, user: StaffUser) -> int:
    return len(
        session.scalars(
            select(RecoveryCode.id).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        ).all()
    )


def start_enrolment(session: Session, user: StaffUser, box: totp.SecretBox) -> str:
    """The pending TOTP secret to show; created once and kept until activated."""
    if user.has_totp:
        raise AccountError(_("Two-factor sign-in is already on."))
    if user.totp_secret_encrypted is not None:
        try:
            return box.open(user.totp_secret_encrypted)
        except totp.SecretUnreadable:
            pass  # pending under a key since removed: nobody scanned it in, so start afresh
    secret = totp.new_secret()
    user.totp_secret_encrypted = box.seal(secret)
    session.flush()
    return secret


def activate_2fa(
    session: Session, user: StaffUser, code: str, now: datetime, box: totp.SecretBox, origin: Origin
) -> list[str]:
    """Switch 2FA on once ``code`` proves the app has the secret; return the recovery codes."""
    secret = start_enrolment(session, user, box)
    step = totp.matching_step(secret, code, now, last_step=0)
    if step is None:
        raise AccountError(
            _(
                "That code did not match. Check that your phone's clock is right and type the "
                "6-digit code your app shows now."
            )
        )
    # The code still on screen signs in once more, should the user sign in right away:
    # enrolling proved the app has the secret, and a code refused "as used" at the next
    # step (counting towards a lock) would punish the user for being quick.
    user.totp_last_step = step - 1
    user.totp_enabled_at = now
    # A passkey user who adds the app gets a fresh set: the list just shown is the one that works.
    codes = _replace_recovery_codes(session, user)
    audit.record(
        session,
        audit.TWO_FACTOR_ENROLLED,
        now,
        business_id=user.business_id,
        actor=user,
        origin=origin,
    )
    session.flush()
    return codes


def clear_2fa(session: Session, user: StaffUser, now: datetime) -> None:
    """Turn ``user``'s app codes off: secret gone, other sessions ended.

    The recovery codes go too, unless the user keeps a passkey they stand in for.
    """
    user.totp_secret_encrypted = None
    user.totp_enabled_at = None
    user.totp_last_step = 0
    if not user.has_passkey:
        for code in session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)):
            session.delete(code)
    sessions.end_all(session, user, now)


def reset_2fa(
    session: Session,
    owner: StaffUser,
    user: StaffUser,
    owner_password: str,
    now: datetime,
    origin: Origin,
) -> None:
    """An owner turns a staff member's 2FA off (after re-entering their own password)."""
    if not owner.is_owner or owner.business_id != user.business_id:
        raise AccountError(_("Only the business owner can reset two-factor sign-in."))
    if not verify_password(owner.password_hash, owner_password):
        raise AccountError(_("Your password was not correct."))
    clear_2fa(session, user, now)
    audit.record(
        session,
        audit.TWO_FACTOR_RESET,
        now,
        business_id=user.business_id,
        actor=owner,
        origin=origin,
        user=user.email,
    )
    session.flush()


def set_password(
    session: Session,
    account,
    business: Business,
    new_password: str,
    now: datetime,
    *,
    origin: Origin,
    kind: str = audit.PASSWORD_CHANGED,
    keep_session: str | None = None,
) -> None:
    """Set a new password under the rules, and end the account's other sessions."""
    check_new_password(session, business, account.email, new_password)
    account.password_hash = hash_password(new_password)
    account.password_changed_at = now
    account.must_change_password = False
    sessions.end_all(session, account, now, except_token=keep_session)
    audit.record(session, kind, now, business_id=account.business_id, actor=account, origin=origin)
    session.flush()


def set_password_by_link(
    session: Session, link: tokens.Link, new_password: str, now: datetime, *, origin: Origin
) -> None:
    """Set the password of a reset or invitation link's account; the link is then used up."""
    account = link.account
    business = session.get(Business, account.business_id)
    kind = audit.PASSWORD_RESET if link.record.purpose == RESET else audit.PASSWORD_CHANGED
    set_password(session, account, business, new_password, now, origin=origin, kind=kind)
    link.record.used_at = now
    session.flush()


def change_password(
    session: Session,
    account,
    current: str,
    new_password: str,
    now: datetime,
    *,
    origin: Origin,
    keep_session: str | None,
) -> None:
    """The account's own change: the current password first, then a new one under the rules."""
    if not verify_password(account.password_hash, current):
        raise AccountError(_("Your current password was not correct."))
    if verify_password(account.password_hash, new_password):
        raise PasswordRejected([_("Choose a password different from your current one.")])
    business = session.get(Business, account.business_id)
    set_password(
        session, account, business, new_password, now, origin=origin, keep_session=keep_session
    )


def request_password_reset(session: Session, account, now: datetime, origin: Origin) -> str | None:
    """Issue a single-use reset token for ``account`` (30 minutes) and audit the request.

    None, and nothing recorded, for no account or one that may not reset its
    password (inactive, an unaccepted invitation, an unconfirmed address).
    """
    if account is None or not account.may_reset_password:
        return None
    token = tokens.issue(session, account, RESET, now, tokens.RESET_LIFETIME)
    audit.record(
        session,
        audit.PASSWORD_RESET_REQUESTED,
        now,
        business_id=account.business_id,
        actor=account,
        origin=origin,
    )
    return token


def unlock_account(session: Session, owner: StaffUser, account, now: datetime, origin: Origin):
    if not owner.is_owner or owner.business_id != account.business_id:
        raise AccountError(_("Only the business owner can unlock accounts."))
    lockout.unlock(account)
    audit.record(
        session,
        audit.ACCOUNT_UNLOCKED,
        now,
        business_id=account.business_id,
        actor=owner,
        origin=origin,
        account=account.email,
        account_kind=account.kind,
    )
    session.flush()


def save_security_settings(
    session: Session, owner: StaffUser, values: dict, now: datetime, origin: Origin
) -> dict[str, list]:
    """Apply the owner's new settings; audit the changes with old and new values."""
    if not owner.is_owner:
        raise AccountError(_("Only the business owner can change security settings."))
    settings = session.get(SecuritySettings, owner.business_id)
    if settings is None:
        settings = SecuritySettings.defaults(owner.business_id)
        session.add(settings)
    changes = audit.apply_changes(settings, values, SecuritySettings.EDITABLE)
    audit.record_changes(session, owner, now, origin, "security", changes)
    session.flush()
    return changes


def locked_accounts(session: Session, business_id: int, now: datetime) -> list:
    accounts = []
    for model in (StaffUser, ClientAccount):
        for account in session.scalars(
            select(model).where(model.business_id == business_id, model.locked_at.is_not(None))
        ):
            if account.is_locked(now):
                accounts.append(account)
    return accounts


def _record_2fa_failure(session: Session, user, now: datetime, origin: Origin, **details) -> None:
    audit.record(
        session,
        audit.TWO_FACTOR_FAILURE,
        now,
        business_id=user.business_id,
        actor=user,
        origin=origin,
        failed_attempts=user.failed_attempts,
        **details,
    )
