"""E-mails HIPAA mode adds: a notice of every staff sign-in."""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _

from portal.accounts.notifications import send_account_mail
from portal.audit.service import Origin
from portal.businesses.models import Business
from portal.extensions import db
from portal.hipaa.service import hipaa_on


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
