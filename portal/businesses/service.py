"""Finding and creating businesses."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.businesses.models import Business

# \Z, not $: $ also matches before a trailing newline, letting "name\n" through.
SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?\Z")


class BusinessError(ValueError):
    """A business cannot be created as asked."""


def find_business(session: Session, slug: str) -> Business | None:
    """The business with this slug, or None."""
    if not SLUG_PATTERN.match(slug):
        return None
    return session.scalars(select(Business).where(Business.slug == slug)).first()


def validate_timezone(name: str) -> str:
    """Return ``name`` when it is an IANA timezone, else raise BusinessError."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BusinessError(
            f"Unknown timezone {name!r}; use an IANA name like Europe/Berlin."
        ) from exc
    return name


def create_business(
    session: Session, *, slug: str, name: str, timezone: str, locale: str = "en"
) -> Business:
    """Add a new business after checking its slug and timezone."""
    if not SLUG_PATTERN.match(slug):
        raise BusinessError(
            "The slug may hold lowercase letters, digits and hyphens (at most 64 characters)."
        )
    if find_business(session, slug) is not None:
        raise BusinessError(f"A business with the slug {slug!r} already exists.")
    if not name.strip():
        raise BusinessError("The business needs a name.")
    business = Business(
        slug=slug, name=name.strip(), timezone=validate_timezone(timezone), locale=locale
    )
    session.add(business)
    session.flush()
    return business
