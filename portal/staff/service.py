"""The owner's team: inviting staff members and listing them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts import service as accounts
from portal.accounts import tokens
from portal.accounts.models import INVITE, StaffUser
from portal.audit import service as audit
from portal.audit.service import Origin
from portal.businesses.models import Business


def invite(
    session: Session,
    business: Business,
    owner: StaffUser,
    *,
    email: str,
    name: str,
    role: str,
    now: datetime,
    origin: Origin,
) -> tuple[StaffUser, str]:
    """Add a staff member who sets a password through the returned invitation token; audited.

    Raises ``AccountError`` (before adding anything) when the address has an account.
    """
    user = accounts.create_staff_user(
        session, business, email=email, password=None, role=role, name=name
    )
    token = tokens.issue(session, user, INVITE, now, tokens.INVITE_LIFETIME)
    audit.record(
        session,
        audit.STAFF_INVITED,
        now,
        business_id=business.id,
        actor=owner,
        origin=origin,
        invited=user.email,
        role=user.role,
    )
    return user, token


def team_of(session: Session, business_id: int) -> list[StaffUser]:
    """The business's staff members, by e-mail address."""
    return list(
        session.scalars(
            select(StaffUser).where(StaffUser.business_id == business_id).order_by(StaffUser.email)
        )
    )
