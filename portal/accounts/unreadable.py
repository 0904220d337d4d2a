"""A second factor no configured key opens: a page that says who can help, never a 500.

It happens when the encryption key (or the secret key it defaults to) changed
without the old one staying in ``PORTAL_ENCRYPTION_KEYS``. The user cannot fix
it; an owner resets the user's two-factor sign-in (the staff team page, or
``portal reset-2fa`` for an owner), and the event is in the audit log.
"""

from __future__ import annotations

import logging
from typing import NoReturn

from flask import render_template

from portal.accounts.current import origin
from portal.accounts.models import StaffUser
from portal.audit import service as audit
from portal.clock import utcnow
from portal.extensions import db
from portal.web.errors import RefusedWithPage

log = logging.getLogger(__name__)

#: Not the user's fault and not a server failure: the stored set-up conflicts with the keys.
STATUS = 409


def refuse(user: StaffUser) -> NoReturn:
    """Answer with the "ask your owner to reset" page; the audit event stands."""
    now, where = utcnow(), origin()
    log.warning(
        "no configured encryption key opens the TOTP secret of staff user %s; "
        "keep the old key in PORTAL_ENCRYPTION_KEYS or reset the user's 2FA",
        user.id,
    )
    db.record(
        lambda session: audit.record(
            session,
            audit.TWO_FACTOR_UNREADABLE,
            now,
            business_id=user.business_id,
            actor=user,
            origin=where,
        )
    )
    is_owner = user.is_owner
    raise RefusedWithPage(
        lambda: (render_template("accounts/two_factor_unreadable.html", is_owner=is_owner), STATUS)
    )
