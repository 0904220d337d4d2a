"""E-mails about accounts: locks, resets, sign-ups, invitations, 2FA changes."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from flask import current_app, render_template, url_for
from flask_babel import gettext as _

from portal.accounts.models import CLIENT_KIND
from portal.accounts.tokens import RESET_LIFETIME
from portal.businesses.models import Business
from portal.extensions import db
from portal.mail.outbox import enqueue_written
from portal.web.urls import absolute_url


def send_account_mail(account, subject: str, template: str, **context) -> None:
    """Queue a plain-text e-mail to ``account`` in the outbox of the current transaction."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = formataddr((account.name or "", account.email))
    message["Message-ID"] = make_msgid(domain="portal.invalid")
    message.set_content(render_template(template, account=account, **context))
    enqueue_written(db.session, message, business_id=getattr(account, "business_id", None))


def send_reset_link(account, reset_endpoint: str, token: str) -> None:
    """E-mail the single-use link that opens ``reset_endpoint`` with ``token``."""
    send_account_mail(
        account,
        _("Reset your password"),
        "accounts/email/reset.txt",
        url=absolute_url(url_for(reset_endpoint, token=token)),
        minutes=int(RESET_LIFETIME.total_seconds() // 60),
    )


def send_lock_notice(account) -> None:
    """Tell the owner of ``account`` it was just locked, and how to get back in (a reset)."""
    business = db.session.get(Business, account.business_id)
    if account.kind == CLIENT_KIND:
        subject = _("Your account at %(business)s was locked", business=business.name)
        reset_url = url_for("client_accounts.reset_request", slug=business.slug)
    else:
        subject = _("Your %(business)s account was locked", business=business.name)
        reset_url = url_for("staff_auth.reset_request")
    send_account_mail(
        account,
        subject,
        "accounts/email/locked.txt",
        business=business,
        reset_url=absolute_url(reset_url),
    )


def send_recovery_code_notice(user, remaining: int) -> None:
    send_account_mail(
        user,
        _("A recovery code was used to sign in"),
        "accounts/email/recovery_code_used.txt",
        remaining=remaining,
    )


def send_sign_up_mail(account, business: Business, token: str | None) -> None:
    """The confirmation link of a sign-up; for an address already confirmed, a note instead.

    The visitor sees the same page either way: only the address's owner
    learns that the account exists.
    """
    if token is not None:
        send_account_mail(
            account,
            _("Confirm your account at %(business)s", business=business.name),
            "accounts/email/verify.txt",
            business=business,
            url=absolute_url(url_for("client_accounts.verify", slug=business.slug, token=token)),
        )
        return
    send_account_mail(
        account,
        _("Your account at %(business)s", business=business.name),
        "accounts/email/already_registered.txt",
        business=business,
        login_url=absolute_url(url_for("client_accounts.login", slug=business.slug)),
        reset_url=absolute_url(url_for("client_accounts.reset_request", slug=business.slug)),
    )
