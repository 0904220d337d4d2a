"""E-mails about accounts: locks, resets, sign-ups, invitations, 2FA changes (text and HTML)."""

from __future__ import annotations

from flask import current_app, url_for
from flask_babel import gettext as _

from portal.accounts.hooks import mail_is_private
from portal.accounts.models import CLIENT_KIND
from portal.accounts.tokens import RESET_LIFETIME
from portal.businesses.models import Business
from portal.extensions import db
from portal.mail.compose import business_sender, compose, platform_sender, render_parts
from portal.mail.outbox import enqueue_written
from portal.web.urls import absolute_url


def send_account_mail(account, subject: str, template: str, **context) -> None:
    """Queue an e-mail (text and HTML) to ``account`` in the outbox of the current transaction.

    ``template`` names the text part (``accounts/email/reset.txt``); its
    ``.html`` sibling (extending ``mail/layout.html``) is the HTML part. Mail
    about an account of a business comes from the business's name and
    replies go to its contact address; a platform account's (support) comes
    from ``MAIL_FROM`` as configured. Where a feature says the business's
    clients must stay unnamed (HIPAA mode), a client's name is in no part of
    it: not in ``To:``, not in the greeting.
    """
    business_id = getattr(account, "business_id", None)
    business = db.session.get(Business, business_id) if business_id is not None else None
    private = account.kind == CLIENT_KIND and mail_is_private(db.session, business_id)
    greeting_name = "" if private else (account.name or account.email)
    mail_from = current_app.config["MAIL_FROM"]
    if business is not None:
        sender_name, sender_address = business_sender(business, mail_from)
    else:
        sender_name, sender_address = platform_sender(mail_from)
    context.setdefault("business", business)
    text, html = render_parts(
        template,
        account=account,
        subject=subject,
        greeting_name=greeting_name,
        brand=business.name if business is not None else "",
        **context,
    )
    message = compose(
        sender_name=sender_name,
        sender_address=sender_address,
        to=("" if private else account.name or "", account.email),
        subject=subject,
        text=text,
        html=html,
        reply_to=(business.contact_email or None) if business is not None else None,
    )
    enqueue_written(db.session, message, business_id=business_id)


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
