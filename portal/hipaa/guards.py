"""Request hooks of HIPAA mode: HTTPS for its businesses, the audit of client views."""

from __future__ import annotations

from flask import Flask, current_app, redirect, request

from portal.accounts.current import current_staff, origin
from portal.clock import utcnow
from portal.extensions import db
from portal.hipaa.models import ComplianceSettings
from portal.hipaa.service import hipaa_on, remember_settings
from portal.hipaa.service import record_client_view as record_client_view_in
from portal.web.tenancy import business_in_url, load_with_business
from portal.web.transport import https_netloc, https_url


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
        # To the operator's host, never the request's Host header.
        netloc = https_netloc(current_app.config["BASE_URL"])
        query = request.query_string.decode("latin-1")
        return redirect(https_url(netloc, request.script_root + request.path, query), code=301)
    return None


def init_app(app: Flask) -> None:
    # Every public page asks for these settings: read them with its business, in one query.
    load_with_business(app, ComplianceSettings, remember_settings)
    app.before_request(force_https_in_hipaa_mode)


def record_client_view(client) -> None:
    """In HIPAA mode, note (once the page is served) that the current user opened ``client``."""
    staff = current_staff()
    if staff is None or not hipaa_on(db.session, client.business_id):
        return
    now, where = utcnow(), origin()
    db.record(lambda session: record_client_view_in(session, staff, client, now, where))
