"""The allowlist of sites that may frame a business's public pages."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from urllib.parse import urlsplit

from flask_babel import gettext as _
from markupsafe import escape
from sqlalchemy.orm import Session

from portal.audit.service import Origin, apply_changes, record_changes
from portal.businesses.models import Business

MAX_ORIGINS = 20
#: Plain http is for trying the embed out on one's own computer only.
LOCAL_HOSTS = {"localhost", "127.0.0.1"}
DEFAULT_PORTS = {"https": 443, "http": 80}
AUDIT_AREA = "embedding"

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_EXAMPLE = "https://www.example.com"


class InvalidOrigin(ValueError):
    """One line is not an origin a browser could match."""


class InvalidOrigins(ValueError):
    """The allowlist as written cannot be saved; ``problems`` says why, line by line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def parse_origin(text: str) -> str:
    """The normalised origin ``scheme://host[:port]`` that ``text`` names, or InvalidOrigin."""
    text = text.strip()
    if "*" in text:
        raise InvalidOrigin(_("wildcards (*) are not allowed; list each site on its own line."))
    if "://" not in text:
        raise InvalidOrigin(_not_an_address())
    try:
        parts = urlsplit(text)
    except ValueError as error:
        raise InvalidOrigin(_not_an_address()) from error
    try:
        port = parts.port
    except ValueError as error:
        raise InvalidOrigin(_("the port must be a number from 1 to 65535.")) from error
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise InvalidOrigin(
            _("the address must start with https://, like %(example)s.", example=_EXAMPLE)
        )
    if parts.username is not None or parts.password is not None:
        raise InvalidOrigin(_("the address must not contain a user name or password."))
    host = _host(parts.hostname or "")
    if scheme == "http" and host not in LOCAL_HOSTS:
        raise InvalidOrigin(
            _(
                "the address must start with https://, like https://%(host)s; "
                "http:// is accepted only for localhost and 127.0.0.1, for testing.",
                host=host,
            )
        )
    if port == 0:
        raise InvalidOrigin(_("the port must be a number from 1 to 65535."))
    site = f"{scheme}://{host}" + (f":{port}" if port and port != DEFAULT_PORTS[scheme] else "")
    if parts.path not in ("", "/") or parts.query or parts.fragment or text.endswith(("?", "#")):
        raise InvalidOrigin(
            _(
                "only the site itself may be listed, without a path, query or #part: "
                "write %(site)s.",
                site=site,
            )
        )
    return site


def _not_an_address() -> str:
    return _("this is not a web address. Write it like %(example)s.", example=_EXAMPLE)


def _host(host: str) -> str:
    """The host in the form browsers compare: lower case, punycode for non-ASCII names."""
    if not host:
        raise InvalidOrigin(
            _("the site's name is missing. Write it like %(example)s.", example=_EXAMPLE)
        )
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return f"[{address.compressed}]" if address.version == 6 else address.compressed
    try:
        name = host.encode("idna").decode("ascii").lower()
    except UnicodeError as error:
        raise InvalidOrigin(_("the site's name is not valid.")) from error
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise InvalidOrigin(_("the site's name is not valid."))
    if len(labels) < 2 and name != "localhost":
        raise InvalidOrigin(
            _("the site's name needs a domain, like %(example)s.", example=_EXAMPLE)
        )
    return name


def parse_origins(text: str) -> list[str]:
    """The allowlist typed by the owner, one origin per line: normalised, without duplicates."""
    origins: list[str] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            site = parse_origin(line)
        except InvalidOrigin as error:
            problems.append(
                _(
                    "Line %(number)d (%(line)s): %(problem)s",
                    number=number,
                    line=line.strip()[:80],
                    problem=error,
                )
            )
            continue
        if site not in origins:
            origins.append(site)
    if len(origins) > MAX_ORIGINS:
        problems.append(
            _(
                "List at most %(most)d sites; this list has %(count)d.",
                most=MAX_ORIGINS,
                count=len(origins),
            )
        )
    if problems:
        raise InvalidOrigins(problems)
    return origins


def allowed_origins(business: Business) -> list[str]:
    """The origins that may frame the business's pages, leaving out any line that is not one."""
    allowed = []
    for line in business.allowed_embed_origins:
        try:
            allowed.append(parse_origin(line))
        except InvalidOrigin:
            continue
    return allowed[:MAX_ORIGINS]


def save_origins(
    session: Session, business: Business, actor, origins: list[str], now: datetime, origin: Origin
) -> dict[str, list]:
    """Store the allowlist and audit the change; return {field: [old, new]} if it changed."""
    changes = apply_changes(business, {"embed_origins": "\n".join(origins)}, ["embed_origins"])
    record_changes(session, actor, now, origin, AUDIT_AREA, changes)
    session.flush()
    return changes


def iframe_snippet(base_url: str, business: Business) -> str:
    """The HTML an owner pastes into their site to show the booking portal."""
    title = _("Book with %(name)s", name=business.name)
    return (
        f'<iframe src="{escape(embed_url(base_url, business))}" '
        f'title="{escape(title)}" width="100%" height="900" loading="lazy">'
        "</iframe>"
    )


def public_url(base_url: str, business: Business) -> str:
    return f"{base_url}/b/{business.slug}/"


def embed_url(base_url: str, business: Business) -> str:
    return f"{public_url(base_url, business)}?embed=1"
