"""E-mails the owner's team actions send, in the business's language.

They go to someone other than the owner acting, so the owner's page language
says nothing about theirs.
"""

from __future__ import annotations

from flask import url_for
from flask_babel import force_locale
from flask_babel import gettext as _

from portal.accounts import tokens
from portal.accounts.models import StaffUser
from portal.accounts.notifications import send_account_mail
from portal.businesses.models import Business
from portal.web.urls import absolute_url


def send_invitation(business: Business, user: StaffUser, token: str) -> None:
    """The invitation with the link that lets ``user`` set a password."""
    with force_locale(business.locale):
        send_account_mail(
            user,
            _("You are invited to %(business)s", business=business.name),
            "accounts/email/invite.txt",
            business=business,
            url=absolute_url(url_for("staff_auth.accept_invite", token=token)),
            days=tokens.INVITE_LIFETIME.days,
        )


def send_2fa_reset(business: Business, user: StaffUser) -> None:
    """The notice that the owner turned ``user``'s two-factor sign-in off."""
    with force_locale(business.locale):
        send_account_mail(
            user,
            _("Your two-factor sign-in was reset"),
            "accounts/email/2fa_reset.txt",
            business=business,
        )


def send_passkeys_reset(business: Business, user: StaffUser) -> None:
    """The notice that the owner removed all of ``user``'s passkeys."""
    with force_locale(business.locale):
        send_account_mail(
            user,
            _("Your passkeys were removed"),
            "accounts/email/passkeys_reset.txt",
            business=business,
        )
