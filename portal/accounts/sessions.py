"""Server-side records of signed-in browsers: idle and absolute timeouts, real sign-out."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.accounts.models import UserSession
from portal.tokens import hash_token

ABSOLUTE_TIMEOUT = timedelta(hours=12)
#: ``last_seen_at`` is written at most this often, to keep reads cheap.
TOUCH_INTERVAL = timedelta(seconds=60)


def start(
    session: Session, account, now: datetime, *, ip_address: str = "", user_agent: str = ""
) -> str:
    """Open a session record for ``account``; return the token for the cookie."""
    token = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            account_kind=account.kind,
            account_id=account.id,
            business_id=account.business_id,
            token_hash=hash_token(token),
            created_at=now,
            last_seen_at=now,
            ip_address=ip_address[:45],
            user_agent=user_agent[:300],
        )
    )
    session.flush()
    return token


def find(session: Session, token: str) -> UserSession | None:
    if len(token) > 100:
        return None
    return session.scalars(
        select(UserSession).where(UserSession.token_hash == hash_token(token))
    ).first()


def is_live(record: UserSession, now: datetime, idle_timeout: timedelta) -> bool:
    """Not signed out, not idle too long, not older than the absolute limit."""
    return (
        record.ended_at is None
        and now - record.last_seen_at <= idle_timeout
        and now - record.created_at <= ABSOLUTE_TIMEOUT
    )


def idled_out(record: UserSession, now: datetime, idle_timeout: timedelta) -> bool:
    """Ended by the idle timeout alone: not signed out, not past the absolute limit."""
    return (
        record.ended_at is None
        and now - record.last_seen_at > idle_timeout
        and now - record.created_at <= ABSOLUTE_TIMEOUT
    )


def needs_touch(record: UserSession, now: datetime) -> bool:
    return now - record.last_seen_at >= TOUCH_INTERVAL


def touch(session: Session, record_id: int, now: datetime) -> None:
    session.execute(
        update(UserSession)
        .where(UserSession.id == record_id, UserSession.ended_at.is_(None))
        .values(last_seen_at=now)
    )


def end(session: Session, token: str, now: datetime) -> None:
    session.execute(
        update(UserSession)
        .where(UserSession.token_hash == hash_token(token), UserSession.ended_at.is_(None))
        .values(ended_at=now)
    )


def end_by_id(session: Session, record_id: int, now: datetime) -> None:
    session.execute(
        update(UserSession)
        .where(UserSession.id == record_id, UserSession.ended_at.is_(None))
        .values(ended_at=now)
    )


def end_all(session: Session, account, now: datetime, *, except_token: str | None = None) -> int:
    """End every session of ``account`` (but the one of ``except_token``); return how many."""
    query = update(UserSession).where(
        UserSession.account_kind == account.kind,
        UserSession.account_id == account.id,
        UserSession.ended_at.is_(None),
    )
    if except_token is not None:
        query = query.where(UserSession.token_hash != hash_token(except_token))
    return session.execute(query.values(ended_at=now)).rowcount
