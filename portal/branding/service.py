"""The business's identity: contact details, accent colour and logo, checked and audited.

Plain functions over a session; the views call them, the templates (pages,
e-mails) and the calendar file read what ``contact`` and ``logo_of`` give.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.audit import service as audit
from portal.audit.service import Origin
from portal.branding import colors
from portal.branding.models import BusinessLogo
from portal.businesses.models import Business
from portal.db import transaction_cache
from portal.web.lazy_text import lazy_text as _l

if TYPE_CHECKING:  # Pillow loads only where uploads are checked, not with every e-mail
    from portal.branding.logos import Logo

PROFILE_FIELDS = ("address", "phone", "website", "accent_color")
#: Audit area of every change made on the business profile page.
AREA = "profile"

ADDRESS_MAX_LENGTH = 300
ADDRESS_MAX_LINES = 6
PHONE_MAX_LENGTH = 40
WEBSITE_MAX_LENGTH = 300
#: What a phone number may contain as the owner writes it: "+49 (30) 123-456 / 7".
PHONE_PATTERN = re.compile(r"\+?[0-9 ()/.\-]+")
PHONE_MIN_DIGITS = 5
#: A host name: labels of letters, digits and hyphens, with a dot somewhere.
HOST_PATTERN = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}")

ADDRESS_TOO_LONG = _l("Please keep the address to 6 lines and 300 characters.")
PHONE_INVALID = _l(
    "Enter the phone number with digits, spaces and + ( ) - / only, like +49 30 1234567."
)
WEBSITE_INVALID = _l("Enter your website's address, like https://www.example.com.")
COLOR_INVALID = _l("Enter the colour as # and six hexadecimal digits, like #1f5fbf.")


class ProfileError(ValueError):
    """A profile value refused; ``field`` names the form field the message belongs to."""

    def __init__(self, message: str, field: str | None = None, suggestion: str | None = None):
        super().__init__(message)
        self.field = field
        #: A readable colour to offer instead of a refused one.
        self.suggestion = suggestion


# -- reading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    """How clients reach the business, as every page, e-mail and calendar entry shows it."""

    name: str
    address_lines: tuple[str, ...]
    phone: str
    email: str
    website: str

    @property
    def tel_href(self) -> str:
        """The phone number as a ``tel:`` link: "+" and digits only (RFC 3966)."""
        return tel_href(self.phone)

    @property
    def website_label(self) -> str:
        """The website without its scheme and trailing slash: "www.example.com"."""
        parts = urlsplit(self.website)
        return (parts.netloc + parts.path).rstrip("/") or self.website

    @property
    def address_one_line(self) -> str:
        return ", ".join(self.address_lines)

    def __bool__(self) -> bool:
        return bool(self.address_lines or self.phone or self.email or self.website)


def contact(business: Business) -> Contact:
    """The business's contact details (the e-mail is the reply-to address of its e-mails)."""
    return Contact(
        name=business.name,
        address_lines=tuple(address_lines(business.address or "")),
        phone=(business.phone or "").strip(),
        email=(business.contact_email or "").strip(),
        website=(business.website or "").strip(),
    )


def address_lines(address: str) -> list[str]:
    """The non-blank lines of an address, stripped."""
    return [line.strip() for line in address.splitlines() if line.strip()]


def tel_href(phone: str) -> str:
    """ "tel:+49301234567" for "+49 (30) 123 45-67"; blank for a blank number."""
    digits = re.sub(r"\D", "", phone)
    if not digits:
        return ""
    return f"tel:{'+' if phone.strip().startswith('+') else ''}{digits}"


def accent_of(business: Business | None) -> str | None:
    """The business's accent colour if it is a valid "#rrggbb" (checked again: it goes in CSS)."""
    value = getattr(business, "accent_color", "") or ""
    return value if colors.HEX_COLOR.fullmatch(value) else None


def remember_logo(session: Session, business_id: int, logo: BusinessLogo | None) -> None:
    """Seed the per-transaction cache with the logo read together with the business."""
    transaction_cache(session, "business_logos").setdefault(business_id, logo)


def logo_of(session: Session, business_id: int) -> BusinessLogo | None:
    """The business's logo row (its image data deferred), read once per transaction."""
    cache = transaction_cache(session, "business_logos")
    if business_id not in cache:
        cache[business_id] = session.scalar(
            select(BusinessLogo).where(BusinessLogo.business_id == business_id)
        )
    return cache[business_id]


def served_logo(session: Session, business_id: int, content_hash: str) -> BusinessLogo | None:
    """The logo whose URL names ``content_hash``, or None (an old or foreign URL)."""
    logo = session.get(BusinessLogo, business_id)
    return logo if logo is not None and logo.content_hash == content_hash else None


def local_business(business: Business, page_url: str, logo_url: str | None) -> dict:
    """schema.org ``LocalBusiness`` data of the business, for a JSON-LD block."""
    details = contact(business)
    data: dict[str, object] = {
        "@context": "https://schema.org",
        "@type": "LocalBusiness",
        "name": business.name,
        "url": details.website or page_url,
    }
    if details.website:
        data["sameAs"] = [page_url]
    if details.address_lines:
        data["address"] = details.address_one_line
    if details.phone:
        data["telephone"] = details.phone
    if details.email:
        data["email"] = details.email
    if logo_url:
        data["logo"] = logo_url
        data["image"] = logo_url
    return data


# -- checking ----------------------------------------------------------------------------


def checked_address(value: str | None) -> str:
    lines = address_lines(value or "")
    text = "\n".join(lines)
    if len(lines) > ADDRESS_MAX_LINES or len(text) > ADDRESS_MAX_LENGTH:
        raise ProfileError(str(ADDRESS_TOO_LONG), "address")
    return text


def checked_phone(value: str | None) -> str:
    phone = " ".join((value or "").split())
    if not phone:
        return ""
    digits = sum(c.isdigit() for c in phone)
    if (
        len(phone) > PHONE_MAX_LENGTH
        or not PHONE_PATTERN.fullmatch(phone)
        or digits < PHONE_MIN_DIGITS
        or "+" in phone[1:]
    ):
        raise ProfileError(str(PHONE_INVALID), "phone")
    return phone


def checked_website(value: str | None) -> str:
    """An http(s) URL with a real host name; "example.com" becomes "https://example.com"."""
    url = (value or "").strip()
    if not url:
        return ""
    if "://" not in url:
        url = f"https://{url}"
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port  # raises ValueError for a bad port
    except ValueError:
        raise ProfileError(str(WEBSITE_INVALID), "website") from None
    if (
        parts.scheme.lower() not in ("http", "https")
        or not HOST_PATTERN.fullmatch(host)
        or parts.username is not None
        or parts.password is not None
        or any(c.isspace() or ord(c) < 32 for c in url)
        or len(url) > WEBSITE_MAX_LENGTH
    ):
        raise ProfileError(str(WEBSITE_INVALID), "website")
    del port
    return url


def checked_accent(value: str | None) -> str:
    """A readable "#rrggbb" (blank: Portal's own blue); a colour below AA is refused
    with a darker one of the same hue proposed."""
    if not (value or "").strip():
        return ""
    color = colors.normalized(value)
    if color is None:
        raise ProfileError(str(COLOR_INVALID), "accent_color")
    if not colors.readable(color):
        suggestion = colors.darkened_until_readable(color)
        raise ProfileError(
            _(
                "%(color)s is too light: text in it, and white text on it, would have a "
                "contrast of %(ratio)s:1, and needs at least 4.5:1 to be readable (WCAG AA). "
                "%(suggestion)s is the same colour, dark enough; it is now in the field, "
                "save to use it.",
                color=color,
                ratio=f"{colors.worst_contrast(color):.1f}",
                suggestion=suggestion,
            ),
            "accent_color",
            suggestion=suggestion,
        )
    return color


# -- changing ----------------------------------------------------------------------------


def update_profile(
    session: Session, business: Business, values: dict, actor, now: datetime, origin: Origin
) -> dict[str, list]:
    """Change the address, phone, website and accent colour; audit what changed."""
    checked = {
        "address": checked_address(values.get("address")),
        "phone": checked_phone(values.get("phone")),
        "website": checked_website(values.get("website")),
        "accent_color": checked_accent(values.get("accent_color")),
    }
    changes = audit.apply_changes(business, checked, PROFILE_FIELDS)
    audit.record_changes(session, actor, now, origin, AREA, changes)
    session.flush()
    return changes


def store_logo(session: Session, business: Business, logo: Logo, now: datetime) -> str | None:
    """Store ``logo`` (already checked) as the business's one logo; return the old hash.

    Unaudited: for the demo's set-up. An owner's change goes through ``replace_logo``.
    """
    row = session.get(BusinessLogo, business.id)
    old = row.content_hash if row is not None else None
    if row is None:
        row = BusinessLogo(business_id=business.id)
        session.add(row)
    row.content_hash = logo.content_hash
    row.media_type = logo.media_type
    row.data = logo.data
    row.width, row.height = logo.width, logo.height
    row.created_at = now
    transaction_cache(session, "business_logos")[business.id] = row
    session.flush()
    return old


def replace_logo(
    session: Session, business: Business, logo: Logo, actor, now: datetime, origin: Origin
) -> BusinessLogo:
    """Store ``logo`` (already checked) as the business's one logo; audit old and new hash."""
    old = store_logo(session, business, logo, now)
    row = session.get(BusinessLogo, business.id)
    audit.record_changes(
        session,
        actor,
        now,
        origin,
        AREA,
        {"logo": [old, logo.content_hash]} if old != logo.content_hash else {},
    )
    session.flush()
    return row


def remove_logo(session: Session, business: Business, actor, now: datetime, origin: Origin) -> bool:
    """Delete the business's logo; False if it had none."""
    row = session.get(BusinessLogo, business.id)
    if row is None:
        return False
    audit.record_changes(session, actor, now, origin, AREA, {"logo": [row.content_hash, None]})
    session.delete(row)
    transaction_cache(session, "business_logos")[business.id] = None
    session.flush()
    return True
