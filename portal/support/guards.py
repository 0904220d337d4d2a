"""Platform support inside a business: refused under HIPAA or when the owner said no;
otherwise every page they open is an audit event."""

from __future__ import annotations

from flask import Flask, request
from flask_babel import gettext as _

from portal.accounts.current import current_account, current_staff, origin
from portal.audit import service as audit
from portal.clock import utcnow
from portal.extensions import db
from portal.hipaa.service import compliance_settings, support_refusal
from portal.support.models import SUPPORT_KIND, SupportUser
from portal.web.errors import render_error

#: What platform support may not do inside a business: the staff member's own sign-in.
SUPPORT_BARRED = {"staff_auth.change_password", "staff_auth.enrol_2fa", "hipaa.switch"}


def current_support() -> SupportUser | None:
    """The signed-in platform support user, or None."""
    return current_account(SUPPORT_KIND)


def guard_support_visit():
    """Refuse platform support where the business does not let it in; audit every page.

    A refusal is answered, not raised, so that its audit event is committed.
    """
    staff = current_staff()
    if current_support() is None or staff is None or request.endpoint in (None, "static"):
        return None
    if request.blueprint == "support":  # the picker, leaving, signing out
        return None
    settings = compliance_settings(db.session, staff.business_id)
    reason = support_refusal(settings, barred=request.endpoint in SUPPORT_BARRED)
    if reason is not None:
        _record_visit(audit.SUPPORT_REFUSED, staff, path=request.path, reason=reason)
        return render_error(403, _("Platform support may not open this account or page."))
    _record_visit(audit.SUPPORT_PAGE_VIEWED, staff, path=request.path, method=request.method)
    return None


def _record_visit(kind: str, actor, **details) -> None:
    now, where = utcnow(), origin()
    db.record(
        lambda session: audit.record(
            session, kind, now, business_id=actor.business_id, actor=actor, origin=where, **details
        )
    )


def init_app(app: Flask) -> None:
    app.before_request(guard_support_visit)
