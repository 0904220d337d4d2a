"""Creating staff users."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import STAFF, StaffUser
from portal.accounts.passwords import hash_password
from portal.businesses.models import Business


class AccountError(ValueError):
    """A staff user cannot be created as asked."""


def create_staff_user(
    session: Session, business: Business, *, email: str, password: str, role: str = STAFF, name=""
) -> StaffUser:
    """Add a staff user to ``business`` with a hashed password."""
    email = email.strip().lower()
    exists = session.scalar(
        select(StaffUser.id).where(StaffUser.business_id == business.id, StaffUser.email == email)
    )
    if exists:
        raise AccountError(f"{email} already has an account at {business.name}.")
    user = StaffUser(
        business_id=business.id,
        email=email,
        name=name,
        role=role,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    return user
