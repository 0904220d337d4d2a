"""What HIPAA mode adds to sign-in: a notice of every staff sign-in, and a short idle timeout.

Registered with accounts (``portal.accounts.hooks``), which knows nothing of HIPAA.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from portal.accounts.hooks import (
    account_hooks,
    register_private_mail,
    register_two_factor_requirement,
)
from portal.accounts.notifications import send_account_mail
from portal.audit.service import Origin
from portal.businesses.models import Business
from portal.extensions import db
from portal.hipaa.models import HIPAA_IDLE_TIMEOUT_MINUTES
from portal.hipaa.service import hipaa_on


def init_app(app: Flask) -> None:
    hooks = account_hooks(app)
    hooks.after_staff_sign_in.append(notify_sign_in)
    hooks.idle_timeout_caps.append(idle_timeout_cap)
    # In HIPAA mode account e-mails to clients (sign-up, reset, lock) greet no one by name.
    register_private_mail(hipaa_on, app)
    # Staff sent to enrol are told it is the business's rule.
    register_two_factor_requirement(hipaa_on, app)


def notify_sign_in(user, now: datetime, origin: Origin) -> None:
    """In HIPAA mode, tell the user of each sign-in: time, address and browser."""
    if not hipaa_on(db.session, user.business_id):
        return
    business = db.session.get(Business, user.business_id)
    send_account_mail(
        user,
        _("New sign-in to %(business)s", business=business.name),
        "hipaa/email/signin_notice.txt",
        business=business,
        when=now,
        origin=origin,
    )


def idle_timeout_cap(session: Session, business_id: int | None) -> timedelta | None:
    """In HIPAA mode a session idles out after 15 minutes, whatever the owner set."""
    if hipaa_on(session, business_id):
        return timedelta(minutes=HIPAA_IDLE_TIMEOUT_MINUTES)
    return None
