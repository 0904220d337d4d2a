"""Clean history rules and the purge, as plain functions over sessions.

The purge works in batches, each its own short write transaction, so
bookings keep being taken between batches; it therefore takes a factory of
sessions rather than one session.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from portal.accounts.models import ClientAccount
from portal.accounts.passwords import verify_password
from portal.audit import service as audit
from portal.audit.service import SYSTEM, Origin
from portal.booking.models import Booking, BookingConsent, BookingEvent
from portal.businesses.models import Business
from portal.clients.forms import WRONG_PASSWORD
from portal.clients.models import Client
from portal.features import GIFT_CARDS, MEMBERSHIPS, PACKAGES, history_features_on
from portal.giftcards.models import ACTIVE, GiftCard, GiftCardRedemption
from portal.retention.models import DAYS, MONTHS, RetentionSettings
from portal.web.lazy_text import lazy_text as _l

#: Bookings deleted per transaction: small enough that a booking request
#: waits only milliseconds for the write lock between batches.
BATCH_SIZE = 2_000
MAX_DAYS = 3652
MAX_MONTHS = 120
EDITABLE = ("enabled", "period_amount", "period_unit", "delete_orphan_clients")
#: Why each feature that needs the history stands in the way of clean history.
HISTORY_NEEDED_BY = {
    GIFT_CARDS: _l(
        "Gift cards need the booking history kept (what was spent on which booking). "
        "Switch gift cards off first."
    ),
    MEMBERSHIPS: _l(
        "Memberships need the booking history kept (what was spent on which booking). "
        "Switch memberships off first."
    ),
    PACKAGES: _l(
        "Packages need the booking history kept (what was spent on which booking). "
        "Switch packages off first."
    ),
}


class RetentionError(Exception):
    """A clean history change or purge the rules refuse."""


class HistoryNeeded(RetentionError):
    """A switched-on feature, or gift card balances, need the booking history."""


class ConfirmationNeeded(RetentionError):
    """Switching on or shortening needs the owner's password and the typed slug."""

    def __init__(self, problems: dict[str, str], would_delete: int) -> None:
        super().__init__(" ".join(problems.values()))
        self.problems = problems
        self.would_delete = would_delete


class NotEnabled(RetentionError):
    """Clean history is off at the business."""


def retention_settings(session: Session, business_id: int) -> RetentionSettings:
    """The business's setting (off until the owner changes it)."""
    settings = session.get(RetentionSettings, business_id)
    if settings is None:
        settings = RetentionSettings(
            business_id=business_id,
            enabled=False,
            period_amount=24,
            period_unit=MONTHS,
            delete_orphan_clients=False,
        )
    return settings


def period_problem(amount: int | None, unit: str | None) -> str | None:
    """Why the period is not allowed, or None: 1 day to 10 years."""
    if unit not in (DAYS, MONTHS):
        return _("Choose days or months.")
    limit = MAX_DAYS if unit == DAYS else MAX_MONTHS
    if amount is None or not 1 <= amount <= limit:
        if unit == DAYS:
            return _(
                "Choose a period from 1 to %(limit)d days: clean history deletes bookings "
                "that ended from 1 day to 10 years ago.",
                limit=limit,
            )
        return _(
            "Choose a period from 1 to %(limit)d months: clean history deletes bookings "
            "that ended from 1 day to 10 years ago.",
            limit=limit,
        )
    return None


def cutoff(now: datetime, amount: int, unit: str) -> datetime:
    """Bookings that ended before this instant are old enough to delete."""
    if unit == DAYS:
        return now - timedelta(days=amount)
    months = now.year * 12 + now.month - 1 - amount
    year, month = divmod(months, 12)
    day = min(now.day, calendar.monthrange(year, month + 1)[1])
    return now.replace(year=year, month=month + 1, day=day)


def period_length(amount: int, unit: str) -> timedelta:
    """Roughly how long the period is, to tell shorter from longer."""
    return timedelta(days=amount if unit == DAYS else amount * 30.44)


def _purgeable(business_id: int, before: datetime):
    """Bookings of the business that ended before ``before`` and nothing else needs."""
    return (
        Booking.business_id == business_id,
        # start_at < end_at, so this narrows the search to the business/start index.
        Booking.start_at < before,
        Booking.end_at < before,
        ~exists().where(GiftCardRedemption.booking_id == Booking.id),
    )


def count_purgeable(session: Session, business_id: int, before: datetime) -> int:
    """How many bookings ended before ``before`` and would be deleted."""
    return session.scalar(
        select(func.count()).select_from(Booking).where(*_purgeable(business_id, before))
    )


def cards_with_balance(session: Session, business_id: int, today) -> int:
    """Unexpired gift cards that still hold money."""
    return session.scalar(
        select(func.count()).where(
            GiftCard.business_id == business_id,
            GiftCard.status == ACTIVE,
            GiftCard.balance_cents > 0,
            GiftCard.expires_on >= today,
        )
    )


def history_blockers(session: Session, business: Business, now: datetime) -> list[str]:
    """Why clean history cannot be on at the business now (empty: it can)."""
    reasons = [
        str(HISTORY_NEEDED_BY[feature.name])
        if feature.name in HISTORY_NEEDED_BY
        else f"{feature.title} need the booking history kept (what was spent on which booking). "
        f"Switch {feature.title.lower()} off first."
        for feature in history_features_on(session, business.id)
    ]
    with_balance = cards_with_balance(session, business.id, business.local(now).date())
    if with_balance:
        reasons.append(
            ngettext(
                "%(num)d gift card(s) still have a balance; their history must stay "
                "until they are used up or expire.",
                "%(num)d gift card(s) still have a balance; their history must stay "
                "until they are used up or expire.",
                with_balance,
            )
        )
    return reasons


def save_settings(
    session: Session,
    business: Business,
    actor,
    values: dict,
    now: datetime,
    origin: Origin,
    *,
    password: str = "",
    typed_slug: str = "",
) -> dict:
    """Change the clean history setting; return the changes recorded.

    Switching on or shortening the period deletes bookings for good, so it
    needs the owner's password and the business's slug typed out.
    """
    problem = period_problem(values.get("period_amount"), values.get("period_unit"))
    if problem:
        raise RetentionError(problem)
    current = retention_settings(session, business.id)
    turning_on = values["enabled"] and not current.enabled
    shorter = (
        values["enabled"]
        and current.enabled
        and period_length(values["period_amount"], values["period_unit"])
        < period_length(current.period_amount, current.period_unit)
    )
    if values["enabled"]:
        blockers = history_blockers(session, business, now)
        if blockers and (turning_on or shorter):
            raise HistoryNeeded(" ".join(blockers))
    if turning_on or shorter:
        problems = {}
        if not verify_password(actor.password_hash, password or ""):
            problems["password"] = str(WRONG_PASSWORD)
        if (typed_slug or "").strip() != business.slug:
            problems["confirm_slug"] = _("Type %(slug)s exactly to confirm.", slug=business.slug)
        if problems:
            before = cutoff(now, values["period_amount"], values["period_unit"])
            raise ConfirmationNeeded(problems, count_purgeable(session, business.id, before))
    if session.get(RetentionSettings, business.id) is None:
        session.add(current)
    changes = audit.apply_changes(current, values, EDITABLE)
    if changes:
        current.changed_at = now
        audit.record_changes(session, actor, now, origin, "clean_history", changes)
    session.flush()
    return changes


# The purge ---------------------------------------------------------------------


@dataclass
class PurgeResult:
    business_id: int
    slug: str
    cutoff: datetime
    dry_run: bool
    bookings: int = 0
    consents: int = 0
    events: int = 0
    clients: int = 0
    batches: int = 0
    counts: dict = field(default_factory=dict)

    def as_details(self) -> dict:
        return {
            "cutoff": self.cutoff.isoformat(),
            "bookings": self.bookings,
            "consents": self.consents,
            "booking_events": self.events,
            "clients": self.clients,
        }


def purgeable_total(session: Session, business: Business, now: datetime) -> int:
    settings = retention_settings(session, business.id)
    if not settings.enabled:
        return 0
    return count_purgeable(
        session, business.id, cutoff(now, settings.period_amount, settings.period_unit)
    )


def _orphans(business_id: int):
    return (
        Client.business_id == business_id,
        ~exists().where(Booking.client_id == Client.id),
        ~exists().where(ClientAccount.client_id == Client.id),
        ~exists().where(BookingEvent.client_id == Client.id),
    )


def purge_business(
    new_session: Callable[[], Session],
    business_id: int,
    now: datetime,
    *,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[int], None] | None = None,
) -> PurgeResult:
    """Delete the business's bookings that ended longer ago than its setting says.

    Each batch is one transaction. Consents and booking events go with their
    bookings. A dry run counts and records what would go, and deletes nothing.
    """
    with new_session() as session, session.begin():
        business = session.get(Business, business_id)
        settings = retention_settings(session, business_id)
        if not settings.enabled:
            raise NotEnabled(f"Clean history is off at {business.slug}.")
        blockers = history_blockers(session, business, now)
        if blockers:
            raise HistoryNeeded(" ".join(blockers))
        before = cutoff(now, settings.period_amount, settings.period_unit)
        result = PurgeResult(business_id, business.slug, before, dry_run)
        delete_clients = settings.delete_orphan_clients
        if dry_run:
            _count_dry_run(session, result, delete_clients)
            audit.record(
                session,
                audit.HISTORY_PURGE_DRY_RUN,
                now,
                business_id=business_id,
                actor_kind="system",
                actor_label="purge-history",
                origin=SYSTEM,
                **result.as_details(),
            )
            return result

    while True:
        with new_session() as session, session.begin():
            ids = list(
                session.scalars(
                    select(Booking.id).where(*_purgeable(business_id, before)).limit(batch_size)
                )
            )
            if not ids:
                break
            result.consents += session.execute(
                delete(BookingConsent).where(BookingConsent.booking_id.in_(ids))
            ).rowcount
            result.events += session.execute(
                delete(BookingEvent).where(BookingEvent.booking_id.in_(ids))
            ).rowcount
            result.bookings += session.execute(
                delete(Booking).where(Booking.id.in_(ids), Booking.business_id == business_id)
            ).rowcount
            result.batches += 1
        if on_batch is not None:
            on_batch(len(ids))

    while delete_clients:
        with new_session() as session, session.begin():
            ids = list(
                session.scalars(select(Client.id).where(*_orphans(business_id)).limit(batch_size))
            )
            if not ids:
                break
            result.clients += session.execute(
                delete(Client).where(Client.id.in_(ids), Client.business_id == business_id)
            ).rowcount

    with new_session() as session, session.begin():
        settings = session.get(RetentionSettings, business_id)
        settings.last_purge_at = now
        audit.record(
            session,
            audit.HISTORY_PURGED,
            now,
            business_id=business_id,
            actor_kind="system",
            actor_label="purge-history",
            origin=SYSTEM,
            **result.as_details(),
        )
    return result


def _count_dry_run(session: Session, result: PurgeResult, delete_clients: bool) -> None:
    doomed = select(Booking.id).where(*_purgeable(result.business_id, result.cutoff))
    result.bookings = session.scalar(select(func.count()).select_from(doomed.subquery()))
    result.consents = session.scalar(
        select(func.count()).where(BookingConsent.booking_id.in_(doomed))
    )
    result.events = session.scalar(select(func.count()).where(BookingEvent.booking_id.in_(doomed)))
    if delete_clients:
        kept = select(Booking.client_id).where(
            Booking.business_id == result.business_id, Booking.id.not_in(doomed)
        )
        result.clients = session.scalar(
            select(func.count()).where(
                Client.business_id == result.business_id,
                Client.id.not_in(kept),
                ~exists().where(ClientAccount.client_id == Client.id),
            )
        )


def businesses_with_clean_history(session: Session) -> list[Business]:
    return list(
        session.scalars(
            select(Business)
            .join(RetentionSettings, RetentionSettings.business_id == Business.id)
            .where(RetentionSettings.enabled)
            .order_by(Business.id)
        )
    )
