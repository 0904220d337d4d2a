"""Client accounts: sign-up with a confirmed address, and their bookings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import ClientAccount
from portal.accounts.passwords import hash_password
from portal.accounts.service import check_new_password, normalise_email, security_settings
from portal.booking.models import Booking
from portal.businesses.models import Business
from portal.clients.models import Client


def accounts_enabled(session: Session, business: Business) -> bool:
    """Whether the owner lets clients create accounts ("clients may create accounts")."""
    return security_settings(session, business.id).client_accounts_enabled


def client_of(session: Session, account: ClientAccount) -> Client:
    """The client record an account books as."""
    return session.get(Client, account.client_id)


def find_client_account(session: Session, business: Business, email: str) -> ClientAccount | None:
    return session.scalars(
        select(ClientAccount).where(
            ClientAccount.business_id == business.id,
            ClientAccount.email == normalise_email(email),
        )
    ).first()


def sign_up(
    session: Session, business: Business, *, name: str, email: str, phone: str, password: str
) -> tuple[ClientAccount, bool]:
    """Create (or, while unconfirmed, renew) an account; return it and whether it is new.

    An already confirmed account is returned untouched with False: the caller
    tells its owner by e-mail instead of telling the visitor it exists.
    """
    email = normalise_email(email)
    check_new_password(session, business, email, password)
    account = find_client_account(session, business, email)
    if account is not None and account.email_verified_at is not None:
        # Hash anyway: a new sign-up must not be told apart by how long it takes.
        hash_password(password)
        return account, False
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
    return account, True


def confirm_email(account: ClientAccount, now: datetime) -> None:
    if account.email_verified_at is None:
        account.email_verified_at = now
        account.password_changed_at = now


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
    booking = session.get(Booking, booking_id)
    if booking is None or booking.client_id != account.client_id:
        return None
    if booking.business_id != account.business_id:
        return None
    return booking
