"""Request hooks of HIPAA mode and platform support: HTTPS, support refusal, page audit."""

from __future__ import annotations

from flask import Flask, abort, redirect, request
from flask_babel import gettext as _

from portal.accounts.current import current_staff, current_support, origin
from portal.audit import service as audit
from portal.clock import utcnow
from portal.db import SAFE_METHODS
from portal.extensions import db
from portal.hipaa.service import compliance_settings, hipaa_on
from portal.hipaa.service import record_client_view as record_client_view_in
from portal.web.tenancy import business_in_url

#: What platform support may not do inside a business: the staff member's own sign-in.
SUPPORT_BARRED = {"staff_auth.change_password", "staff_auth.enrol_2fa", "hipaa.switch"}


def _business_id() -> int | None:
    """The business this request is about: the signed-in one's, or the one in the URL."""
    staff = current_staff()
    if staff is not None:
        return staff.business_id
    business = business_in_url()  # public pages under /b/<slug>/
    return business.id if business is not None else None


def force_https_in_hipaa_mode():
    """HTTPS for a HIPAA business's pages, whatever PORTAL_FORCE_HTTPS says."""
    if request.is_secure or request.endpoint in (None, "static", "health.healthz"):
        return None
    if hipaa_on(db.session, _business_id()):
        return redirect(request.url.replace("http://", "https://", 1), code=301)
    return None


def guard_support_visit():
    """Platform support inside a business: refused under HIPAA or when the owner said no;
    otherwise every page they open is an audit event."""
    user = current_support()
    staff = current_staff()
    if user is None or staff is None or request.endpoint in (None, "static"):
        return None
    if request.blueprint == "support":  # the picker, leaving, signing out
        return None
    now = utcnow()
    settings = compliance_settings(db.session, staff.business_id)
    writes = request.method not in SAFE_METHODS
    if not settings.support_allowed or request.endpoint in SUPPORT_BARRED:
        reason = (
            "HIPAA mode"
            if settings.hipaa_mode
            else "support access is off"
            if not settings.support_access
            else "the staff member's own sign-in settings"
        )
        _record(writes, audit.SUPPORT_REFUSED, staff, now, path=request.path, reason=reason)
        abort(403, description=_("Platform support may not open this account or page."))
    _record(writes, audit.SUPPORT_PAGE_VIEWED, staff, now, path=request.path, method=request.method)
    return None


def _record(writes: bool, kind: str, actor, now, **details) -> None:
    """In a POST, within the request's transaction; in a GET, in a short one of its own."""
    if writes:
        audit.record(
            db.session,
            kind,
            now,
            business_id=actor.business_id,
            actor=actor,
            origin=origin(),
            **details,
        )
        if kind == audit.SUPPORT_REFUSED:
            db.commit()
        return
    with db.writer() as writer, writer.begin():
        audit.record(
            writer,
            kind,
            now,
            business_id=actor.business_id,
            actor=actor,
            origin=origin(),
            **details,
        )


def init_app(app: Flask) -> None:
    app.before_request(force_https_in_hipaa_mode)
    app.before_request(guard_support_visit)


def record_client_view(client) -> None:
    """In HIPAA mode, note that the current user opened ``client``'s details."""
    staff = current_staff()
    if staff is None or not hipaa_on(db.session, client.business_id):
        return
    if request.method in SAFE_METHODS:
        with db.writer() as writer, writer.begin():
            record_client_view_in(writer, staff, client, utcnow(), origin())
    else:
        record_client_view_in(db.session, staff, client, utcnow(), origin())
