"""Binding a blueprint's ``<slug>`` URL part to the business it names."""

from flask import Blueprint, abort, g
from flask_babel import gettext as _
from sqlalchemy import bindparam, select

from portal.businesses.models import Business
from portal.businesses.service import SLUG_PATTERN
from portal.extensions import db
from portal.hipaa.models import ComplianceSettings
from portal.hipaa.service import remember_settings


def bind_business(blueprint: Blueprint) -> None:
    """Load ``g.business`` from the slug, answering 404 for an unknown one.

    Such public pages may be framed by the sites the business allows
    (``portal.embedding``); no other page may be framed.
    """
    blueprint.embeddable = True

    @blueprint.url_value_preprocessor
    def _take_slug(_endpoint, values) -> None:
        g.business_slug = values.pop("slug")

    # Looked up in a before-request hook, not above: those of the app (CSP
    # nonce, HTTPS redirect) run first, so a 404 here is served like any page.
    @blueprint.before_request
    def _load_business() -> None:
        if business_in_url() is None:
            abort(404, description=_("There is no business at this address. Check the link."))

    @blueprint.url_defaults
    def _add_slug(_endpoint, values) -> None:
        if "slug" not in values and g.get("business") is not None:
            values["slug"] = g.business.slug


def business_in_url() -> Business | None:
    """The business named by this request's ``<slug>``, looked up once per request.

    App-wide hooks (HIPAA's HTTPS rule, framing headers) ask too, some before
    the blueprint's own hook runs.
    """
    if "business" not in g:
        slug = g.get("business_slug")
        g.business = _business_with_settings(slug) if slug else None
    return g.business


# Built once: every public page runs it, and building costs about as much as running.
_BUSINESS_WITH_SETTINGS = (
    select(Business, ComplianceSettings)
    .outerjoin(ComplianceSettings, ComplianceSettings.business_id == Business.id)
    .where(Business.slug == bindparam("slug"))
)


def _business_with_settings(slug: str) -> Business | None:
    """The business and, in the same query, its compliance settings (every page asks)."""
    if not SLUG_PATTERN.match(slug):
        return None
    row = db.session.execute(_BUSINESS_WITH_SETTINGS, {"slug": slug}).first()
    if row is None:
        return None
    business, settings = row
    remember_settings(db.session, business.id, settings)
    return business


def current_business() -> Business:
    return g.business
