"""Platform support users: creating them, signing in, opening a business."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts import lockout, totp
from portal.accounts.hooks import account_hooks
from portal.accounts.models import SecuritySettings
from portal.accounts.passwords import hash_password, verify_password
from portal.accounts.service import AccountError, SignInFailed, normalise_email
from portal.audit import service as audit
from portal.audit.service import Origin
from portal.businesses.models import Business
from portal.hipaa.models import ComplianceSettings
from portal.hipaa.service import SUPPORT_IDLE_TIMEOUT, compliance_settings, support_refusal
from portal.support.models import SUPPORT_KIND, SupportUser
from portal.web.lazy_text import lazy_text as _l

MIN_PASSWORD_LENGTH = 12


class SupportRefused(Exception):
    """The business does not let platform support in (setting off, or HIPAA mode)."""


@dataclass(frozen=True)
class SupportActor:
    """Stands in for a staff user while platform support works inside a business.

    Staff views read ``g.staff``; this gives them a business and owner-level
    access, and every audit event they record names the support user with
    actor kind "support".
    """

    id: int
    email: str
    name: str
    business_id: int
    kind: str = SUPPORT_KIND
    role: str = "owner"
    is_owner: bool = True
    has_2fa: bool = True
    must_change_password: bool = False
    active: bool = True
    password_hash: None = None


def actor_for(user: SupportUser, business_id: int) -> SupportActor:
    return SupportActor(id=user.id, email=user.email, name=user.name, business_id=business_id)


def init_app(app: Flask) -> None:
    """Make platform support known to accounts, which knows no feature (``accounts.hooks``)."""
    hooks = account_hooks(app)
    hooks.kinds[SUPPORT_KIND] = SupportUser
    hooks.acting_staff.append(_acting_staff)
    hooks.idle_timeout_caps.append(_idle_timeout_cap)


def _acting_staff(principal) -> SupportActor | None:
    """Support inside the business they opened acts as its owner (see SupportActor)."""
    if principal.account.kind != SUPPORT_KIND or principal.business_id is None:
        return None
    return actor_for(principal.account, principal.business_id)


def _idle_timeout_cap(_session: Session, business_id: int | None) -> timedelta | None:
    """A support session that has opened no business idles out soon (as under HIPAA)."""
    return SUPPORT_IDLE_TIMEOUT if business_id is None else None


def find_support_user(session: Session, email: str) -> SupportUser | None:
    return session.scalars(
        select(SupportUser).where(SupportUser.email == normalise_email(email))
    ).first()


def create_support_user(
    session: Session, email: str, password: str, box: totp.SecretBox, now: datetime, name: str = ""
) -> tuple[SupportUser, str]:
    """Add a support user with 2FA already on; return it and the TOTP secret to enrol."""
    email = normalise_email(email)
    if "@" not in email:
        raise AccountError("Give a valid e-mail address.")
    if find_support_user(session, email) is not None:
        raise AccountError(f"{email} already has a support account.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"The password needs at least {MIN_PASSWORD_LENGTH} characters.")
    secret = totp.new_secret()
    user = SupportUser(
        email=email,
        name=name.strip(),
        password_hash=hash_password(password),
        totp_secret_encrypted=box.seal(secret),
        totp_enabled_at=now,
        totp_last_step=0,
        active=True,
    )
    session.add(user)
    session.flush()
    return user, secret


#: The sign-in's answer when no configured key opens the support user's TOTP secret.
SUPPORT_TWO_FACTOR_UNREADABLE = _l(
    "Your two-factor set-up can no longer be read: the encryption keys of this Portal "
    "changed. Nothing you typed was wrong. Ask whoever runs this Portal to put the old key "
    "back in PORTAL_ENCRYPTION_KEYS."
)


def lockout_settings() -> SecuritySettings:
    """Support accounts belong to no business: they lock as a business's staff do by default."""
    return SecuritySettings.defaults(business_id=None)


def authenticate(
    session: Session,
    email: str,
    password: str,
    code: str,
    now: datetime,
    box: totp.SecretBox,
    origin: Origin,
) -> SupportUser:
    """Password and current TOTP code together; raise SignInFailed (audited) on any failure.

    A wrong password or code counts towards the lock as a staff sign-in's
    does (``accounts.lockout``); a locked account is refused even with both
    right. The hash is checked for unknown and locked accounts too.
    """
    user = find_support_user(session, email)
    password_ok = verify_password(user.password_hash if user else None, password)
    if user is None or not user.active:
        _record_failure(session, now, origin, email, reason="support sign-in failed")
        raise SignInFailed()
    if user.is_locked(now):
        _record_failure(session, now, origin, email, reason="locked")
        raise SignInFailed(user)
    step = None
    secret = totp.readable(box, user.totp_secret_encrypted) if password_ok else None
    if password_ok and secret is None:
        # The keys changed, not a guess: audited, and it does not count towards the lock.
        audit.record(
            session, audit.TWO_FACTOR_UNREADABLE, now, business_id=None, actor=user, origin=origin
        )
        session.flush()
        raise SignInFailed(user, message=SUPPORT_TWO_FACTOR_UNREADABLE)
    if secret is not None:
        step = totp.matching_step(secret, code, now, user.totp_last_step)
    if step is None:
        just_locked = lockout.register_failure(user, lockout_settings(), now)
        _record_failure(
            session,
            now,
            origin,
            email,
            reason="support sign-in failed",
            failed_attempts=user.failed_attempts,
        )
        if just_locked:
            audit.record(
                session,
                audit.ACCOUNT_LOCKED,
                now,
                business_id=None,
                actor=user,
                origin=origin,
                until=user.locked_until.isoformat() if user.locked_until else "unlocked",
            )
        session.flush()
        raise SignInFailed(user, just_locked=just_locked)
    lockout.register_success(user)
    user.totp_last_step = step
    audit.record(session, audit.SUPPORT_SIGNED_IN, now, business_id=None, actor=user, origin=origin)
    session.flush()
    return user


def _record_failure(session: Session, now, origin: Origin, email: str, **details) -> None:
    audit.record(
        session,
        audit.SIGNIN_FAILURE,
        now,
        business_id=None,
        actor_kind=SUPPORT_KIND,
        actor_label=normalise_email(email)[:254],
        origin=origin,
        **details,
    )
    session.flush()


def unlock_support_user(session: Session, email: str, now: datetime) -> SupportUser:
    """Lift a support account's lock and forgive its history (``portal unlock-support-user``)."""
    user = find_support_user(session, email)
    if user is None:
        raise AccountError(f"There is no support account {normalise_email(email)}.")
    was_locked = user.is_locked(now)
    lockout.unlock(user)
    audit.record(
        session,
        audit.ACCOUNT_UNLOCKED,
        now,
        business_id=None,
        actor_kind="system",
        actor_label="portal unlock-support-user",
        user=user.email,
        was_locked=was_locked,
    )
    session.flush()
    return user


def businesses(session: Session) -> list[Business]:
    return list(session.scalars(select(Business).order_by(Business.name)))


#: Why a business refuses support, as the console says it (keys: ``support_refusal``).
REFUSALS = {
    "HIPAA mode": _l("Refuses platform support: HIPAA mode is on."),
    "support access is off": _l(
        "Refuses platform support: the owner has switched support access off."
    ),
}


def refusals(session: Session, listed: list[Business]) -> dict[int, str]:
    """Why each listed business that refuses support does so, by business id (one query)."""
    ids = [business.id for business in listed]
    stored = {
        row.business_id: row
        for row in session.scalars(
            select(ComplianceSettings).where(ComplianceSettings.business_id.in_(ids))
        )
    }
    said = {}
    for business_id in ids:
        settings = stored.get(business_id) or ComplianceSettings.defaults(business_id)
        reason = support_refusal(settings, barred=False)
        if reason is not None:
            said[business_id] = str(REFUSALS.get(reason, reason))
    return said


def open_business(
    session: Session, user: SupportUser, business: Business, now: datetime, origin: Origin
) -> None:
    """Check the business lets support in and audit the visit; raise SupportRefused if not."""
    reason = support_refusal(compliance_settings(session, business.id), barred=False)
    if reason is not None:
        audit.record(
            session,
            audit.SUPPORT_REFUSED,
            now,
            business_id=business.id,
            actor=user,
            actor_kind=SUPPORT_KIND,
            origin=origin,
            reason=reason,
        )
        session.flush()
        raise SupportRefused(business.name)
    audit.record(
        session, audit.SUPPORT_OPENED, now, business_id=business.id, actor=user, origin=origin
    )
    session.flush()
