"""What features add to sign-in: accounts asks, the features registered with it answer.

Accounts knows no feature. A feature that adds a kind of account, tightens
sessions or must follow a sign-in registers here from its own ``init_app``
(as Flask-Security lets an app plug in its user loader and signals); the
factory calls those in ``portal/__init__.py``. Registrations are per app.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import Flask, current_app
from sqlalchemy.orm import Session

from portal.accounts.models import CLIENT_KIND, STAFF_KIND, ClientAccount, StaffUser
from portal.audit.service import Origin

_EXTENSION = "portal_accounts"


@dataclass
class AccountHooks:
    #: Account models by kind, the first part of a signed-in user's id ("support": SupportUser).
    kinds: dict[str, type] = field(
        default_factory=lambda: {STAFF_KIND: StaffUser, CLIENT_KIND: ClientAccount}
    )
    #: ``cap(session, business_id)``: the longest a session there may idle, or None for no cap.
    idle_timeout_caps: list[Callable[[Session, int | None], timedelta | None]] = field(
        default_factory=list
    )
    #: ``resolve(principal)``: who acts as staff for a principal that is no staff user
    #: (platform support inside a business), or None.
    acting_staff: list[Callable[[object], object | None]] = field(default_factory=list)
    #: ``notify(user, now, origin)`` once a staff user is signed in (HIPAA's sign-in notice).
    after_staff_sign_in: list[Callable[[StaffUser, datetime, Origin], None]] = field(
        default_factory=list
    )
    #: ``check()`` before the staff account pages: a redirect to a step the signed-in
    #: user must take first (a new password, 2FA enrolment), or None.
    pending_steps: list[Callable[[], object | None]] = field(default_factory=list)
    #: ``check(session, business_id)``: whether the business's account e-mails to clients
    #: must not name the client (HIPAA mode); any True leaves the name out.
    private_mail: list[Callable[[Session, int], bool]] = field(default_factory=list)
    #: ``check(session, business_id)``: whether a feature makes two-factor sign-in
    #: mandatory for all staff of the business (HIPAA mode), so enrolment can say why.
    two_factor_required: list[Callable[[Session, int], bool]] = field(default_factory=list)


def init_app(app: Flask) -> AccountHooks:
    """Give ``app`` an empty registry; features register with it afterwards."""
    hooks = AccountHooks()
    app.extensions[_EXTENSION] = hooks
    return hooks


def account_hooks(app: Flask | None = None) -> AccountHooks:
    """The registry of ``app`` (by default the current one)."""
    return (app or current_app).extensions[_EXTENSION]


def account_model(kind: str) -> type | None:
    return account_hooks().kinds.get(kind)


def idle_timeout_caps(session: Session, business_id: int | None) -> list[timedelta]:
    caps = (cap(session, business_id) for cap in account_hooks().idle_timeout_caps)
    return [cap for cap in caps if cap is not None]


def acting_staff(principal) -> object | None:
    for resolve in account_hooks().acting_staff:
        staff = resolve(principal)
        if staff is not None:
            return staff
    return None


def staff_signed_in(user: StaffUser, now: datetime, origin: Origin) -> None:
    for notify in account_hooks().after_staff_sign_in:
        notify(user, now, origin)


def register_private_mail(check: Callable[[Session, int], bool], app: Flask | None = None) -> None:
    """Let ``check(session, business_id)`` say a business's client e-mails name no client."""
    account_hooks(app).private_mail.append(check)


def mail_is_private(session: Session, business_id: int | None) -> bool:
    """Whether an e-mail to a client of the business must leave the client's name out."""
    if business_id is None:
        return False
    return any(check(session, business_id) for check in account_hooks().private_mail)


def register_two_factor_requirement(
    check: Callable[[Session, int], bool], app: Flask | None = None
) -> None:
    """Let ``check(session, business_id)`` say a business's staff must use two-factor sign-in."""
    account_hooks(app).two_factor_required.append(check)


def two_factor_required_by_feature(session: Session, business_id: int) -> bool:
    return any(check(session, business_id) for check in account_hooks().two_factor_required)


def pending_step():
    """The redirect to the first step a feature says must come first, or None."""
    for check in account_hooks().pending_steps:
        answer = check()
        if answer is not None:
            return answer
    return None
