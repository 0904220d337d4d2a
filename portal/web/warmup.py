"""Readying a server process before its first request."""

from __future__ import annotations

import gc

from flask import Flask
from flask_babel import force_locale, get_translations

from portal.web.i18n import LANGUAGES


def warm_up(app: Flask) -> None:
    """Compile every template and load every catalogue now, not on a client's request.

    Without it the first request of each worker that needs a page waits
    about half a second for its templates. Afterwards everything loaded so
    far is moved out of the garbage collector's sight (``gc.freeze``): it
    lives as long as the process, and full collections need not walk it.
    """
    environment = app.jinja_env
    for name in environment.list_templates(extensions=("html", "txt")):
        environment.get_template(name)
    with app.test_request_context():
        for language in LANGUAGES:
            with force_locale(language):
                get_translations()
    gc.collect()
    gc.freeze()
