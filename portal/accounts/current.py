"""Who is signed in: flask-login backed by server-side session records."""

from __future__ import annotations

from datetime import timedelta
from functools import wraps

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import UserMixin, current_user, login_user, logout_user
from sqlalchemy.orm import Session

from portal.accounts import sessions
from portal.accounts.hooks import account_model, acting_staff, idle_timeout_caps
from portal.accounts.models import (
    CLIENT_KIND,
    STAFF_KIND,
    ClientAccount,
    SecuritySettings,
    StaffUser,
)
from portal.accounts.service import security_settings
from portal.accounts.totp import SecretBox
from portal.audit import service as audit
from portal.audit.service import Origin
from portal.clock import utcnow
from portal.extensions import db, login_manager
from portal.secret_box import encryption_keys
from portal.web.i18n import clear_session_keeping_language
from portal.web.tenancy import current_business


class Principal(UserMixin):
    """A signed-in account together with the session record that vouches for it."""

    def __init__(self, account, token: str, business_id=None) -> None:
        #: A StaffUser, a ClientAccount, or an account of a kind a feature registered.
        self.account = account
        self.token = token
        #: The business of the session record (platform support: the one they opened, or None).
        self.business_id = business_id

    def get_id(self) -> str:
        return f"{self.account.kind}:{self.token}"

    @property
    def is_staff(self) -> bool:
        return self.account.kind == STAFF_KIND

    @property
    def is_client(self) -> bool:
        return self.account.kind == CLIENT_KIND


@login_manager.user_loader
def _load_principal(user_id: str) -> Principal | None:
    kind, _, token = user_id.partition(":")
    model = account_model(kind)
    if model is None or not token or g.get(_IDLE_FLAG):
        return None
    now = utcnow()
    record = sessions.find(db.session, token)
    if record is None or record.account_kind != kind:
        return None
    timeout = idle_timeout(db.session, record.business_id)
    if not sessions.is_live(record, now, timeout):
        if sessions.idled_out(record, now, timeout):
            _end_idle_session(record, model, now, timeout)
        return None
    account = db.session.get(model, record.account_id)
    if account is None or not account.active:
        return None
    if sessions.needs_touch(record, now):
        record_id = record.id
        db.record(lambda session: sessions.touch(session, record_id, now))
    return Principal(account, token, record.business_id)


#: Set in ``g`` once this request found its session idled out.
_IDLE_FLAG = "portal_idled_out"


def _end_idle_session(record, model: type, now, timeout: timedelta) -> None:
    """Say on the next page why the user is signed out; end the record, so it is said once."""
    minutes = int(timeout.total_seconds() // 60)
    # Translating asks for the language, which asks who is signed in: nobody, from here on.
    g.setdefault(_IDLE_FLAG, True)
    flash(
        ngettext(
            "You were signed out after %(num)d minute without activity.",
            "You were signed out after %(num)d minutes without activity.",
            minutes,
        )
    )
    record_id, account_id, business_id = record.id, record.account_id, record.business_id
    where = origin()

    def write(session: Session) -> None:
        sessions.end_by_id(session, record_id, now)
        account = session.get(model, account_id)
        audit.record(
            session,
            audit.SIGNOUT,
            now,
            business_id=business_id or getattr(account, "business_id", None),
            actor=account,
            origin=where,
            reason="idle",
            idle_minutes=minutes,
        )

    db.record(write)


def idle_timeout(session: Session, business_id: int | None) -> timedelta:
    """The owner's idle timeout, shortened by any cap a feature registered (HIPAA's 15 minutes).

    A session outside any business (platform support) starts from the default.
    """
    settings = (
        security_settings(session, business_id)
        if business_id is not None
        else SecuritySettings.defaults(business_id)
    )
    timeout = timedelta(minutes=settings.idle_timeout_minutes)
    return min([timeout, *idle_timeout_caps(session, business_id)])


def origin() -> Origin:
    return Origin(
        ip_address=request.remote_addr or "",
        user_agent=request.headers.get("User-Agent", "")[:300],
    )


def secret_box() -> SecretBox:
    return SecretBox(encryption_keys(current_app.config))


def sign_in(account: StaffUser | ClientAccount) -> str:
    """Start a fresh session for ``account``: a new record, a new cookie, nothing carried over."""
    clear_session_keeping_language()
    token = sessions.start(
        db.session,
        account,
        utcnow(),
        ip_address=request.remote_addr or "",
        user_agent=request.headers.get("User-Agent", ""),
    )
    login_user(Principal(account, token))
    return token


def sign_out() -> None:
    """End the session on the server (a copied cookie stops working) and in the browser."""
    if current_user.is_authenticated:
        now = utcnow()
        account = current_user.account
        audit.record(
            db.session,
            audit.SIGNOUT,
            now,
            # Platform support has no business of its own: the one it had opened.
            business_id=current_user.business_id or getattr(account, "business_id", None),
            actor=account,
            origin=origin(),
        )
        sessions.end(db.session, current_user.token, now)
    logout_user()
    clear_session_keeping_language()


def current_staff() -> StaffUser | None:
    """The staff user; or whoever a feature says acts as staff (support inside a business)."""
    if not current_user.is_authenticated:
        return None
    if current_user.is_staff:
        return current_user.account
    return acting_staff(current_user)


def current_account(kind: str):
    """The signed-in account if it is of ``kind`` (also a kind a feature registered)."""
    if current_user.is_authenticated and current_user.account.kind == kind:
        return current_user.account
    return None


def current_client_account() -> ClientAccount | None:
    return current_account(CLIENT_KIND)


def signed_in_client(business) -> ClientAccount | None:
    """The client account signed in at ``business``, while the business offers accounts.

    An account belongs to one business: signed in at one, a client is a guest
    at every other.
    """
    account = current_client_account()
    if account is None or account.business_id != business.id:
        return None
    if not security_settings(db.session, business.id).client_accounts_enabled:
        return None
    return account


def current_token() -> str | None:
    return current_user.token if current_user.is_authenticated else None


def staff_required(view):
    """The view needs a signed-in staff user who has done what the rules demand first."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        user = current_staff()
        if user is None:
            return redirect(url_for("staff_auth.login", next=request.full_path.rstrip("?")))
        g.staff = user
        return view(*args, **kwargs)

    return wrapper


def client_required(view):
    """The view needs a client signed in at this URL's business (``g.client_account``)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        account = signed_in_client(current_business())
        if account is None:
            return redirect(url_for("client_accounts.login"))
        g.client_account = account
        return view(*args, **kwargs)

    return wrapper


def owner_required(view):
    @wraps(view)
    @staff_required
    def wrapper(*args, **kwargs):
        if not g.staff.is_owner:
            abort(403, description=_("Only the business owner can open this page."))
        return view(*args, **kwargs)

    return wrapper
