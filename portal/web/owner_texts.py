"""Texts the owner wrote, in the page's language.

A row the owner writes (a service, a terms or policy version) keeps its
original in the business's own language; its ``translations`` hold the same
texts in another language, one row per language with the same field names.
Clients read the translation in the page's language (for e-mails: the
message's language, as the outbox renders under ``force_locale``); a field
the translation leaves empty, or a language with no translation, falls back
to the original, so a client never sees less than the business wrote.
Staff pages show the original, so they use the row's fields directly.

This module knows no feature: it reads any row with a ``translations`` list.
"""

from __future__ import annotations

from flask import Flask, g, has_request_context

from portal.web.i18n import LANGUAGES, current_language


def other_language(business) -> str:
    """The language an owner may add versions in: the portal's one that is not the business's."""
    return next(code for code in LANGUAGES if code != business.locale)


def translated(row, field: str, language: str | None = None) -> str:
    """``row.<field>`` in ``language`` (default: the page's), else the original."""
    original = getattr(row, field)
    language = language or current_language()
    if _is_business_language(language):
        return original  # the original already is: no need to load the translations
    for translation in row.translations:
        if translation.locale == language:
            return getattr(translation, field) or original
    return original


def _is_business_language(language: str) -> bool:
    business = g.get("business") if has_request_context() else None
    return business is not None and business.locale == language


def init_app(app: Flask) -> None:
    """Templates write ``service|translated('name')``."""
    app.jinja_env.filters["translated"] = translated
