"""Failed sign-ins: count them, lock the account, let time or the owner unlock it."""

from __future__ import annotations

from datetime import datetime, timedelta

from portal.accounts.models import LOCK_UNTIL_UNLOCKED, Credentials, SecuritySettings

#: A repeated timed lock doubles, up to a day.
MAX_TIMED_LOCK = timedelta(hours=24)


def lock_duration(settings: SecuritySettings, lock_count: int) -> timedelta | None:
    """How long the ``lock_count``-th lock lasts; None: until an owner unlocks."""
    if settings.lockout_mode == LOCK_UNTIL_UNLOCKED:
        return None
    base = timedelta(minutes=settings.lockout_minutes)
    return min(base * (2 ** max(lock_count - 1, 0)), MAX_TIMED_LOCK)


def register_failure(account: Credentials, settings: SecuritySettings, now: datetime) -> bool:
    """Count one failed sign-in; return True when this failure locks the account."""
    if account.is_locked(now):
        return False
    if account.locked_at is not None:
        # An expired timed lock: the account starts counting afresh.
        account.locked_at = None
        account.locked_until = None
        account.failed_attempts = 0
    account.failed_attempts += 1
    if account.failed_attempts < settings.lockout_attempts:
        return False
    account.lock_count += 1
    duration = lock_duration(settings, account.lock_count)
    account.locked_at = now
    account.locked_until = now + duration if duration is not None else None
    return True


def register_success(account: Credentials) -> None:
    """A successful sign-in clears the count (earlier locks still make the next one longer)."""
    account.failed_attempts = 0
    account.locked_at = None
    account.locked_until = None


def unlock(account: Credentials) -> None:
    """An owner lifts the lock and forgives the history."""
    account.failed_attempts = 0
    account.lock_count = 0
    account.locked_at = None
    account.locked_until = None
