"""Languages: English and German.

The page speaks the language the visitor chose (``?lang=de`` on any page,
remembered in the session), else the business's own, else the browser's
preference among ours, else English. Dates, times and prices follow it.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Flask, abort, g, has_request_context, request, session
from flask_babel import Babel, get_locale
from flask_login import current_user

from portal.businesses.models import Business
from portal.config import PROJECT_ROOT
from portal.extensions import db
from portal.web.lazy_text import lazy_text as _l

LANGUAGES = {"en": "English", "de": "Deutsch"}
DEFAULT_LANGUAGE = "en"
SESSION_KEY = "lang"
TRANSLATIONS = PROJECT_ROOT / "translations"

babel = Babel()


def init_app(app: Flask) -> None:
    babel.init_app(
        app,
        default_locale=DEFAULT_LANGUAGE,
        default_translation_directories=str(TRANSLATIONS),
        locale_selector=select_language,
        timezone_selector=select_timezone,
    )
    app.before_request(take_language_choice)
    app.jinja_env.globals["language_links"] = language_links
    app.jinja_env.globals["current_language"] = current_language


def take_language_choice() -> None:
    """Remember ``?lang=`` for this visitor; an unknown language is a 400."""
    chosen = request.args.get("lang")
    if chosen is None:
        return
    if chosen not in LANGUAGES:
        abort(400, description=_l("Choose English or Deutsch."))
    if session.get(SESSION_KEY) != chosen:
        session[SESSION_KEY] = chosen


def select_language() -> str:
    if not has_request_context():  # the CLI, the scheduler
        return DEFAULT_LANGUAGE
    chosen = request.args.get("lang") or session.get(SESSION_KEY)
    if chosen in LANGUAGES:
        return chosen
    business = _business()
    if business is not None and business.locale in LANGUAGES:
        return business.locale
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def select_timezone() -> str | None:
    if not has_request_context():
        return None
    business = _business()
    return business.timezone if business is not None else None


def _business():
    """The business whose pages these are: the one in the URL, else the staff member's."""
    business = g.get("business")
    if business is not None:
        return business
    if current_user and current_user.is_authenticated:
        business_id = current_user.business_id or getattr(current_user.account, "business_id", None)
        if business_id is not None:
            return db.session.get(Business, business_id)
    return None


def current_language() -> str:
    return str(get_locale() or DEFAULT_LANGUAGE)


def language_links() -> list[tuple[str, str, str, bool]]:
    """``(code, name, url, is_current)`` for each language: this page in that language."""
    here = current_language()
    links = []
    for code, name in LANGUAGES.items():
        args = request.args.to_dict()
        args["lang"] = code
        links.append((code, name, f"{request.path}?{urlencode(args)}", code == here))
    return links


def clear_session_keeping_language() -> None:
    """Empty the session (sign-in, sign-out) but keep the visitor's language choice."""
    chosen = session.get(SESSION_KEY)
    session.clear()
    if chosen in LANGUAGES:
        session[SESSION_KEY] = chosen
