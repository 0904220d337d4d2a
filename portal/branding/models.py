"""A business's logo: an image we decoded, re-encoded and serve from our own origin."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.clock import utcnow
from portal.db import Base, UTCDateTime


class BusinessLogo(Base):
    """The one logo of a business (replaced, never versioned)."""

    __tablename__ = "business_logos"

    business_id: Mapped[int] = mapped_column(
        ForeignKey("businesses.id", ondelete="CASCADE"), primary_key=True
    )
    #: SHA-256 of ``data`` (hex): part of the logo's URL, so a new logo is a new URL.
    content_hash: Mapped[str] = mapped_column(String(64))
    #: "image/png" or "image/webp": what we re-encoded it to.
    media_type: Mapped[str] = mapped_column(String(32))
    #: Deferred: the business query of every public page reads the row, not the image.
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
