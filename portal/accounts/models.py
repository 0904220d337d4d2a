"""Identities that sign in: staff users, client accounts, and what they hold."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from portal.accounts.password_rules import DEFAULT_MIN_STRENGTH
from portal.clock import utcnow
from portal.db import Base, UTCDateTime

OWNER = "owner"
STAFF = "staff"

STAFF_KIND = "staff"
CLIENT_KIND = "client"


class Credentials:
    """A password and the failed sign-in state that guards it."""

    password_hash: Mapped[str | None] = mapped_column(String(255))
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    lock_count: Mapped[int] = mapped_column(Integer, default=0)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: None with ``locked_at`` set means: locked until an owner unlocks.
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def is_locked(self, now: datetime) -> bool:
        if self.locked_at is None:
            return False
        return self.locked_until is None or now < self.locked_until

    @property
    def waits_for_unlock(self) -> bool:
        """Locked until an owner unlocks it: no time, and no new password, opens it."""
        return self.locked_at is not None and self.locked_until is None


class StaffUser(Credentials, Base):
    """A person who works in a business's staff area.

    E-mail addresses are unique across the platform, so ``/staff/login``
    needs no business: the address names the account.
    """

    __tablename__ = "staff_users"
    __table_args__ = (
        UniqueConstraint("email"),
        CheckConstraint("role IN ('owner', 'staff')", name="role"),
    )
    kind = STAFF_KIND

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16), default=STAFF)
    #: Which bookings' news this member gets: "all", "own" (their provider's) or
    #: "none"; None means the default for the role (owners all, staff their own).
    notify_scope: Mapped[str | None] = mapped_column(String(8))
    #: Which news: a comma-separated subset of new, moved, cancelled, pending.
    notify_events: Mapped[str] = mapped_column(String(64), default="new,moved,cancelled,pending")
    totp_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The last TOTP time step accepted; a code of that step or earlier is refused.
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    passkeys: Mapped[list[Passkey]] = relationship(
        "Passkey",
        order_by="Passkey.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
        back_populates="staff_user",
    )

    @property
    def is_owner(self) -> bool:
        return self.role == OWNER

    @property
    def has_totp(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def has_passkey(self) -> bool:
        return bool(self.passkeys)

    @property
    def has_2fa(self) -> bool:
        """A second factor after the password: an authenticator app, a passkey, or both."""
        return self.has_totp or self.has_passkey

    @property
    def may_reset_password(self) -> bool:
        """Active, and past the invitation: an invited user sets a password by its link."""
        return self.active and self.password_hash is not None


class ClientAccount(Credentials, Base):
    """An optional account a client creates at one business."""

    __tablename__ = "client_accounts"
    __table_args__ = (UniqueConstraint("business_id", "email"),)
    kind = CLIENT_KIND

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200), default="")
    #: Sign-in opens only once the client proved the address is theirs.
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    passkeys: Mapped[list[Passkey]] = relationship(
        "Passkey",
        order_by="Passkey.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
        back_populates="client_account",
    )

    @property
    def has_passkey(self) -> bool:
        return bool(self.passkeys)

    @property
    def has_2fa(self) -> bool:
        return False

    @property
    def may_reset_password(self) -> bool:
        """Active, and confirmed: a reset mail must not reach an address never proved."""
        return self.active and self.email_verified_at is not None


class RecoveryCode(Base):
    """A single-use 2FA recovery code, stored as a hash."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Passkey(Base):
    """A WebAuthn credential of a staff user or a client account (exactly one of them).

    The private key never leaves the authenticator; what is kept here is public.
    """

    __tablename__ = "passkeys"
    __table_args__ = (
        CheckConstraint("(staff_user_id IS NULL) <> (client_account_id IS NULL)", name="one_owner"),
        UniqueConstraint("credential_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    staff_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    client_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("client_accounts.id", ondelete="CASCADE"), index=True
    )
    #: What the user called it ("office laptop").
    name: Mapped[str] = mapped_column(String(60))
    credential_id: Mapped[bytes] = mapped_column(LargeBinary)
    #: The WebAuthn user handle the authenticator stored with the key: random, one per account.
    user_handle: Mapped[bytes] = mapped_column(LargeBinary)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    #: The authenticator's counter (an unsigned 32-bit number); 0 for keys that keep none.
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Comma-separated hints the browser gave ("internal,hybrid").
    transports: Mapped[str] = mapped_column(String(200), default="")
    aaguid: Mapped[str] = mapped_column(String(36), default="")
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def owner(self) -> StaffUser | ClientAccount:
        return self.staff_user if self.staff_user_id is not None else self.client_account

    staff_user: Mapped[StaffUser | None] = relationship("StaffUser", back_populates="passkeys")
    client_account: Mapped[ClientAccount | None] = relationship(
        "ClientAccount", back_populates="passkeys"
    )


class PasskeyChallenge(Base):
    """A WebAuthn challenge: kept as a hash, bound to one browser, used once, for 5 minutes."""

    __tablename__ = "passkey_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: "register", "signin" (no account named yet) or "second" (after the password).
    purpose: Mapped[str] = mapped_column(String(16))
    #: The hash of a random value in the browser's session: another browser cannot use it.
    binding_hash: Mapped[str] = mapped_column(String(64))
    account_kind: Mapped[str | None] = mapped_column(String(16))
    account_id: Mapped[int | None] = mapped_column(Integer)
    business_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class _Owned:
    """Belongs to a staff user or a client account (``account_kind`` says which)."""

    account_kind: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[int] = mapped_column(Integer)

    @declared_attr.directive
    def __table_args__(cls):  # noqa: N805 (SQLAlchemy's declared_attr)
        return (
            CheckConstraint("account_kind IN ('staff', 'client', 'support')", name="account_kind"),
        )


class UserSession(_Owned, Base):
    """A signed-in browser, checked on every request so sign-out really ends it."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: None for a platform support user who has not opened a business yet.
    business_id: Mapped[int | None] = mapped_column(ForeignKey("businesses.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip_address: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")


RESET = "reset"
INVITE = "invite"
VERIFY = "verify"


class OneTimeToken(_Owned, Base):
    """A single-use link token (password reset, staff invitation), stored as a hash."""

    __tablename__ = "one_time_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


PASSKEYS_OPTIONAL = "optional"
PASSKEYS_FOR_OWNERS = "owners"
PASSKEYS_FOR_ALL = "all"

LOCK_TIMED = "timed"
LOCK_UNTIL_UNLOCKED = "until_unlocked"


class SecuritySettings(Base):
    """How strict sign-in is at one business; the owner sets it."""

    __tablename__ = "security_settings"
    __table_args__ = (
        CheckConstraint(
            "password_min_length >= 8 AND password_min_length <= 128", name="min_length"
        ),
        CheckConstraint("password_min_strength BETWEEN 0 AND 4", name="strength"),
        CheckConstraint("lockout_attempts BETWEEN 3 AND 100", name="attempts"),
        CheckConstraint("lockout_mode IN ('timed', 'until_unlocked')", name="lockout_mode"),
        CheckConstraint("lockout_minutes BETWEEN 1 AND 1440", name="lockout_minutes"),
        CheckConstraint("idle_timeout_minutes BETWEEN 5 AND 240", name="idle_timeout"),
        CheckConstraint("passkey_policy IN ('optional', 'owners', 'all')", name="passkey_policy"),
    )

    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), primary_key=True)
    password_min_length: Mapped[int] = mapped_column(Integer, default=12)
    password_require_upper: Mapped[bool] = mapped_column(Boolean, default=False)
    password_require_digit: Mapped[bool] = mapped_column(Boolean, default=False)
    password_require_special: Mapped[bool] = mapped_column(Boolean, default=False)
    password_min_strength: Mapped[int] = mapped_column(Integer, default=DEFAULT_MIN_STRENGTH)
    lockout_attempts: Mapped[int] = mapped_column(Integer, default=5)
    lockout_mode: Mapped[str] = mapped_column(String(16), default=LOCK_TIMED)
    lockout_minutes: Mapped[int] = mapped_column(Integer, default=15)
    require_2fa: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Who must sign in with a passkey ("phishing-resistant sign-in"): nobody, owners, all staff.
    passkey_policy: Mapped[str] = mapped_column(String(8), default=PASSKEYS_OPTIONAL)
    idle_timeout_minutes: Mapped[int] = mapped_column(Integer, default=30)
    client_accounts_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    client_passkeys_enabled: Mapped[bool] = mapped_column(Boolean, default=False)

    #: Columns the owner edits on the Security page, in the order shown.
    EDITABLE = (
        "password_min_length",
        "password_require_upper",
        "password_require_digit",
        "password_require_special",
        "password_min_strength",
        "lockout_attempts",
        "lockout_mode",
        "lockout_minutes",
        "require_2fa",
        "passkey_policy",
        "idle_timeout_minutes",
        "client_accounts_enabled",
        "client_passkeys_enabled",
    )

    def passkey_required(self, user: StaffUser) -> bool:
        """Whether ``user`` must sign in with a passkey (the owner's "phishing-resistant" rule)."""
        return self.passkey_policy == PASSKEYS_FOR_ALL or (
            self.passkey_policy == PASSKEYS_FOR_OWNERS and user.is_owner
        )

    @classmethod
    def defaults(cls, business_id: int) -> SecuritySettings:
        settings = cls(business_id=business_id)
        for column in cls.__table__.columns:
            if getattr(settings, column.key) is None and column.default is not None:
                setattr(settings, column.key, column.default.arg)
        return settings
