"""Security headers (flask-talisman) and the settings behind them."""

from collections.abc import Callable
from functools import wraps

from flask import Flask, Response, current_app, request
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError, validate_csrf
from werkzeug.exceptions import SecurityError
from wtforms import ValidationError

from portal.db import SAFE_METHODS
from portal.extensions import csrf, talisman

CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

ONE_YEAR = 365 * 24 * 3600
_HEADER_HOOKS = "portal_header_hooks"


def no_referrer(view):
    """For views whose URL holds a secret: browsers must not pass it on as a referrer.

    Their forms then post without a Referer, which Flask-WTF's strict HTTPS
    check refuses; so these views check the CSRF token alone (SameSite
    cookies still stop cross-site posts).
    """

    @wraps(view)
    def checked(*args, **kwargs):
        if request.method not in SAFE_METHODS:
            try:
                validate_csrf(request.form.get("csrf_token"))
            except ValidationError as error:
                raise CSRFError(error.args[0]) from error
        return view(*args, **kwargs)

    checked.referrer_policy = "no-referrer"
    return csrf.exempt(checked)


def _apply_view_referrer_policy(response):
    view = current_app.view_functions.get(request.endpoint or "")
    policy = getattr(view, "referrer_policy", None)
    if policy:
        response.headers["Referrer-Policy"] = policy
    return response


def _forbid_storing_private_pages(response):
    """``Cache-Control: no-store`` on everything but anonymous public pages and static files.

    Staff pages, pages with a secret in the URL (manage links, resets) and
    anything shown to a signed-in person must not stay in a shared cache or
    the browser's history cache.
    """
    if request.endpoint == "static":
        return response
    view = current_app.view_functions.get(request.endpoint or "")
    blueprint = current_app.blueprints.get(request.blueprint or "")
    public = getattr(blueprint, "embeddable", False)
    secret_url = getattr(view, "referrer_policy", None) == "no-referrer"
    if not public or secret_url or current_user.is_authenticated:
        response.headers["Cache-Control"] = "no-store"
    return response


def _refuse_untrusted_host():
    """A Host outside ``TRUSTED_HOSTS`` (config.trusted_hosts) gets 400 before any hook runs.

    Flask notes it as the routing error and raises it only after the
    ``before_request`` hooks; none of them (HTTPS redirects, sign-in checks)
    may see a forged host first. The answer is plain text: without a trusted
    host Flask cannot build a URL, so no page template can render.
    """
    if isinstance(request.routing_exception, SecurityError):
        message = _("Bad request: this site does not answer for that host name.")
        return Response(message, status=400, mimetype="text/plain")
    return None


def _isolate_browsing_context(response: Response) -> Response:
    """No other site's window keeps a handle on ours, nor loads our responses as resources.

    Runs before the header hooks, so embedding may relax CORP on the pages a
    business lets other sites frame.
    """
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    return response


def adjust_headers(app: Flask, hook: Callable[[Response], Response]) -> None:
    """Have ``hook(response)`` run after Talisman set its headers, free to rewrite them.

    For features above this layer (embedding lets the sites a business allows
    frame its public pages); they may register before or after Talisman is bound.
    """
    app.extensions.setdefault(_HEADER_HOOKS, []).append(hook)


def _run_header_hooks(response: Response) -> Response:
    for hook in current_app.extensions.get(_HEADER_HOOKS, ()):
        response = hook(response)
    return response


def init_security_headers(app: Flask) -> None:
    force_https = bool(app.config["FORCE_HTTPS"])
    # After-request hooks run in reverse order of registration: registered
    # before Talisman's, these run after it and may adjust its headers.
    app.after_request(_apply_view_referrer_policy)
    app.after_request(_forbid_storing_private_pages)
    app.after_request(_run_header_hooks)
    app.after_request(_isolate_browsing_context)
    app.before_request(_refuse_untrusted_host)
    talisman.init_app(
        app,
        force_https=force_https,
        force_https_permanent=True,
        strict_transport_security=True,
        strict_transport_security_max_age=ONE_YEAR,
        strict_transport_security_include_subdomains=True,
        content_security_policy=CONTENT_SECURITY_POLICY,
        content_security_policy_nonce_in=["script-src", "style-src"],
        frame_options="DENY",
        referrer_policy="strict-origin-when-cross-origin",
        session_cookie_secure=force_https,
        session_cookie_http_only=True,
        session_cookie_samesite="Lax",
        x_content_type_options=True,
        permissions_policy={"geolocation": "()", "camera": "()", "microphone": "()"},
    )
