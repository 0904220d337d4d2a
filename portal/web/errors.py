"""Friendly error pages for every status a client may meet."""

from collections.abc import Callable

from flask import Flask, current_app, g, has_request_context, render_template, request
from flask_babel import gettext as _
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from portal.web.lazy_text import lazy_text as _l
from portal.web.tenancy import business_in_url

MESSAGES = {
    400: (
        _l("Bad request"),
        _l("The request could not be understood. Please go back and try again."),
    ),
    403: (_l("Forbidden"), _l("You are not allowed to open this page.")),
    404: (_l("Not found"), _l("We could not find that page. Check the link or start again.")),
    405: (_l("Not allowed"), _l("That action is not possible on this page.")),
    409: (_l("Conflict"), _l("Something changed while you were working. Please start again.")),
    410: (_l("Gone"), _l("This link is no longer valid.")),
    413: (_l("Too large"), _l("What you sent is too large.")),
    429: (
        _l("Too many requests"),
        _l("You are going a little fast. Please wait a moment and retry."),
    ),
    500: (
        _l("Something went wrong"),
        _l("We could not finish your request. Nothing was saved."),
    ),
}


class RefusedWithPage(HTTPException):
    """A refusal answered with a page of its own, rendered once the request's changes are undone.

    Raised (not returned) by a view whose domain call may already have written
    something (a new client row): the unit of work (``portal.db``) rolls back
    first, then Flask asks this exception for its response, so ``render`` reads
    in a clean transaction. ``render`` returns what a view may return.
    """

    code = None  # Flask then serves get_response() as it is, past the error handlers

    def __init__(self, render: Callable[[], object]) -> None:
        super().__init__()
        self.render = render

    def get_response(self, environ=None, scope=None):
        return current_app.make_response(self.render())


def _business_of_address(status: int):
    """The business whose public address (``/b/<slug>/...``) was asked for, or None.

    A wrong address under a business's own path gets that business's error page
    (its header and a link back to its services); an unknown slug stays generic.
    A server error looks nothing up: the database may be what failed.
    """
    if not has_request_context() or status >= 500:
        return None
    parts = request.path.split("/", 3)
    if len(parts) < 4 or parts[1] != "b":
        return None
    if "business" not in g:
        g.business_slug = parts[2]
    return business_in_url()


def render_error(status: int, message: str | None = None, title: str | None = None):
    default_title, default_message = MESSAGES.get(status, MESSAGES[400])
    body = render_template(
        "errors/error.html",
        status=status,
        title=title or default_title,
        message=message or default_message,
        business=_business_of_address(status),
    )
    return body, status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return render_error(
            400,
            _(
                "This form has expired or was not sent from our page. "
                "Please reload it and try again."
            ),
            _("Form expired"),
        )

    @app.errorhandler(RateLimitExceeded)
    def rate_limited(error: RateLimitExceeded):
        # Its description is the limit ("10 per 1 minute"), not what the person should do.
        return render_error(429)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        # A view may pass its own explanation with abort(code, description=...).
        default_description = type(error).description
        message = error.description if error.description != default_description else None
        response = error.get_response()
        body, status = render_error(error.code, message)
        response.set_data(body)
        response.status_code = status
        response.content_type = "text/html; charset=utf-8"
        return response

    @app.errorhandler(InternalServerError)
    def server_error(error: InternalServerError):
        # The unit of work (portal.db) rolled back before this page renders.
        return render_error(500)
