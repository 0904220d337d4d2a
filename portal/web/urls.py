"""Addresses that leave the site (e-mails, snippets) and must name it in full."""

from flask import current_app


def absolute_url(path: str) -> str:
    """``path`` (as ``url_for`` returns it) under the operator's ``PORTAL_BASE_URL``."""
    return current_app.config["BASE_URL"] + path
