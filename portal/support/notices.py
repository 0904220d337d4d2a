"""E-mail to a platform support user about their own account."""

from __future__ import annotations

from flask_babel import gettext as _

from portal.accounts.notifications import send_account_mail
from portal.support.models import SupportUser


def send_lock_notice(user: SupportUser) -> None:
    """Tell ``user`` their account was just locked, until when, and how the operator unlocks it."""
    send_account_mail(
        user,
        _("Your Portal support account was locked"),
        "support/email/locked.txt",
        until=user.locked_until.strftime("%Y-%m-%d %H:%M") if user.locked_until else "",
        command=f"portal unlock-support-user {user.email}",
    )
