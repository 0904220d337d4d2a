"""Request-time side of embedding: who may frame a page, embed mode, the iframe's cookie.

A public page (a blueprint bound with ``bind_business``) may be framed by the
origins its business allows; every other page keeps ``frame-ancestors 'none'``
and ``X-Frame-Options: DENY`` as Talisman sends them.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit, urlunsplit

from flask import Flask, current_app, has_request_context, request, url_for
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException

from portal.businesses.models import Business
from portal.embedding.service import allowed_origins
from portal.web.security import adjust_headers
from portal.web.tenancy import business_in_url

EMBED_PARAM = "embed"
EMBED_VALUE = "1"


def init_app(app: Flask) -> None:
    """Hook embedding into the app: framing headers, embed mode, the iframe's cookie."""
    adjust_headers(app, _apply_embedding)  # runs after Talisman, may rewrite its headers
    app.session_interface = EmbeddableSessionInterface()
    app.jinja_env.globals["url_for"] = _url_for_in_mode
    app.context_processor(_template_context)


def _template_context() -> dict[str, bool]:
    return {"embedded": embedded_business() is not None}


def _is_public(blueprint_name: str | None) -> bool:
    blueprint = current_app.blueprints.get(blueprint_name or "")
    return bool(getattr(blueprint, "embeddable", False))


def public_business() -> Business | None:
    """The business whose public page this request shows, or None on any other page."""
    if not _is_public(request.blueprint):
        return None
    # Also when an app hook (the CSRF check, a rate limit) refused the request
    # before bind_business loaded the business: the error page is still one of its pages.
    return business_in_url()


def embedded_business() -> Business | None:
    """The business whose public page is shown in embed mode (``?embed=1``), else None."""
    if not has_request_context() or request.args.get(EMBED_PARAM) != EMBED_VALUE:
        return None
    return public_business()


def _url_for_in_mode(endpoint: str, **values) -> str:
    """Templates' ``url_for``: while embedded, links to public pages stay embedded.

    E-mails and other addresses built in Python use Flask's own ``url_for`` and
    so never carry ``embed=1``; ``embed=None`` opts a template link out.
    """
    if EMBED_PARAM not in values and embedded_business() is not None:
        full = f"{request.blueprint}{endpoint}" if endpoint.startswith(".") else endpoint
        if _is_public(full.rpartition(".")[0]):
            values[EMBED_PARAM] = EMBED_VALUE
    return url_for(endpoint, **values)


def _apply_embedding(response):
    business = public_business()
    if business is None:
        return response
    _allow_framing(response, allowed_origins(business))
    if embedded_business() is not None:
        _keep_embed_in_redirect(response)
    return response


def _allow_framing(response, origins: list[str]) -> None:
    policy = response.headers.get("Content-Security-Policy")
    if not origins or not policy:
        return
    response.headers["Content-Security-Policy"] = with_directive(
        policy, "frame-ancestors", " ".join(origins)
    )
    # X-Frame-Options cannot name several sites, and browsers that know
    # frame-ancestors ignore it anyway; left at DENY it would block the old ones.
    response.headers.pop("X-Frame-Options", None)
    # An allowed site may isolate itself (COEP), which lets in only frames marked so.
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"


def with_directive(policy: str, name: str, sources: str) -> str:
    """``policy`` with directive ``name`` set to ``sources``, the rest unchanged."""
    directives = [part.strip() for part in policy.split(";") if part.strip()]
    others = [part for part in directives if part.split()[0].lower() != name]
    return "; ".join([*others, f"{name} {sources}"])


def _keep_embed_in_redirect(response) -> None:
    """A redirect to another public page (after a POST, say) stays in embed mode."""
    location = response.headers.get("Location")
    if not location or not 300 <= response.status_code < 400:
        return
    parts = urlsplit(location)
    if parts.scheme or parts.netloc or not parts.path.startswith(request.script_root + "/"):
        return
    try:
        endpoint, _ = current_app.create_url_adapter(request).match(
            parts.path[len(request.script_root) :], method="GET"
        )
    except HTTPException:  # no such page, or one that only answers POST
        return
    if not _is_public(endpoint.rpartition(".")[0]):
        return
    if any(key == EMBED_PARAM for key, _ in parse_qsl(parts.query, keep_blank_values=True)):
        return
    embed = f"{EMBED_PARAM}={EMBED_VALUE}"
    query = f"{parts.query}&{embed}" if parts.query else embed
    response.headers["Location"] = urlunsplit(parts._replace(query=query))


def cookie_crosses_sites() -> bool:
    """Must the session cookie of this response reach the portal inside an allowed site's iframe?

    Browsers send a cross-site iframe only ``SameSite=None`` cookies, which
    must be ``Secure``; ``Partitioned`` (CHIPS) keeps the cookie in a jar of
    that one embedding site. Only embedded HTTPS pages of a business that
    allows framing need it, and not when the browser says the page is the
    top-level document.
    """
    if not has_request_context() or not request.is_secure:
        return False
    if request.headers.get("Sec-Fetch-Dest") == "document":
        return False
    business = embedded_business()
    return business is not None and bool(allowed_origins(business))


class EmbeddableSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with a cookie that also works inside an allowed iframe."""

    def get_cookie_samesite(self, app: Flask) -> str | None:
        return "None" if cookie_crosses_sites() else super().get_cookie_samesite(app)

    def get_cookie_secure(self, app: Flask) -> bool:
        return cookie_crosses_sites() or super().get_cookie_secure(app)

    def get_cookie_partitioned(self, app: Flask) -> bool:
        return cookie_crosses_sites() or super().get_cookie_partitioned(app)
