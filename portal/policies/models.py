"""Versioned terms and cancellation policy texts."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import utcnow
from portal.db import Base, UTCDateTime
from portal.policies.rich_text import HTML as FORMAT_HTML
from portal.policies.rich_text import MARKDOWN as FORMAT_MARKDOWN

CANCEL_ANY_TIME = "any_time"
CANCEL_UNTIL = "until"
CANCEL_NEVER = "never"
#: How a version's texts are written (``portal.policies.rich_text``): versions published
#: before issue 15 hold HTML, later ones the Markdown subset.
FORMATS = (FORMAT_HTML, FORMAT_MARKDOWN)


class TermsVersion(Base):
    __tablename__ = "terms_versions"
    __table_args__ = (UniqueConstraint("business_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(10), default=FORMAT_MARKDOWN, server_default="html")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    #: The same version in other languages, published with it and never changed after.
    #: Loaded lazily: a page in the business's own language never reads them.
    translations: Mapped[list[TermsTranslation]] = relationship(
        cascade="all, delete-orphan", order_by="TermsTranslation.locale"
    )


class TermsTranslation(Base):
    """A terms version's text in one language other than the business's own.

    It belongs to the immutable version: a consent record names the version, so
    what a client accepted in either language stays readable as it was.
    """

    __tablename__ = "terms_translations"
    __table_args__ = (UniqueConstraint("terms_version_id", "locale"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    terms_version_id: Mapped[int] = mapped_column(
        ForeignKey("terms_versions.id", ondelete="CASCADE"), index=True
    )
    locale: Mapped[str] = mapped_column(String(8))
    body: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(10), default=FORMAT_MARKDOWN, server_default="html")


class CancellationPolicyVersion(Base):
    __tablename__ = "cancellation_policy_versions"
    __table_args__ = (
        UniqueConstraint("business_id", "version"),
        CheckConstraint("cancel_mode IN ('any_time', 'until', 'never')", name="cancel_mode"),
        CheckConstraint("cancel_notice_minutes >= 0", name="cancel_notice"),
        CheckConstraint(
            "reschedule_mode IN ('any_time', 'until', 'never')", name="reschedule_mode"
        ),
        CheckConstraint("reschedule_notice_minutes >= 0", name="reschedule_notice"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    #: Markdown versions: the owner's own sentence, shown after the summary generated
    #: from the rules (``portal.policies.summary``). HTML versions: the free-text summary
    #: of before, kept for the record and no longer shown.
    summary: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    cancel_mode: Mapped[str] = mapped_column(String(16), default=CANCEL_UNTIL)
    cancel_notice_minutes: Mapped[int] = mapped_column(Integer, default=24 * 60)
    reschedule_mode: Mapped[str] = mapped_column(String(16), default=CANCEL_UNTIL)
    reschedule_notice_minutes: Mapped[int] = mapped_column(Integer, default=24 * 60)
    prepayment: Mapped[str] = mapped_column(Text, default="")
    refunds: Mapped[str] = mapped_column(Text, default="")
    rebooking: Mapped[str] = mapped_column(Text, default="")
    format: Mapped[str] = mapped_column(String(10), default=FORMAT_MARKDOWN, server_default="html")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    #: The same version's texts in other languages, published with it, never changed after
    #: (lazily loaded, like the terms').
    translations: Mapped[list[PolicyTranslation]] = relationship(
        cascade="all, delete-orphan", order_by="PolicyTranslation.locale"
    )

    def cancel_deadline(self, start: datetime) -> datetime | None:
        """The last instant a client may cancel a booking starting at ``start``.

        None means clients may not cancel at all.
        """
        return _deadline(self.cancel_mode, self.cancel_notice_minutes, start)

    def reschedule_deadline(self, start: datetime) -> datetime | None:
        """The last instant a client may move a booking starting at ``start``; None: never."""
        return _deadline(self.reschedule_mode, self.reschedule_notice_minutes, start)


class PolicyTranslation(Base):
    """A policy version's texts in one language other than the business's own.

    The rules (modes, notices) are the version's; only the owner's words are
    translated. Immutable like the version a consent record names.
    """

    __tablename__ = "cancellation_policy_translations"
    __table_args__ = (UniqueConstraint("policy_version_id", "locale"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_version_id: Mapped[int] = mapped_column(
        ForeignKey("cancellation_policy_versions.id", ondelete="CASCADE"), index=True
    )
    locale: Mapped[str] = mapped_column(String(8))
    summary: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text, default="")
    prepayment: Mapped[str] = mapped_column(Text, default="")
    refunds: Mapped[str] = mapped_column(Text, default="")
    rebooking: Mapped[str] = mapped_column(Text, default="")
    format: Mapped[str] = mapped_column(String(10), default=FORMAT_MARKDOWN, server_default="html")


def _deadline(mode: str, notice_minutes: int, start: datetime) -> datetime | None:
    if mode == CANCEL_NEVER:
        return None
    if mode == CANCEL_ANY_TIME:
        return start
    return start - timedelta(minutes=notice_minutes)
