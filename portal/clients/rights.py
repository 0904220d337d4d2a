"""A client's data rights: everything stored about them, and erasure.

Erasure keeps a booking only where another feature needs it (a gift card
paid for it); such a booking stays as an anonymous record. The audit log is
hash-chained and append-only, so its entries are not rewritten: they are
kept under the log's own retention.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, cast, delete, exists, or_, select, update
from sqlalchemy.orm import Session, selectinload

from portal.accounts.models import CLIENT_KIND, ClientAccount, OneTimeToken, UserSession
from portal.audit import service as audit
from portal.audit.models import AuditEvent
from portal.audit.service import Origin
from portal.booking.models import Booking, BookingConsent, BookingEvent
from portal.clients.models import Client
from portal.giftcards.models import GiftCardRedemption

ERASED_NAME = "Erased client"
ACCOUNT_FIELDS = (
    "id",
    "email",
    "name",
    "email_verified_at",
    "created_at",
    "password_changed_at",
    "failed_attempts",
    "locked_at",
    "locked_until",
    "active",
)


def erased_email(client_id: int) -> str:
    return f"erased-{client_id}@erased.invalid"


def _plain(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _account(session: Session, client: Client) -> ClientAccount | None:
    return session.scalars(
        select(ClientAccount).where(
            ClientAccount.client_id == client.id, ClientAccount.business_id == client.business_id
        )
    ).first()


def _account_data(account: ClientAccount) -> dict:
    """The account's fields and its passkeys (names and dates: no key material)."""
    data = {name: _plain(getattr(account, name)) for name in ACCOUNT_FIELDS}
    data["passkeys"] = [
        {
            "name": passkey.name,
            "created_at": _plain(passkey.created_at),
            "last_used_at": _plain(passkey.last_used_at),
            "synced": passkey.backed_up,
            "authenticator_model": passkey.aaguid,
        }
        for passkey in account.passkeys
    ]
    return data


def client_data(session: Session, client: Client) -> dict:
    """Everything stored about the client, as JSON-ready data (no password hash)."""
    account = _account(session, client)
    bookings = session.scalars(
        select(Booking)
        .where(Booking.client_id == client.id, Booking.business_id == client.business_id)
        .options(selectinload(Booking.consents))
        .order_by(Booking.start_at)
    ).all()
    redemptions = session.scalars(
        select(GiftCardRedemption).where(
            GiftCardRedemption.booking_id.in_([b.id for b in bookings])
        )
    ).all()
    by_booking: dict[int, list] = {}
    for redemption in redemptions:
        by_booking.setdefault(redemption.booking_id, []).append(
            {
                "gift_card_id": redemption.gift_card_id,
                "amount_cents": redemption.amount_cents,
                "created_at": _plain(redemption.created_at),
            }
        )
    return {
        "client": {
            "id": client.id,
            "name": client.name,
            "email": client.email,
            "phone": client.phone,
            "blocked": client.blocked,
            "blocked_at": _plain(client.blocked_at),
            "blocked_reason": client.blocked_reason,
            "created_at": _plain(client.created_at),
            "staff_notes": client.staff_notes,
        },
        "account": _account_data(account) if account else None,
        "bookings": [
            {
                "id": booking.id,
                "service": booking.service.name,
                "provider": booking.provider.name,
                "start_at": _plain(booking.start_at),
                "end_at": _plain(booking.end_at),
                "status": booking.status,
                "price_cents": booking.price_cents,
                "created_at": _plain(booking.created_at),
                "created_by": booking.created_by,
                "ip_address": booking.ip_address,
                "cancelled_at": _plain(booking.cancelled_at),
                "cancelled_by": booking.cancelled_by,
                "cancel_reason": booking.cancel_reason,
                "client_notes": booking.client_notes,
                "staff_notes": booking.staff_notes,
                "consents": [
                    {
                        "kind": consent.kind,
                        "version": (
                            consent.terms_version.version
                            if consent.kind == "terms"
                            else consent.policy_version.version
                        ),
                        "accepted_at": _plain(consent.accepted_at),
                        "ip_address": consent.ip_address,
                        "deadline_passed_shown": consent.deadline_passed_shown,
                    }
                    for consent in booking.consents
                ],
                "gift_card_redemptions": by_booking.get(booking.id, []),
            }
            for booking in bookings
        ],
        "audit_events": [
            {
                "kind": event.kind,
                "created_at": _plain(event.created_at),
                "actor_kind": event.actor_kind,
                "ip_address": event.ip_address,
                "user_agent": event.user_agent,
                "details": event.details,
            }
            for event in _events_about(session, client, account)
        ],
    }


def _events_about(session: Session, client: Client, account: ClientAccount | None):
    about = [cast(AuditEvent.details, String).like(f'%"client": {client.id}%')]
    about.append(cast(AuditEvent.details, String).like(f'%"client":{client.id}%'))
    if account is not None:
        about.append((AuditEvent.actor_kind == CLIENT_KIND) & (AuditEvent.actor_id == account.id))
    return session.scalars(
        select(AuditEvent)
        .where(AuditEvent.business_id == client.business_id, or_(*about))
        .order_by(AuditEvent.id)
    ).all()


def record_export(session: Session, client: Client, actor, now: datetime, origin: Origin) -> None:
    audit.record(
        session,
        audit.CLIENT_EXPORTED,
        now,
        business_id=client.business_id,
        actor=actor,
        origin=origin,
        client=client.id,
    )


def erase_client(session: Session, client: Client, actor, now: datetime, origin: Origin) -> dict:
    """Remove the client's personal data; keep only bookings a gift card paid for, anonymised."""
    business_id = client.business_id
    mine = (Booking.client_id == client.id, Booking.business_id == business_id)
    needed = exists().where(GiftCardRedemption.booking_id == Booking.id)
    doomed = select(Booking.id).where(*mine, ~needed)
    kept = select(Booking.id).where(*mine, needed)
    session.execute(delete(BookingConsent).where(BookingConsent.booking_id.in_(doomed)))
    session.execute(delete(BookingEvent).where(BookingEvent.booking_id.in_(doomed)))
    deleted = session.execute(delete(Booking).where(Booking.id.in_(doomed))).rowcount
    session.execute(
        update(BookingConsent)
        .where(BookingConsent.booking_id.in_(kept))
        .values(ip_address="")
        .execution_options(synchronize_session=False)
    )
    anonymised = session.execute(
        update(Booking)
        .where(Booking.id.in_(kept))
        .values(ip_address="", cancel_reason="", client_notes="", staff_notes="")
        .execution_options(synchronize_session=False)
    ).rowcount

    account = _account(session, client)
    if account is not None:
        owned = (UserSession.account_kind == CLIENT_KIND, UserSession.account_id == account.id)
        session.execute(delete(UserSession).where(*owned))
        session.execute(
            delete(OneTimeToken).where(
                OneTimeToken.account_kind == CLIENT_KIND, OneTimeToken.account_id == account.id
            )
        )
        session.delete(account)
        session.flush()

    client_id = client.id
    if anonymised:
        client.name = ERASED_NAME
        client.email = erased_email(client.id)
        client.phone = ""
        client.blocked_reason = ""
        client.staff_notes = ""
    else:
        session.execute(delete(BookingEvent).where(BookingEvent.client_id == client_id))
        session.delete(client)
    session.flush()
    summary = {
        "client": client_id,
        "bookings_deleted": deleted,
        "bookings_kept_anonymous": anonymised,
        "account_deleted": account is not None,
    }
    audit.record(
        session,
        audit.CLIENT_ERASED,
        now,
        business_id=business_id,
        actor=actor,
        origin=origin,
        **summary,
    )
    return summary
