"""Binding a blueprint's ``<slug>`` URL part to the business it names."""

from collections.abc import Callable
from functools import cache

from flask import Blueprint, Flask, abort, current_app, g
from flask_babel import gettext as _
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from portal.businesses.models import Business
from portal.businesses.service import SLUG_PATTERN
from portal.extensions import db

_COMPANIONS = "portal_business_companions"


def load_with_business(
    app: Flask, model: type, remember: Callable[[Session, int, object | None], None]
) -> None:
    """Read ``model``'s row (or None) together with the business of every public page.

    ``model`` has a ``business_id`` column; ``remember(session, business_id,
    row)`` receives the row, so a feature every page asks about (HIPAA's
    settings) costs no query of its own. Registrations are per app.
    """
    app.extensions.setdefault(_COMPANIONS, {})[model] = remember


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
        g.business = _business_with_companions(slug) if slug else None
    return g.business


@cache
def _business_query(models: tuple[type, ...]) -> Select:
    """Built once per set of companions: every public page runs it, and building costs
    about as much as running."""
    query = select(Business, *models)
    for model in models:
        query = query.outerjoin(model, model.business_id == Business.id)
    return query.where(Business.slug == bindparam("slug"))


def _business_with_companions(slug: str) -> Business | None:
    """The business and, in the same query, the rows registered to come with it."""
    if not SLUG_PATTERN.match(slug):
        return None
    companions = current_app.extensions.get(_COMPANIONS, {})
    row = db.session.execute(_business_query(tuple(companions)), {"slug": slug}).first()
    if row is None:
        return None
    business, *rows = row
    for remember, companion in zip(companions.values(), rows, strict=True):
        remember(db.session, business.id, companion)
    return business


def current_business() -> Business:
    return g.business
