"""HIPAA mode and the other compliance settings: plain functions over a session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy.orm import Session, object_session

from portal.accounts import totp
from portal.accounts.current import idle_timeout
from portal.accounts.models import StaffUser
from portal.accounts.passwords import verify_password
from portal.accounts.service import AccountError, security_settings
from portal.audit import service as audit
from portal.audit.service import Origin
from portal.db import transaction_cache
from portal.hipaa.models import HIPAA_IDLE_TIMEOUT_MINUTES, ComplianceSettings
from portal.web.lazy_text import lazy_text as _l

#: Idle timeout of a platform support session that has not opened a business.
SUPPORT_IDLE_TIMEOUT = timedelta(minutes=HIPAA_IDLE_TIMEOUT_MINUTES)
SET_UP_2FA_FIRST = _l("Set up two-factor sign-in for your own account first.")
#: An owner who signs in with a passkey only: the switch still asks an app code.
APP_CODE_NEEDED = _l(
    "Switching HIPAA mode needs a code from an authenticator app; a passkey cannot confirm "
    "it. Set up an authenticator app for your own account first (under Two-factor)."
)


def compliance_settings(session: Session, business_id: int) -> ComplianceSettings:
    """The business's settings; unsaved defaults when the owner never changed them."""
    cache = transaction_cache(session, "compliance_settings")
    if business_id not in cache:
        settings = session.get(ComplianceSettings, business_id)
        cache[business_id] = settings or ComplianceSettings.defaults(business_id)
    return cache[business_id]


def remember_settings(
    session: Session, business_id: int, settings: ComplianceSettings | None
) -> None:
    """Seed the per-transaction cache with settings read together with the business."""
    cache = transaction_cache(session, "compliance_settings")
    cache.setdefault(business_id, settings or ComplianceSettings.defaults(business_id))


def _stored(session: Session, business_id: int) -> ComplianceSettings:
    settings = session.get(ComplianceSettings, business_id)
    if settings is None:
        settings = ComplianceSettings.defaults(business_id)
        session.add(settings)
    transaction_cache(session, "compliance_settings")[business_id] = settings
    return settings


def hipaa_on(session: Session, business_id: int | None) -> bool:
    if business_id is None:
        return False
    return compliance_settings(session, business_id).hipaa_mode


def phi_free(business) -> bool:
    """Whether notifications about ``business`` must leave out client and service."""
    session = object_session(business)
    return session is not None and hipaa_on(session, business.id)


def must_enrol_2fa(session: Session, user: StaffUser) -> bool:
    if user.has_2fa:
        return False
    return security_settings(session, user.business_id).require_2fa or hipaa_on(
        session, user.business_id
    )


def set_hipaa_mode(
    session: Session,
    owner: StaffUser,
    enabled: bool,
    password: str,
    code: str,
    now: datetime,
    box: totp.SecretBox,
    origin: Origin,
) -> bool:
    """Switch HIPAA mode after the owner re-entered password and a current code; True if changed."""
    if not isinstance(owner, StaffUser) or not owner.is_owner:
        raise AccountError(_("Only the business owner can switch HIPAA mode."))
    if not owner.has_totp:
        raise AccountError(str(APP_CODE_NEEDED if owner.has_passkey else SET_UP_2FA_FIRST))
    password_ok = verify_password(owner.password_hash, password)
    secret = totp.readable(box, owner.totp_secret_encrypted)
    if secret is None:
        raise AccountError(
            _(
                "Your two-factor set-up can no longer be read, so your code cannot be checked. "
                "Ask whoever runs your portal to run the command portal reset-2fa with your "
                "e-mail address, then set it up again."
            )
        )
    step = totp.matching_step(secret, code, now, owner.totp_last_step)
    if not password_ok or step is None:
        raise AccountError(_("Your password or the code from your app was not correct."))
    owner.totp_last_step = step
    settings = _stored(session, owner.business_id)
    if settings.hipaa_mode == enabled:
        return False
    settings.hipaa_mode = enabled
    settings.hipaa_changed_at = now
    changes = {}
    if enabled:
        security = security_settings(session, owner.business_id)
        if security.idle_timeout_minutes > HIPAA_IDLE_TIMEOUT_MINUTES:
            changes = audit.apply_changes(
                security,
                {"idle_timeout_minutes": HIPAA_IDLE_TIMEOUT_MINUTES},
                ["idle_timeout_minutes"],
            )
            session.add(security)
    audit.record(
        session,
        audit.HIPAA_ENABLED if enabled else audit.HIPAA_DISABLED,
        now,
        business_id=owner.business_id,
        actor=owner,
        origin=origin,
        **({"changes": changes} if changes else {}),
    )
    session.flush()
    return True


def save_compliance(
    session: Session, owner, values: dict, now: datetime, origin: Origin
) -> dict[str, list]:
    """Support access and audit retention, audited with old and new values."""
    if not isinstance(owner, StaffUser) or not owner.is_owner:
        raise AccountError(_("Only the business owner can change these settings."))
    settings = _stored(session, owner.business_id)
    changes = audit.apply_changes(settings, values, ("support_access", "audit_retention_days"))
    audit.record_changes(session, owner, now, origin, "compliance", changes)
    session.flush()
    return changes


def support_refusal(settings: ComplianceSettings, *, barred: bool) -> str | None:
    """Why platform support may not open a page (``barred``: the staff member's own
    sign-in settings) at a business with ``settings``, or None if it may."""
    if settings.hipaa_mode:
        return "HIPAA mode"
    if not settings.support_access:
        return "support access is off"
    return "the staff member's own sign-in settings" if barred else None


def record_client_view(session: Session, actor, client, now: datetime, origin: Origin) -> None:
    """In HIPAA mode, every view of a client's details is an audit event."""
    if hipaa_on(session, client.business_id):
        audit.record(
            session,
            audit.CLIENT_VIEWED,
            now,
            business_id=client.business_id,
            actor=actor,
            origin=origin,
            client_id=client.id,
        )


@dataclass(frozen=True)
class Safeguard:
    name: str
    rule: str
    met: bool
    detail: str


def checklist(session: Session, business_id: int, *, https: bool) -> list[Safeguard]:
    """Each HIPAA safeguard and whether it is in force at this business now."""
    from sqlalchemy import select

    compliance = compliance_settings(session, business_id)
    on = compliance.hipaa_mode
    staff = list(session.scalars(select(StaffUser).where(StaffUser.business_id == business_id)))
    without_2fa = [user.email for user in staff if user.active and not user.has_2fa]
    minutes = int(idle_timeout(session, business_id).total_seconds() // 60)  # caps included
    return [
        Safeguard(
            _("HIPAA mode"),
            "164.312",
            on,
            _("On: the safeguards below are enforced.") if on else _("Off."),
        ),
        Safeguard(
            _("Two-factor sign-in for every staff user"),
            _("164.312(d) person authentication"),
            on or security_settings(session, business_id).require_2fa,
            (
                _("Enrolled: all staff.")
                if not without_2fa
                else _(
                    "Not enrolled yet (asked at next sign-in): %(emails)s",
                    emails=", ".join(without_2fa),
                )
            )
            + " "
            + _(
                "An authenticator app or a passkey counts; %(num)d of %(total)d use a passkey "
                "(phishing-resistant).",
                num=sum(1 for user in staff if user.active and user.has_passkey),
                total=sum(1 for user in staff if user.active),
            ),
        ),
        Safeguard(
            _("Automatic logoff"),
            "164.312(a)(2)(iii)",
            minutes <= HIPAA_IDLE_TIMEOUT_MINUTES,
            _(
                "Signed out after %(minutes)d minutes without activity; 12 hours at most.",
                minutes=minutes,
            ),
        ),
        Safeguard(
            _("Encrypted connection (HTTPS)"),
            _("164.312(e)(1) transmission security"),
            on or https,
            _("HTTPS is forced for this business.") if on or https else _("HTTPS is not forced."),
        ),
        Safeguard(
            _("Platform support barred"),
            _("164.312(a)(1) access control"),
            not compliance.support_allowed,
            _("Support staff cannot open this account.")
            if not compliance.support_allowed
            else _("Support staff may open this account (every page they open is audited)."),
        ),
        Safeguard(
            _("Sign-in notices"),
            _("164.308(a)(5)(ii)(C) log-in monitoring"),
            on,
            _("Every staff sign-in is e-mailed to the user.") if on else _("Not sent."),
        ),
        Safeguard(
            _("Notifications without health information"),
            _("164.502(b) minimum necessary"),
            on,
            _("Client e-mails and calendar files name neither client nor service.")
            if on
            else _("E-mails name the service and the client."),
        ),
        Safeguard(
            _("Audit controls"),
            _("164.312(b) and (c)(1) integrity"),
            True,
            " ".join(
                (
                    _audit_protection(session),
                    _("Views of client details are logged now.")
                    if on
                    else _("Views of client details are logged in HIPAA mode."),
                )
            ),
        ),
    ]


def _audit_protection(session: Session) -> str:
    """What protects the audit log, on the database this instance runs on."""
    if session.get_bind().dialect.name == "postgresql":
        return _(
            "Audit trail: a PostgreSQL trigger refuses changes and deletions except by the "
            "retention purge (a database superuser can switch it off); every event is sealed "
            "with a key the database does not hold, and each chain's end is also written to "
            "a file outside the database, so portal audit verify reports an edit, a removal "
            "or a re-sealing."
        )
    return _(
        "Audit trail: a SQLite trigger refuses changes and deletions except by the retention "
        "purge (whoever can write the database file can remove it); every event is sealed "
        "with a key the database does not hold, and each chain's end is also written to a "
        "file outside the database, so portal audit verify reports an edit, a removal or a "
        "re-sealing."
    )


@dataclass(frozen=True)
class Effect:
    """One thing switching HIPAA mode on does, said for this business as it is now."""

    name: str
    effect: str


def switching_on_effects(session: Session, business_id: int) -> list[Effect]:
    """What switching HIPAA mode on would change at this business (shown while it is off)."""
    from sqlalchemy import select

    staff = list(session.scalars(select(StaffUser).where(StaffUser.business_id == business_id)))
    without_2fa = sorted(user.email for user in staff if user.active and not user.has_2fa)
    minutes = int(idle_timeout(session, business_id).total_seconds() // 60)
    return [
        Effect(
            _("Two-factor sign-in for every staff user"),
            _(
                "Every staff member must sign in with a second factor: a code from an "
                "authenticator app or a passkey. Not set up yet (they are asked at their next "
                "sign-in): %(emails)s.",
                emails=", ".join(without_2fa),
            )
            if without_2fa
            else _(
                "Every staff member must sign in with a second factor: a code from an "
                "authenticator app or a passkey; all of them already do."
            ),
        ),
        Effect(
            _("Automatic logoff"),
            _(
                "Staff are signed out after 15 minutes without activity (now: %(minutes)d "
                "minutes).",
                minutes=minutes,
            )
            if minutes > HIPAA_IDLE_TIMEOUT_MINUTES
            else _(
                "Staff are signed out after at most 15 minutes without activity (yours: "
                "%(minutes)d minutes, kept).",
                minutes=minutes,
            ),
        ),
        Effect(
            _("Encrypted connection (HTTPS)"),
            _("Your staff area and booking pages open only over an encrypted connection."),
        ),
        Effect(
            _("Platform support barred"),
            _("Platform support can no longer open your account, whatever you allow below."),
        ),
        Effect(
            _("Sign-in notices"),
            _("Every staff sign-in is e-mailed to the staff member, so a stranger's is noticed."),
        ),
        Effect(
            _("Notifications without health information"),
            _("Client e-mails and calendar files name neither client nor service."),
        ),
        Effect(
            _("Audit controls"),
            _("Every view of a client's details is recorded in the audit log."),
        ),
    ]
