"""Translations for text defined at import time (form labels, messages, labels of codes)."""

from __future__ import annotations

from flask_babel import LazyString
from flask_babel import gettext as _
from markupsafe import escape


class _EscapedLazyString(LazyString):
    """A lazy translation that pages escape like any other text.

    Flask-Babel's LazyString hands itself to templates as ready HTML, so a
    message such as "Please enter the service's name." would go out unescaped.
    """

    def __html__(self) -> str:
        return str(escape(str(self)))


def lazy_text(string: str, **variables) -> LazyString:
    """``lazy_gettext`` that is translated when shown and escaped in HTML."""
    return _EscapedLazyString(_, string, **variables)
