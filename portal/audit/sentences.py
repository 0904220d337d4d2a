"""Audit events as sentences in the reader's language, for the audit log page.

"Anna Weber cancelled the booking of Mon 7 Dec, 10:00 — reason: ill." Each
kind has a function below (``SENTENCES``); a kind without one (an old or a
new one) falls back to a generic sentence naming the kind in plain words, so
the page never fails on an event it does not know. Times are the business's
local time. Clients are never named: the page refers to them by number (and
by the e-mail address an event recorded, except in HIPAA mode), as the raw
details always did. The CSV export keeps the raw events.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from babel.dates import format_datetime
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import StaffUser
from portal.audit import service as audit
from portal.audit.models import AuditEvent
from portal.booking.models import Booking
from portal.catalog.models import Provider
from portal.web.formatting import price
from portal.web.lazy_text import lazy_text as _l

#: A booking's time in a sentence: "Mon 7 Dec, 10:00" / "Mo., 7. Dez., 10:00".
MOMENT_PATTERNS = {"en": "EEE d MMM y, HH:mm", "de": "EEE, d. MMM y, HH:mm"}


@dataclass(frozen=True)
class Line:
    """One event on the page: its sentence and its raw details (for the toggle)."""

    event: AuditEvent
    sentence: str
    raw: str


@dataclass
class Reader:
    """What the sentences need to know beyond the event itself, looked up once per page."""

    business: object
    hipaa: bool = False
    staff_names: dict[int, str] = field(default_factory=dict)
    booking_starts: dict[int, datetime] = field(default_factory=dict)
    provider_names: dict[int, str] = field(default_factory=dict)

    # -- the parts of a sentence ----------------------------------------------------------

    def actor(self, event: AuditEvent) -> str:
        """Who acted: a staff member's name, else the address or a word for the kind."""
        label = event.actor_label or ""
        if event.actor_kind == "staff":
            return self.staff_names.get(event.actor_id) or label or _("A staff member")
        if event.actor_kind == "support":
            return (
                _("Platform support (%(email)s)", email=label) if label else _("Platform support")
            )
        if event.actor_kind == "system":
            if label in ("", "system"):
                return _("The portal")
            return _("The portal (%(task)s)", task=label)
        if event.actor_kind == "client":
            return _("A client") if self.hipaa or not label else _("Client %(email)s", email=label)
        return label or _("Someone")

    def moment(self, value) -> str:
        """An instant (or its ISO text) in the business's time zone, short."""
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                return value
        if not isinstance(value, datetime):
            return "—"
        if value.tzinfo is None:  # stored instants are UTC
            value = value.replace(tzinfo=UTC)
        language = _language()
        pattern = MOMENT_PATTERNS.get(language, MOMENT_PATTERNS["en"])
        return format_datetime(self.business.local(value), pattern, locale=language)

    def booking(self, details: dict, start_key: str = "start") -> str:
        """ "the booking of Mon 7 Dec, 10:00", from the event or from the booking itself."""
        start = details.get(start_key) or self.booking_starts.get(_number(details.get("booking")))
        if start:
            return _("the booking of %(when)s", when=self.moment(start))
        return _("booking #%(id)s", id=details.get("booking", "?"))

    def client(self, details: dict) -> str:
        """A client by number, with the address the event recorded unless in HIPAA mode."""
        number = details.get("client", details.get("client_id", "?"))
        email = details.get("email")
        if email and not self.hipaa:
            return _("client #%(id)s (%(email)s)", id=number, email=email)
        return _("client #%(id)s", id=number)

    def money(self, cents) -> str:
        currency = getattr(self.business, "currency", "EUR") or "EUR"
        return price(cents, currency) if isinstance(cents, int) else str(cents)

    def provider(self, number) -> str:
        return self.provider_names.get(_number(number)) or _("provider #%(id)s", id=number)


def _language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else "en"


def _number(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _with_reason(sentence: str, reason) -> str:
    """The sentence, and " — reason: …" when one was given."""
    reason = str(reason or "").strip()
    return (
        _("%(sentence)s — reason: %(reason)s", sentence=sentence, reason=reason)
        if reason
        else sentence
    )


# -- settings ------------------------------------------------------------------------------

#: What each settings area is called in "Anna changed …".
AREAS = {
    "security": _l("the security settings"),
    "business": _l("the business details"),
    "profile": _l("the business profile"),
    "booking_rules": _l("the booking rules"),
    "terms": _l("the terms and conditions"),
    "cancellation_policy": _l("the cancellation policy"),
    "compliance": _l("the support and audit settings"),
    "clean_history": _l("the clean-history settings"),
    "embedding": _l("the embedding settings"),
    "notifications": _l("their notification settings"),
    "gift_cards": _l("the gift card settings"),
    "features": _l("the features"),
    "services": _l("a service"),
    "providers": _l("a provider"),
}

#: Names of the settings most often changed; others read as their key in plain words.
FIELDS = {
    "name": _l("name"),
    "timezone": _l("time zone"),
    "locale": _l("language"),
    "terms_enabled": _l("terms required"),
    "terms_version": _l("terms version"),
    "cancellation_policy_enabled": _l("policy required"),
    "policy_version": _l("policy version"),
    "summary": _l("own sentence"),
    "cancel_mode": _l("online cancelling"),
    "cancel_notice_minutes": _l("cancelling notice (minutes)"),
    "reschedule_mode": _l("online rescheduling"),
    "reschedule_notice_minutes": _l("rescheduling notice (minutes)"),
    "idle_timeout_minutes": _l("idle limit (minutes)"),
    "require_2fa": _l("two-factor sign-in required"),
    "passkey_policy": _l("passkeys required for"),
    "client_passkeys_enabled": _l("client passkeys"),
    "min_length": _l("minimum password length"),
    "support_access": _l("platform support access"),
    "audit_retention_days": _l("audit log kept (days)"),
    "min_notice_minutes": _l("minimum notice (minutes)"),
    "max_days_ahead": _l("booking window (days)"),
    "duration_minutes": _l("duration (minutes)"),
    "buffer_minutes": _l("buffer (minutes)"),
    "price_cents": _l("price (cents)"),
    "active": _l("active"),
    "gift_cards": _l("gift cards"),
    "refund_on_cancel": _l("gift card refunds"),
}


def _value(value) -> str:
    if value is True:
        return _("on")
    if value is False:
        return _("off")
    if value is None or value == "":
        return "—"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _changes(changes) -> str:
    if not isinstance(changes, dict):
        return ""
    parts = []
    for key, pair in changes.items():
        label = str(FIELDS.get(key, str(key).replace("_", " ")))
        if isinstance(pair, list | tuple) and len(pair) == 2:
            parts.append(f"{label}: {_value(pair[0])} → {_value(pair[1])}")
        else:
            parts.append(f"{label}: {_value(pair)}")
    return "; ".join(parts)


def _settings_changed(event: AuditEvent, r: Reader, d: dict) -> str:
    area = AREAS.get(d.get("area"))
    area = str(area) if area else _("the settings (%(area)s)", area=d.get("area", "?"))
    changes = _changes(d.get("changes"))
    if changes:
        return _(
            "%(actor)s changed %(area)s: %(changes)s.",
            actor=r.actor(event),
            area=area,
            changes=changes,
        )
    return _("%(actor)s changed %(area)s.", actor=r.actor(event), area=area)


# -- one function per kind -----------------------------------------------------------------

SIGN_IN_REASONS = {
    "unknown account": _l("no such account"),
    "locked": _l("the account is locked"),
    "wrong password": _l("wrong password"),
    "support sign-in failed": _l("platform support sign-in failed"),
}


def _signin_failure(event, r, d):
    reason = SIGN_IN_REASONS.get(d.get("reason"), d.get("reason") or "")
    sentence = _("Failed sign-in as %(actor)s", actor=r.actor(event))
    if d.get("failed_attempts"):
        sentence = _("%(sentence)s (attempt %(num)s)", sentence=sentence, num=d["failed_attempts"])
    return _with_reason(sentence, reason) + "."


def _account_locked(event, r, d):
    until = d.get("until")
    if until and until != "unlocked":
        return _(
            "The account of %(actor)s was locked until %(when)s after too many failed attempts.",
            actor=r.actor(event),
            when=r.moment(until),
        )
    return _(
        "The account of %(actor)s was locked after too many failed attempts, until an owner unlocks it.",
        actor=r.actor(event),
    )


def _fill(message, **values) -> str:
    """A message marked with ``_l`` (so it is extracted), translated, then filled in."""
    return str(message) % values


def _simple(message) -> Callable:
    """A sentence that names only the actor."""
    return lambda event, r, d: _fill(message, actor=r.actor(event))


def _about_booking(message, *, reason: bool = False) -> Callable:
    """A sentence naming the actor and a booking (and its reason, if any)."""

    def sentence(event, r, d):
        text = _fill(message, actor=r.actor(event), booking=r.booking(d))
        return _with_reason(text, d.get("reason")) + "." if reason else text + "."

    return sentence


def _about_client(message) -> Callable:
    return lambda event, r, d: _fill(message, actor=r.actor(event), client=r.client(d))


def _moved(event, r, d):
    sentence = _(
        "%(actor)s moved %(booking)s to %(when)s",
        actor=r.actor(event),
        booking=r.booking(d, "old_start"),
        when=r.moment(d.get("new_start")),
    )
    if d.get("old_provider") != d.get("new_provider") and d.get("new_provider") is not None:
        sentence = _(
            "%(sentence)s, now with %(provider)s",
            sentence=sentence,
            provider=r.provider(d["new_provider"]),
        )
    return sentence + "."


def _notes(message_booking, message_client) -> Callable:
    def sentence(event, r, d):
        if d.get("booking") is not None:
            return _fill(message_booking, actor=r.actor(event), booking=r.booking(d))
        return _fill(message_client, actor=r.actor(event), client=r.client(d))

    return sentence


def _client_blocked(event, r, d):
    if event.actor_kind == "system" and d.get("rule"):
        return _(
            "%(client)s was blocked automatically: %(num)s late cancellations or no-shows.",
            client=r.client(d),
            num=d["rule"],
        )
    return _(
        "%(actor)s blocked %(client)s from booking online.",
        actor=r.actor(event),
        client=r.client(d),
    )


def _staff_added(message) -> Callable:
    return lambda event, r, d: _fill(
        message,
        actor=r.actor(event),
        email=d.get("invited") or d.get("created") or "?",
        role=ROLES.get(d.get("role"), d.get("role") or ""),
    )


ROLES = {"owner": _l("owner"), "staff": _l("staff member")}


def _hipaa_enabled(event, r, d):
    sentence = _("%(actor)s switched HIPAA mode on.", actor=r.actor(event))
    if d.get("changes"):
        sentence += " " + _("Changed with it: %(changes)s.", changes=_changes(d["changes"]))
    return sentence


def _audit_purged(event, r, d):
    return _(
        "%(actor)s removed %(num)s audit events older than %(when)s.",
        actor=r.actor(event),
        num=d.get("removed", "?"),
        when=r.moment(d.get("older_than")),
    )


def _audit_sealed(event, r, d):
    if d.get("as_found"):
        return _(
            "%(actor)s sealed %(num)s audit events recorded before the log was keyed, as found: "
            "their old hashes did not check out.",
            actor=r.actor(event),
            num=d.get("sealed", "?"),
        )
    return _(
        "%(actor)s sealed %(num)s audit events recorded before the log was keyed.",
        actor=r.actor(event),
        num=d.get("sealed", "?"),
    )


def _audit_resealed(event, r, d):
    return _(
        "%(actor)s sealed %(num)s audit events anew with the newest key.",
        actor=r.actor(event),
        num=d.get("resealed", "?"),
    )


def _history(message) -> Callable:
    return lambda event, r, d: _fill(
        message,
        actor=r.actor(event),
        bookings=d.get("bookings", 0),
        clients=d.get("clients", 0),
        when=r.moment(d.get("cutoff")),
    )


def _data_exported(event, r, d):
    return _("%(actor)s downloaded the booking history.", actor=r.actor(event))


def _client_erased(event, r, d):
    return _(
        "%(actor)s erased the data of %(client)s (%(deleted)s bookings deleted, %(kept)s kept without name).",
        actor=r.actor(event),
        client=r.client(d),
        deleted=d.get("bookings_deleted", 0),
        kept=d.get("bookings_kept_anonymous", 0),
    )


def _gift_card(message) -> Callable:
    return lambda event, r, d: _fill(
        message,
        actor=r.actor(event),
        card=d.get("card", "?"),
        amount=r.money(d.get("amount_cents", d.get("value_cents", d.get("forfeited_cents", 0)))),
        booking=r.booking(d) if d.get("booking") is not None else "",
    )


def _gift_card_voided(event, r, d):
    sentence = _(
        "%(actor)s voided gift card #%(card)s (%(amount)s forfeited)",
        actor=r.actor(event),
        card=d.get("card", "?"),
        amount=r.money(d.get("forfeited_cents", 0)),
    )
    return _with_reason(sentence, d.get("reason")) + "."


def _support_refused(event, r, d):
    return (
        _with_reason(
            _("%(actor)s was refused access to the staff area", actor=r.actor(event)),
            d.get("reason"),
        )
        + "."
    )


def _support_page(event, r, d):
    return _("%(actor)s opened the page %(path)s.", actor=r.actor(event), path=d.get("path", "?"))


def _audit_exported(event, r, d):
    return _(
        "%(actor)s downloaded %(num)s audit events as CSV.",
        actor=r.actor(event),
        num=d.get("events", "?"),
    )


def _message_resent(event, r, d):
    return _(
        "%(actor)s sent message #%(id)s again.", actor=r.actor(event), id=d.get("message", "?")
    )


SENTENCES: dict[str, Callable[[AuditEvent, Reader, dict], str]] = {
    audit.SIGNIN_SUCCESS: _simple(_l("%(actor)s signed in.")),
    audit.SIGNIN_FAILURE: _signin_failure,
    audit.SIGNOUT: _simple(_l("%(actor)s signed out.")),
    audit.ACCOUNT_LOCKED: _account_locked,
    audit.ACCOUNT_UNLOCKED: lambda event, r, d: _(
        "%(actor)s unlocked the account of %(email)s.",
        actor=r.actor(event),
        email=d.get("account", "?"),
    ),
    audit.PASSWORD_CHANGED: _simple(_l("%(actor)s changed their password.")),
    audit.PASSWORD_RESET_REQUESTED: _simple(_l("A password reset link was sent to %(actor)s.")),
    audit.PASSWORD_RESET: _simple(_l("%(actor)s set a new password with a reset link.")),
    audit.TWO_FACTOR_ENROLLED: _simple(_l("%(actor)s set up two-factor sign-in.")),
    audit.TWO_FACTOR_RESET: lambda event, r, d: _(
        "%(actor)s reset the two-factor sign-in of %(email)s.",
        actor=r.actor(event),
        email=d.get("user", "?"),
    ),
    audit.TWO_FACTOR_FAILURE: lambda event, r, d: _(
        "%(actor)s entered a wrong two-factor code (attempt %(num)s).",
        actor=r.actor(event),
        num=d.get("failed_attempts", "?"),
    ),
    audit.RECOVERY_CODE_USED: _simple(_l("%(actor)s signed in with a recovery code.")),
    audit.PASSKEY_ADDED: lambda event, r, d: _(
        "%(actor)s added the passkey “%(name)s”.", actor=r.actor(event), name=d.get("name", "?")
    ),
    audit.PASSKEY_REMOVED: lambda event, r, d: _(
        "%(actor)s removed the passkey “%(name)s”.",
        actor=r.actor(event),
        name=d.get("name", "?"),
    ),
    audit.PASSKEY_FAILURE: lambda event, r, d: _(
        "A passkey was refused for %(actor)s: %(reason)s.",
        actor=r.actor(event),
        reason=d.get("reason", "?"),
    ),
    audit.PASSKEYS_RESET: lambda event, r, d: _(
        "%(actor)s removed all passkeys of %(email)s.",
        actor=r.actor(event),
        email=d.get("user", "?"),
    ),
    audit.RECOVERY_CODES_ISSUED: _simple(_l("%(actor)s was given new recovery codes.")),
    audit.TWO_FACTOR_UNREADABLE: _simple(
        _l("%(actor)s could not sign in: no configured key opens their two-factor secret.")
    ),
    audit.SETTINGS_CHANGED: _settings_changed,
    audit.STAFF_INVITED: _staff_added(_l("%(actor)s invited %(email)s as %(role)s.")),
    audit.STAFF_CREATED: _staff_added(_l("%(actor)s added %(email)s as %(role)s.")),
    audit.CLIENT_SIGNED_UP: _simple(_l("%(actor)s created a client account.")),
    audit.BOOKING_CREATED_BY_STAFF: _about_booking(_l("%(actor)s booked %(booking)s for a client")),
    audit.BOOKING_CANCELLED_BY_STAFF: _about_booking(
        _l("%(actor)s cancelled %(booking)s"), reason=True
    ),
    audit.BOOKING_APPROVED: _about_booking(_l("%(actor)s approved the request for %(booking)s")),
    audit.BOOKING_DECLINED: _about_booking(
        _l("%(actor)s declined the request for %(booking)s"), reason=True
    ),
    audit.BOOKING_NO_SHOW: _about_booking(_l("%(actor)s marked %(booking)s as a no-show")),
    audit.BOOKING_ARRIVED: _about_booking(
        _l("%(actor)s marked the client of %(booking)s as arrived")
    ),
    audit.BOOKING_MOVED_BY_STAFF: _moved,
    audit.BOOKING_RULES_OVERRIDDEN: _about_booking(
        _l("%(actor)s overrode the booking rules for %(booking)s"), reason=True
    ),
    audit.NOTES_CHANGED: _notes(
        _l("%(actor)s changed the internal note on %(booking)s."),
        _l("%(actor)s changed the internal note on %(client)s."),
    ),
    audit.NOTES_VIEWED: _notes(
        _l("%(actor)s read the internal note on %(booking)s."),
        _l("%(actor)s read the internal note on %(client)s."),
    ),
    audit.CLIENT_BLOCKED: _client_blocked,
    audit.CLIENT_UNBLOCKED: _about_client(_l("%(actor)s allowed %(client)s to book online again.")),
    audit.CLIENT_VIEWED: _about_client(_l("%(actor)s viewed the details of %(client)s.")),
    audit.SUPPORT_SIGNED_IN: _simple(_l("%(actor)s signed in to the support console.")),
    audit.SUPPORT_OPENED: _simple(_l("%(actor)s opened the staff area.")),
    audit.SUPPORT_PAGE_VIEWED: _support_page,
    audit.SUPPORT_REFUSED: _support_refused,
    audit.HIPAA_ENABLED: _hipaa_enabled,
    audit.HIPAA_DISABLED: _simple(_l("%(actor)s switched HIPAA mode off.")),
    audit.AUDIT_EXPORTED: _audit_exported,
    audit.AUDIT_PURGED: _audit_purged,
    audit.AUDIT_SEALED: _audit_sealed,
    audit.AUDIT_RESEALED: _audit_resealed,
    audit.DATA_EXPORTED: _data_exported,
    audit.HISTORY_PURGED: _history(
        _l(
            "%(actor)s deleted %(bookings)s bookings from before %(when)s and %(clients)s clients without bookings."
        )
    ),
    audit.HISTORY_PURGE_DRY_RUN: _history(
        _l(
            "%(actor)s counted what cleaning the history would delete: %(bookings)s bookings from before %(when)s."
        )
    ),
    audit.CLIENT_EXPORTED: _about_client(_l("%(actor)s downloaded the data of %(client)s.")),
    audit.CLIENT_ERASED: _client_erased,
    audit.GIFT_CARD_ISSUED: _gift_card(
        _l("%(actor)s issued gift card #%(card)s worth %(amount)s.")
    ),
    audit.GIFT_CARD_REDEEMED: _gift_card(
        _l("Gift card #%(card)s paid %(amount)s for %(booking)s.")
    ),
    audit.GIFT_CARD_VOIDED: _gift_card_voided,
    audit.GIFT_CARD_REFUNDED: _gift_card(
        _l("%(amount)s went back to gift card #%(card)s: %(booking)s was cancelled.")
    ),
    audit.GIFT_CARD_FORFEITED: _gift_card(
        _l("%(amount)s paid with gift card #%(card)s for %(booking)s was not returned to the card.")
    ),
    audit.MESSAGE_RESENT: _message_resent,
    audit.KEYS_ROTATED: _simple(
        _l("%(actor)s re-encrypted the secrets at rest under the newest key.")
    ),
    audit.BACKUP_TAKEN: _simple(_l("%(actor)s wrote an encrypted backup of the database.")),
    audit.BACKUP_RESTORED: _simple(_l("%(actor)s restored the database from a backup.")),
}


def sentence(event: AuditEvent, reader: Reader) -> str:
    """The event in words; a generic sentence for a kind without its own, or on odd details."""
    details = event.details if isinstance(event.details, dict) else {}
    write = SENTENCES.get(event.kind)
    if write is not None:
        try:
            return write(event, reader, details)
        except (KeyError, TypeError, ValueError, AttributeError):
            pass  # details of an unexpected shape: say it generically, never fail the page
    return _(
        "%(actor)s: %(what)s.",
        actor=reader.actor(event),
        what=str(event.kind or "").replace(".", " ").replace("_", " "),
    )


def raw_details(event: AuditEvent) -> str:
    return json.dumps(event.details or {}, ensure_ascii=False, indent=2, sort_keys=True)


def reader_for(session: Session, business, events: Iterable[AuditEvent], *, hipaa: bool) -> Reader:
    """Look up the staff names, booking times and providers the events refer to (three queries)."""
    events = list(events)
    staff_ids = {e.actor_id for e in events if e.actor_kind == "staff" and e.actor_id}
    booking_ids, provider_ids = set(), set()
    for event in events:
        details = event.details if isinstance(event.details, dict) else {}
        if _number(details.get("booking")) is not None:
            booking_ids.add(details["booking"])
        for key in ("old_provider", "new_provider"):
            if _number(details.get(key)) is not None:
                provider_ids.add(details[key])
    reader = Reader(business, hipaa=hipaa)
    if staff_ids:
        rows = session.execute(
            select(StaffUser.id, StaffUser.name).where(
                StaffUser.business_id == business.id, StaffUser.id.in_(staff_ids)
            )
        )
        reader.staff_names = {row.id: row.name for row in rows if row.name}
    if booking_ids:
        rows = session.execute(
            select(Booking.id, Booking.start_at).where(
                Booking.business_id == business.id, Booking.id.in_(booking_ids)
            )
        )
        reader.booking_starts = {row.id: row.start_at for row in rows}
    if provider_ids:
        rows = session.execute(
            select(Provider.id, Provider.name).where(
                Provider.business_id == business.id, Provider.id.in_(provider_ids)
            )
        )
        reader.provider_names = {row.id: row.name for row in rows}
    return reader


def readable(
    session: Session, business, events: Iterable[AuditEvent], *, hipaa: bool
) -> list[Line]:
    """The events as lines of the audit page, in the page's language."""
    events = list(events)
    reader = reader_for(session, business, events, hipaa=hipaa)
    return [Line(event, sentence(event, reader), raw_details(event)) for event in events]
