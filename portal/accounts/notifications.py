"""E-mails about accounts: locks, resets, sign-ups, invitations, 2FA changes (text and HTML)."""

from __future__ import annotations

from flask import current_app, url_for
from flask_babel import gettext as _

from portal.accounts.hooks import mail_is_private
from portal.accounts.models import CLIENT_KIND, STAFF_KIND
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
    # Security notices point somewhere ("choose a new password", "sign in"): the link goes along.
    for name, url in _account_links(account, business).items():
        context.setdefault(name, url)
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


def _account_links(account, business: Business | None) -> dict[str, str]:
    """Absolute addresses of the pages an e-mail about ``account`` may send its owner to."""
    if account.kind == STAFF_KIND:
        return {
            "sign_in_url": absolute_url(url_for("staff_auth.login")),
            "reset_url": absolute_url(url_for("staff_auth.reset_request")),
            # Where an owner unlocks accounts (the staff blueprint's Security page).
            "security_url": absolute_url(url_for("staff.security")),
        }
    if account.kind == CLIENT_KIND and business is not None:
        return {
            "sign_in_url": absolute_url(url_for("client_accounts.login", slug=business.slug)),
            "reset_url": absolute_url(url_for("client_accounts.reset_request", slug=business.slug)),
        }
    return {}


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
    """Tell the owner of ``account`` it was just locked, and how it opens again.

    A timed lock ends by itself (and a new password guards against the guesser);
    a lock until an owner unlocks it says who unlocks it, and where, and offers
    no reset: a new password would not open it.
    """
    business = db.session.get(Business, account.business_id)
    if account.kind == CLIENT_KIND:
        subject = _("Your account at %(business)s was locked", business=business.name)
    else:
        subject = _("Your %(business)s account was locked", business=business.name)
    send_account_mail(account, subject, "accounts/email/locked.txt", business=business)


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


def send_passkey_notice(account, name: str, *, added: bool) -> None:
    """Tell the owner of ``account`` a passkey was added to it or removed, naming it."""
    if added:
        subject, template = _("A passkey was added to your account"), "passkey_added"
    else:
        subject, template = _("A passkey was removed from your account"), "passkey_removed"
    send_account_mail(account, subject, f"accounts/email/{template}.txt", passkey_name=name)
