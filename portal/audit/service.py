"""Recording and reading audit events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit import chain
from portal.audit.models import AuditEvent
from portal.web.lazy_text import lazy_text as _l

SIGNIN_SUCCESS = "signin.success"
SIGNIN_FAILURE = "signin.failure"
SIGNOUT = "signout"
ACCOUNT_LOCKED = "account.locked"
ACCOUNT_UNLOCKED = "account.unlocked"
PASSWORD_CHANGED = "password.changed"  # noqa: S105 (an event name)
PASSWORD_RESET_REQUESTED = "password.reset_requested"  # noqa: S105 (an event name)
PASSWORD_RESET = "password.reset"  # noqa: S105 (an event name)
TWO_FACTOR_ENROLLED = "2fa.enrolled"
TWO_FACTOR_RESET = "2fa.reset"
TWO_FACTOR_FAILURE = "2fa.failure"
TWO_FACTOR_UNREADABLE = "2fa.unreadable"
RECOVERY_CODE_USED = "2fa.recovery_code_used"
PASSKEY_ADDED = "passkey.added"
PASSKEY_REMOVED = "passkey.removed"
PASSKEY_FAILURE = "passkey.failure"
PASSKEYS_RESET = "passkey.reset"
RECOVERY_CODES_ISSUED = "2fa.recovery_codes_issued"
SETTINGS_CHANGED = "settings.changed"
STAFF_INVITED = "staff.invited"
STAFF_CREATED = "staff.created"
CLIENT_SIGNED_UP = "client.signed_up"
BOOKING_CREATED_BY_STAFF = "booking.created_by_staff"
BOOKING_CANCELLED_BY_STAFF = "booking.cancelled_by_staff"
BOOKING_APPROVED = "booking.approved"
BOOKING_DECLINED = "booking.declined"
BOOKING_NO_SHOW = "booking.no_show"
BOOKING_ARRIVED = "booking.arrived"
BOOKING_MOVED_BY_STAFF = "booking.moved_by_staff"
BOOKING_RULES_OVERRIDDEN = "booking.rules_overridden"
NOTES_CHANGED = "notes.changed"
NOTES_VIEWED = "notes.viewed"
CLIENT_BLOCKED = "client.blocked"
CLIENT_UNBLOCKED = "client.unblocked"
CLIENT_VIEWED = "client.viewed"
SUPPORT_SIGNED_IN = "support.signed_in"
SUPPORT_OPENED = "support.opened"
SUPPORT_PAGE_VIEWED = "support.page_viewed"
SUPPORT_REFUSED = "support.refused"
HIPAA_ENABLED = "hipaa.enabled"
HIPAA_DISABLED = "hipaa.disabled"
AUDIT_EXPORTED = "audit.exported"
AUDIT_PURGED = "audit.purged"
AUDIT_SEALED = "audit.sealed_legacy"
AUDIT_RESEALED = "audit.resealed"
DATA_EXPORTED = "data.exported"
HISTORY_PURGED = "history.purged"
HISTORY_PURGE_DRY_RUN = "history.purge_dry_run"
CLIENT_EXPORTED = "client.exported"
CLIENT_ERASED = "client.erased"
GIFT_CARD_ISSUED = "giftcard.issued"
GIFT_CARD_REDEEMED = "giftcard.redeemed"
GIFT_CARD_VOIDED = "giftcard.voided"
GIFT_CARD_REFUNDED = "giftcard.refunded"
GIFT_CARD_FORFEITED = "giftcard.forfeited"
MESSAGE_RESENT = "message.resent"
KEYS_ROTATED = "keys.rotated"
BACKUP_TAKEN = "backup.taken"
BACKUP_RESTORED = "backup.restored"

KINDS = (
    SIGNIN_SUCCESS,
    SIGNIN_FAILURE,
    SIGNOUT,
    ACCOUNT_LOCKED,
    ACCOUNT_UNLOCKED,
    PASSWORD_CHANGED,
    PASSWORD_RESET_REQUESTED,
    PASSWORD_RESET,
    TWO_FACTOR_ENROLLED,
    TWO_FACTOR_RESET,
    TWO_FACTOR_FAILURE,
    TWO_FACTOR_UNREADABLE,
    RECOVERY_CODE_USED,
    PASSKEY_ADDED,
    PASSKEY_REMOVED,
    PASSKEY_FAILURE,
    PASSKEYS_RESET,
    RECOVERY_CODES_ISSUED,
    SETTINGS_CHANGED,
    STAFF_INVITED,
    STAFF_CREATED,
    CLIENT_SIGNED_UP,
    BOOKING_CREATED_BY_STAFF,
    BOOKING_CANCELLED_BY_STAFF,
    BOOKING_APPROVED,
    BOOKING_DECLINED,
    BOOKING_NO_SHOW,
    BOOKING_ARRIVED,
    BOOKING_MOVED_BY_STAFF,
    BOOKING_RULES_OVERRIDDEN,
    NOTES_CHANGED,
    NOTES_VIEWED,
    CLIENT_BLOCKED,
    CLIENT_UNBLOCKED,
    CLIENT_VIEWED,
    SUPPORT_SIGNED_IN,
    SUPPORT_OPENED,
    SUPPORT_PAGE_VIEWED,
    SUPPORT_REFUSED,
    HIPAA_ENABLED,
    HIPAA_DISABLED,
    AUDIT_EXPORTED,
    AUDIT_PURGED,
    AUDIT_SEALED,
    AUDIT_RESEALED,
    DATA_EXPORTED,
    HISTORY_PURGED,
    HISTORY_PURGE_DRY_RUN,
    CLIENT_EXPORTED,
    CLIENT_ERASED,
    GIFT_CARD_ISSUED,
    GIFT_CARD_REDEEMED,
    GIFT_CARD_VOIDED,
    GIFT_CARD_REFUNDED,
    GIFT_CARD_FORFEITED,
    MESSAGE_RESENT,
    KEYS_ROTATED,
    BACKUP_TAKEN,
    BACKUP_RESTORED,
)

#: What the audit page calls each kind. English shows the kind itself (as the CSV
#: export and the filter in the URL do); other languages translate it.
KIND_LABELS = {
    SIGNIN_SUCCESS: _l("signin.success"),
    SIGNIN_FAILURE: _l("signin.failure"),
    SIGNOUT: _l("signout"),
    ACCOUNT_LOCKED: _l("account.locked"),
    ACCOUNT_UNLOCKED: _l("account.unlocked"),
    PASSWORD_CHANGED: _l("password.changed"),
    PASSWORD_RESET_REQUESTED: _l("password.reset_requested"),
    PASSWORD_RESET: _l("password.reset"),
    TWO_FACTOR_ENROLLED: _l("2fa.enrolled"),
    TWO_FACTOR_RESET: _l("2fa.reset"),
    TWO_FACTOR_FAILURE: _l("2fa.failure"),
    TWO_FACTOR_UNREADABLE: _l("2fa.unreadable"),
    RECOVERY_CODE_USED: _l("2fa.recovery_code_used"),
    PASSKEY_ADDED: _l("passkey.added"),
    PASSKEY_REMOVED: _l("passkey.removed"),
    PASSKEY_FAILURE: _l("passkey.failure"),
    PASSKEYS_RESET: _l("passkey.reset"),
    RECOVERY_CODES_ISSUED: _l("2fa.recovery_codes_issued"),
    SETTINGS_CHANGED: _l("settings.changed"),
    STAFF_INVITED: _l("staff.invited"),
    STAFF_CREATED: _l("staff.created"),
    CLIENT_SIGNED_UP: _l("client.signed_up"),
    BOOKING_CREATED_BY_STAFF: _l("booking.created_by_staff"),
    BOOKING_CANCELLED_BY_STAFF: _l("booking.cancelled_by_staff"),
    BOOKING_APPROVED: _l("booking.approved"),
    BOOKING_DECLINED: _l("booking.declined"),
    BOOKING_NO_SHOW: _l("booking.no_show"),
    BOOKING_ARRIVED: _l("booking.arrived"),
    BOOKING_MOVED_BY_STAFF: _l("booking.moved_by_staff"),
    BOOKING_RULES_OVERRIDDEN: _l("booking.rules_overridden"),
    NOTES_CHANGED: _l("notes.changed"),
    NOTES_VIEWED: _l("notes.viewed"),
    CLIENT_BLOCKED: _l("client.blocked"),
    CLIENT_UNBLOCKED: _l("client.unblocked"),
    CLIENT_VIEWED: _l("client.viewed"),
    SUPPORT_SIGNED_IN: _l("support.signed_in"),
    SUPPORT_OPENED: _l("support.opened"),
    SUPPORT_PAGE_VIEWED: _l("support.page_viewed"),
    SUPPORT_REFUSED: _l("support.refused"),
    HIPAA_ENABLED: _l("hipaa.enabled"),
    HIPAA_DISABLED: _l("hipaa.disabled"),
    AUDIT_EXPORTED: _l("audit.exported"),
    AUDIT_PURGED: _l("audit.purged"),
    AUDIT_SEALED: _l("audit.sealed_legacy"),
    AUDIT_RESEALED: _l("audit.resealed"),
    DATA_EXPORTED: _l("data.exported"),
    HISTORY_PURGED: _l("history.purged"),
    HISTORY_PURGE_DRY_RUN: _l("history.purge_dry_run"),
    CLIENT_EXPORTED: _l("client.exported"),
    CLIENT_ERASED: _l("client.erased"),
    GIFT_CARD_ISSUED: _l("giftcard.issued"),
    GIFT_CARD_REDEEMED: _l("giftcard.redeemed"),
    GIFT_CARD_VOIDED: _l("giftcard.voided"),
    GIFT_CARD_REFUNDED: _l("giftcard.refunded"),
    GIFT_CARD_FORFEITED: _l("giftcard.forfeited"),
    MESSAGE_RESENT: _l("message.resent"),
    KEYS_ROTATED: _l("keys.rotated"),
    BACKUP_TAKEN: _l("backup.taken"),
    BACKUP_RESTORED: _l("backup.restored"),
}

#: Who acted, when no e-mail address names them.
ACTOR_KIND_LABELS = {
    "staff": _l("staff"),
    "client": _l("client"),
    "support": _l("support"),
    "anonymous": _l("anonymous"),
    "system": _l("system"),
}


@dataclass(frozen=True)
class Origin:
    """Where a request came from, for the record."""

    ip_address: str = ""
    user_agent: str = ""


SYSTEM = Origin()


def record(
    session: Session,
    kind: str,
    now: datetime,
    *,
    business_id: int | None,
    actor=None,
    actor_kind: str | None = None,
    actor_label: str = "",
    origin: Origin = SYSTEM,
    **details,
) -> AuditEvent:
    """Add an audit event; ``actor`` is a StaffUser or ClientAccount when known."""
    event = AuditEvent(
        business_id=business_id,
        created_at=now,
        kind=kind,
        actor_kind=actor_kind or (actor.kind if actor is not None else "anonymous"),
        actor_id=actor.id if actor is not None else None,
        actor_label=actor_label or (actor.email if actor is not None else ""),
        ip_address=origin.ip_address[:45],
        user_agent=origin.user_agent[:300],
        details=details,
    )
    chain.seal(session, event)
    session.add(event)
    return event


def apply_changes(target, values: dict, fields) -> dict[str, list]:
    """Set ``fields`` of ``target`` from ``values``; return {field: [old, new]} of real changes."""
    changes = {}
    for field in fields:
        if field in values and getattr(target, field) != values[field]:
            changes[field] = [_plain(getattr(target, field)), _plain(values[field])]
            setattr(target, field, values[field])
    return changes


def record_changes(
    session: Session, actor, now: datetime, origin: Origin, area: str, changes: dict
) -> AuditEvent | None:
    """One ``settings.changed`` event listing old and new values, if anything changed."""
    if not changes:
        return None
    return record(
        session,
        SETTINGS_CHANGED,
        now,
        business_id=actor.business_id,
        actor=actor,
        origin=origin,
        area=area,
        changes=changes,
    )


def _plain(value):
    """A JSON-friendly form of a setting's value."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def events_for(
    session: Session,
    business_id: int,
    *,
    kind: str | None = None,
    actor_label: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = 200,
) -> list[AuditEvent]:
    """The business's events, newest first, optionally filtered (``until`` exclusive)."""
    query = select(AuditEvent).where(AuditEvent.business_id == business_id)
    if since is not None:
        query = query.where(AuditEvent.created_at >= since)
    if until is not None:
        query = query.where(AuditEvent.created_at < until)
    if kind:
        query = query.where(AuditEvent.kind == kind)
    if actor_label:
        query = query.where(AuditEvent.actor_label == actor_label)
    query = query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))
