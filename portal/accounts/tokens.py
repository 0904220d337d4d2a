"""Single-use link tokens for password resets and staff invitations."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import OneTimeToken
from portal.tokens import hash_token

RESET_LIFETIME = timedelta(minutes=30)
INVITE_LIFETIME = timedelta(days=3)


def issue(session: Session, account, purpose: str, now: datetime, lifetime: timedelta) -> str:
    """Create a token for ``account``; earlier unused tokens of the same purpose stop working."""
    for old in session.scalars(
        select(OneTimeToken).where(
            OneTimeToken.account_kind == account.kind,
            OneTimeToken.account_id == account.id,
            OneTimeToken.purpose == purpose,
            OneTimeToken.used_at.is_(None),
        )
    ):
        old.used_at = now
    token = secrets.token_urlsafe(32)
    session.add(
        OneTimeToken(
            account_kind=account.kind,
            account_id=account.id,
            purpose=purpose,
            token_hash=hash_token(token),
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    session.flush()
    return token


def find_valid(
    session: Session, token: str, purpose: str, account_kind: str, now: datetime
) -> OneTimeToken | None:
    """The unused, unexpired token record, or None."""
    if not token or len(token) > 100:
        return None
    record = session.scalars(
        select(OneTimeToken).where(
            OneTimeToken.token_hash == hash_token(token),
            OneTimeToken.purpose == purpose,
            OneTimeToken.account_kind == account_kind,
        )
    ).first()
    if record is None or record.used_at is not None or record.expires_at <= now:
        return None
    return record


@dataclass(frozen=True)
class Link:
    """A valid single-use link and the account it was issued to."""

    record: OneTimeToken
    account: object


def open_link(
    session: Session,
    token: str,
    purpose: str,
    model: type,
    now: datetime,
    *,
    business_id: int | None = None,
) -> Link | None:
    """The link of ``token`` and its ``model`` account (of ``business_id``, if given), or None."""
    record = find_valid(session, token, purpose, model.kind, now)
    account = session.get(model, record.account_id) if record is not None else None
    if account is None or business_id not in (None, account.business_id):
        return None
    return Link(record, account)
