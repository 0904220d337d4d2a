"""Client accounts and the client records they book as: sign-up, and the account's bookings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts import tokens
from portal.accounts.models import VERIFY, ClientAccount
from portal.accounts.passwords import hash_password
from portal.accounts.service import check_new_password, find_client_account, normalise_email
from portal.audit import service as audit
from portal.audit.service import Origin
from portal.booking.models import Booking
from portal.businesses.models import Business
from portal.clients.models import Client
from portal.db import MAX_ID

VERIFY_LIFETIME = tokens.INVITE_LIFETIME


def client_of(session: Session, account: ClientAccount) -> Client:
    """The client record an account books as."""
    return session.get(Client, account.client_id)


def sign_up(
    session: Session,
    business: Business,
    *,
    name: str,
    email: str,
    phone: str,
    password: str,
    now: datetime,
    origin: Origin,
) -> tuple[ClientAccount, str | None]:
    """Create (or, while unconfirmed, renew) an account; return it and its confirmation token.

    An already confirmed account is returned untouched, with no token: the
    caller tells its owner by e-mail instead of telling the visitor it exists.
    Raises PasswordRejected before anything is written.
    """
    email = normalise_email(email)
    check_new_password(session, business, email, password)
    account = find_client_account(session, business.id, email)
    if account is not None and account.email_verified_at is not None:
        # Hash anyway: a new sign-up must not be told apart by how long it takes.
        hash_password(password)
        return account, None
    client = session.scalars(
        select(Client).where(Client.business_id == business.id, Client.email == email)
    ).first()
    if client is None:
        client = Client(business_id=business.id, name=name, email=email, phone=phone)
        session.add(client)
        session.flush()
    if account is None:
        account = ClientAccount(business_id=business.id, client_id=client.id, email=email)
        session.add(account)
    account.name = name
    account.password_hash = hash_password(password)
    session.flush()
    token = tokens.issue(session, account, VERIFY, now, VERIFY_LIFETIME)
    audit.record(
        session, audit.CLIENT_SIGNED_UP, now, business_id=business.id, actor=account, origin=origin
    )
    return account, token


def bookings_of(session: Session, account: ClientAccount) -> list[Booking]:
    """The account's bookings, newest appointment first."""
    return list(
        session.scalars(
            select(Booking)
            .where(
                Booking.business_id == account.business_id, Booking.client_id == account.client_id
            )
            .order_by(Booking.start_at.desc())
            .limit(500)
        )
    )


def booking_of(session: Session, account: ClientAccount, booking_id: int) -> Booking | None:
    """The account's booking of that id, or None (also for another client's)."""
    booking = session.get(Booking, booking_id) if booking_id <= MAX_ID else None
    if booking is None or booking.client_id != account.client_id:
        return None
    if booking.business_id != account.business_id:
        return None
    return booking
