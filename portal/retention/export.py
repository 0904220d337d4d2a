"""Bookings as CSV rows, read in keyset batches so memory stays flat.

Each batch is read in its own short transaction: a long export neither
holds a snapshot open for minutes nor keeps rows it has already written.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.audit import service as audit
from portal.audit.service import Origin
from portal.booking.models import Booking, BookingConsent
from portal.businesses.models import Business
from portal.catalog.models import Provider, Service
from portal.clients.models import Client
from portal.csv_safety import cell
from portal.policies.models import CancellationPolicyVersion, TermsVersion

BATCH_SIZE = 5_000

COLUMNS = (
    "booking_id",
    "start_utc",
    "end_utc",
    "start_local",
    "status",
    "service",
    "provider",
    "price_cents",
    "client_id",
    "client_name",
    "client_email",
    "client_phone",
    "created_at_utc",
    "created_by",
    "cancelled_at_utc",
    "cancelled_by",
    "terms_version",
    "terms_accepted_at_utc",
    "policy_version",
    "policy_accepted_at_utc",
    "consent_ip_address",
)


def local_range(business: Business, first: date | None, last: date | None):
    """UTC bounds of whole local days ``first``..``last`` (either may be open)."""
    start = datetime.combine(first, time(), tzinfo=business.tz) if first else None
    end = datetime.combine(last + timedelta(days=1), time(), tzinfo=business.tz) if last else None
    return start, end


def record_export(
    session: Session, actor, first: date | None, last: date | None, now: datetime, origin: Origin
) -> None:
    """Note that ``actor`` downloaded the bookings of ``first``..``last`` (open when None)."""
    audit.record(
        session,
        audit.DATA_EXPORTED,
        now,
        business_id=actor.business_id,
        actor=actor,
        origin=origin,
        what="bookings",
        first=first.isoformat() if first else None,
        last=last.isoformat() if last else None,
    )


def _where(business_id: int, start: datetime | None, end: datetime | None) -> list:
    where = [Booking.business_id == business_id]
    if start is not None:
        where.append(Booking.start_at >= start)
    if end is not None:
        where.append(Booking.start_at < end)
    return where


def count_rows(session: Session, business_id: int, start, end) -> int:
    return session.scalar(
        select(func.count()).select_from(Booking).where(*_where(business_id, start, end))
    )


def booking_rows(
    new_session: Callable[[], Session],
    business: Business,
    start: datetime | None,
    end: datetime | None,
    *,
    batch_size: int = BATCH_SIZE,
) -> Iterator[tuple[str, ...]]:
    """One tuple of cells per booking of the business starting in [start, end), by id."""
    last_id = 0
    tz = business.tz
    while True:
        with new_session() as session:
            rows = session.execute(
                select(
                    Booking.id,
                    Booking.start_at,
                    Booking.end_at,
                    Booking.status,
                    Service.name,
                    Provider.name,
                    Booking.price_cents,
                    Client.id,
                    Client.name,
                    Client.email,
                    Client.phone,
                    Booking.created_at,
                    Booking.created_by,
                    Booking.cancelled_at,
                    Booking.cancelled_by,
                )
                .join(Client, Client.id == Booking.client_id)
                .join(Service, Service.id == Booking.service_id)
                .join(Provider, Provider.id == Booking.provider_id)
                .where(*_where(business.id, start, end), Booking.id > last_id)
                .order_by(Booking.id)
                .limit(batch_size)
            ).all()
            if not rows:
                return
            consents = _consents(session, [row[0] for row in rows])
        for row in rows:
            terms, policy = consents.get(row[0], (None, None))
            ip_address = (terms or policy or (None, None, ""))[2]
            yield tuple(
                cell(value)
                for value in (
                    row[0],
                    row[1],
                    row[2],
                    row[1].astimezone(tz).isoformat(),
                    *row[3:],
                    terms[0] if terms else None,
                    terms[1] if terms else None,
                    policy[0] if policy else None,
                    policy[1] if policy else None,
                    ip_address,
                )
            )
        last_id = rows[-1][0]


def _consents(session: Session, booking_ids: list[int]) -> dict[int, list]:
    """booking id -> [(terms version, accepted, ip) | None, (policy version, ...) | None]."""
    found: dict[int, list] = {}
    rows = session.execute(
        select(
            BookingConsent.booking_id,
            BookingConsent.kind,
            TermsVersion.version,
            CancellationPolicyVersion.version,
            BookingConsent.accepted_at,
            BookingConsent.ip_address,
        )
        .outerjoin(TermsVersion, TermsVersion.id == BookingConsent.terms_version_id)
        .outerjoin(
            CancellationPolicyVersion,
            CancellationPolicyVersion.id == BookingConsent.policy_version_id,
        )
        .where(BookingConsent.booking_id.in_(booking_ids))
    )
    for booking_id, kind, terms_version, policy_version, accepted_at, ip_address in rows:
        pair = found.setdefault(booking_id, [None, None])
        if kind == "terms":
            pair[0] = (terms_version, accepted_at, ip_address)
        else:
            pair[1] = (policy_version, accepted_at, ip_address)
    return found


def csv_chunks(rows: Iterator[tuple[str, ...]], *, every: int = 500) -> Iterator[str]:
    """The header and the rows as CSV text, a few hundred rows per chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for number, row in enumerate(rows, 1):
        writer.writerow(row)
        if number % every == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
