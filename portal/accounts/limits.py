"""Rate-limit keys and values for sign-in, 2FA, reset and sign-up POSTs."""

from __future__ import annotations

from flask import current_app, request, session

from portal.accounts.flow import PENDING_KEY


def per_address() -> str:
    return current_app.config["SIGNIN_RATE_LIMIT"]


def per_account() -> str:
    return current_app.config["SIGNIN_ACCOUNT_RATE_LIMIT"]


def submitted_email_key() -> str:
    """The account a sign-in, reset or sign-up POST is about, whatever address it comes from."""
    email = (request.form.get("email") or "").strip().lower()[:254]
    return f"account:{request.blueprint}:{email}"


def pending_user_key() -> str:
    pending = session.get(PENDING_KEY) or {}
    return f"2fa:{pending.get('user_id', request.remote_addr)}"
