"""E-mails about accounts: locks, resets, invitations, 2FA changes."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from flask import current_app, render_template, url_for
from flask_babel import gettext as _

from portal.accounts.tokens import RESET_LIFETIME
from portal.extensions import db
from portal.mail.outbox import queue_mail


def send_account_mail(account, subject: str, template: str, **context) -> None:
    """Queue a plain-text e-mail to ``account``; it goes out after the commit."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = formataddr((account.name or "", account.email))
    message["Message-ID"] = make_msgid(domain="portal.invalid")
    message.set_content(render_template(template, account=account, **context))
    queue_mail(db.session, current_app.extensions["portal_mail"], message)


def absolute_url(path: str) -> str:
    return current_app.config["BASE_URL"] + path


def send_reset_link(account, reset_endpoint: str, token: str) -> None:
    """E-mail the single-use link that opens ``reset_endpoint`` with ``token``."""
    send_account_mail(
        account,
        _("Reset your password"),
        "accounts/email/reset.txt",
        url=absolute_url(url_for(reset_endpoint, token=token)),
        minutes=int(RESET_LIFETIME.total_seconds() // 60),
    )
