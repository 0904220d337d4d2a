"""How every e-mail of the portal is put together: one look, one set of headers.

A core module: it knows no feature. Callers pass plain values (names,
addresses, rendered text), never a booking or an account.

Writing a new kind of e-mail (business notifications, reminders, agendas)
--------------------------------------------------------------------------

1. Write two templates side by side, ``<name>.txt`` (the plain-text part,
   as today) and ``<name>.html``, which extends ``mail/layout.html``::

       {% extends "mail/layout.html" %}
       {% import "mail/components.html" as mail %}
       {% block preheader %}{{ _('Tomorrow 10:00') }}{% endblock %}
       {% block heading %}{{ _('Your appointment tomorrow') }}{% endblock %}
       {% block body %}
         <p>{{ _('Hello,') }}</p>
         {{ mail.facts([(_('When:'), when), (_('With:'), provider_name)]) }}
       {% endblock %}
       {% block buttons %}
         {{ mail.button(manage_url, _('Manage or cancel')) }}
         {{ mail.secondary_button(calendar_url, _('Add to calendar')) }}
         {{ mail.link_fallback(manage_url) }}
       {% endblock %}
       {% block footer_extra %}{{ mail.unsubscribe(unsubscribe_url) }}{% endblock %}

   The layout needs ``brand`` in the context: the name shown on top and in
   the footer (the business's name; blank shows "Portal"). It sets
   ``color-scheme: light dark``, uses inline styles only, loads nothing
   remote, and leaves the text colour to the mail reader so dark mode keeps
   its contrast; only buttons have their own colours (always both a
   background and a text colour). Use the macros of ``mail/components.html``
   rather than styling elements yourself; plain ``<p>``, ``<strong>`` and
   ``<a href>`` need no style. Link to the portal (``absolute_url``) and,
   in the layout's footer, to the business's own contact details (its
   site, ``mailto:``, ``tel:``); never load images or anything remote.

2. ``text, html = render_parts("booking/email/reminder", brand=..., **context)``
   renders both (a missing ``.html`` falls back to the text, wrapped in the
   layout).

3. ``message = compose(sender_name=..., sender_address=..., to=..., subject=...,
   text=text, html=html, reply_to=..., unsubscribe_url=...)``. For a
   business's mail ``business_sender(business, current_app.config["MAIL_FROM"])``
   gives the sender, and ``business.contact_email or None`` the reply address.
   Pass ``unsubscribe_url`` only for mail a person may turn off (reminders,
   agendas): it adds ``List-Unsubscribe`` and one-click ``List-Unsubscribe-Post``
   (the URL must accept a POST without a form token).

4. Attach files afterwards: ``attach_calendar(message, ics, method="PUBLISH")``
   for an .ics (it declares its charset). The result is multipart/mixed [multipart/alternative
   [text/plain, text/html], attachments...], or just the alternative
   without attachments.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from email import charset as charsets
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import format_datetime, formataddr, make_msgid, parseaddr

from flask import current_app
from flask_babel import get_locale, get_translations
from jinja2 import TemplateNotFound
from jinja2.ext import _make_new_gettext, _make_new_ngettext

from portal.clock import utcnow
from portal.web.fields import one_line

#: The template every HTML e-mail extends.
LAYOUT = "mail/layout.html"
#: The HTML part of an e-mail that has only a text template: its text, in the layout.
TEXT_ONLY = "mail/text_only.html"
CHARSET = "utf-8"

# The email package's older (compat32) classes: the same MIME structure as the modern
# EmailMessage API at a third of the cost, which is most of what a worker spends per message.
#: Text and HTML parts in UTF-8, sent as 8bit where they are not ASCII (readable in the raw
#: message), as long as no line exceeds SMTP's limit (``_body_charset``).
_EIGHT_BIT = charsets.Charset(CHARSET)
_EIGHT_BIT.body_encoding = None
#: Parts with a line too long for SMTP: quoted-printable.
_QUOTED = charsets.Charset(CHARSET)
_QUOTED.body_encoding = charsets.QP
#: Non-ASCII headers (a German subject, a name with an umlaut) as base64 encoded-words:
#: what the email package calls "shortest" measures both encodings character by character.
_HEADER = charsets.Charset(CHARSET)
_HEADER.header_encoding = charsets.BASE64
#: Bytes a line may have in SMTP's DATA, without its CRLF (RFC 5321, 4.5.3.1.6).
SMTP_LINE_LIMIT = 998


class _Policy(Compat32):
    """compat32, without folding headers that need none.

    compat32 runs every header, however short, through ``Header`` and its
    folding (a fifth of a worker's time per message). A short ASCII value on
    one line comes out of it unchanged, so it is written as it is.
    """

    def fold_binary(self, name: str, value) -> bytes:
        if (
            isinstance(value, str)
            and value.isascii()
            and len(name) + 2 + len(value) <= FOLD_AT
            and "\r" not in value
            and "\n" not in value
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


#: Header lines up to this length are never folded (RFC 5322 recommends 78).
FOLD_AT = 78
_POLICY = _Policy()


def address_of(mail_from: str) -> str:
    """The bare address (addr-spec) of a configured sender such as ``Portal <no-reply@x>``."""
    address = parseaddr(mail_from)[1]
    if "@" not in address:
        raise ValueError(f"not an e-mail address: {mail_from!r}")
    return address


def platform_sender(mail_from: str) -> tuple[str, str]:
    """The configured sender as it is (support and other mail of no business)."""
    name, _address = parseaddr(mail_from)
    return name, address_of(mail_from)


def business_sender(business, mail_from: str) -> tuple[str, str]:
    """(display name, address) of a business's mail: its name, at the portal's sending address.

    ``business`` is anything with a ``name``. Mail always leaves from the
    configured address (its domain is the one SPF and DKIM vouch for);
    replies go to the business through ``Reply-To``.
    """
    return business.name, address_of(mail_from)


def _display_name(name: str) -> str:
    # One line, whatever is stored (rows older than the form checks may hold line
    # feeds or NUL); formataddr quotes and encodes the rest.
    return one_line(name)


def _address(value: str | tuple[str, str]) -> str:
    name, address = value if isinstance(value, tuple) else ("", value)
    return formataddr((_display_name(name), address), charset=CHARSET)


def _header(text: str) -> str | Header:
    text = one_line(text)
    return text if text.isascii() else Header(text, _HEADER)


def _body_charset(body: str) -> charsets.Charset:
    longest = max((len(line.encode()) for line in body.splitlines()), default=0)
    return _EIGHT_BIT if longest <= SMTP_LINE_LIMIT else _QUOTED


def _boundary() -> str:
    # Random, so it cannot occur in a part: the email package would otherwise search
    # every part for its own candidate (a regex compiled per message).
    return f"=_portal_{secrets.token_hex(16)}"


def compose(
    *,
    sender_name: str,
    sender_address: str,
    to: str | tuple[str, str],
    subject: str,
    text: str,
    html: str,
    reply_to: str | None = None,
    unsubscribe_url: str | None = None,
) -> MIMEMultipart:
    """A multipart/alternative message (plain text, then HTML), both parts in UTF-8.

    ``to`` is an address or ``(display name, address)``; pass no name where
    the recipient must not be named (HIPAA mode). The Message-ID carries the
    sending address's domain.
    """
    message = MIMEMultipart("alternative", boundary=_boundary(), policy=_POLICY)
    message["Subject"] = _header(subject)
    message["From"] = _address((sender_name, sender_address))
    message["To"] = _address(to)
    if reply_to:
        message["Reply-To"] = _address(reply_to)
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain=sender_address.rpartition("@")[2])
    if unsubscribe_url:
        # A URL is one long word: kept on the header's own line (RFC 5322 allows 998
        # characters), never folded away from its name nor RFC 2047-encoded.
        message.policy = message.policy.clone(max_line_length=998)
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.attach(MIMEText(text, "plain", _body_charset(text)))
    message.attach(MIMEText(html, "html", _body_charset(html)))
    return message


def attach_calendar(
    message: MIMEMultipart, ics: bytes | str, *, method: str, filename: str = "booking.ics"
) -> None:
    """Attach an iCalendar file as ``text/calendar; charset="utf-8"; method=...``.

    As text with its charset, so mail readers show "–" and "ä" as such. The
    message becomes multipart/mixed [multipart/alternative [text, html], .ics].
    """
    if message.get_content_subtype() == "alternative":
        alternative = MIMEMultipart("alternative", boundary=_boundary())
        for part in message.get_payload():
            alternative.attach(part)
        message.set_payload([alternative])
        message.set_type("multipart/mixed")
    content = ics.decode(CHARSET) if isinstance(ics, bytes) else ics
    calendar = MIMEText(content, "calendar", _body_charset(content))
    calendar.set_param("method", method)
    calendar.add_header("Content-Disposition", "attachment", filename=filename)
    message.attach(calendar)


def _translations_in_context() -> dict[str, Callable[..., str]]:
    """The templates' ``gettext``/``ngettext``, bound to the current language's catalogue.

    flask-babel's own look up the request's locale and catalogue on every call
    (two dozen per e-mail, half the cost of rendering one); these are Jinja's
    newstyle wrappers around the catalogue itself, cached per language and
    passed as context variables, which take precedence over the globals.
    """
    locale = str(get_locale())
    cache = current_app.extensions.setdefault("portal_mail_gettext", {})
    if locale not in cache:
        translations = get_translations()
        cache[locale] = {
            # Jinja's own newstyle wrappers (what install_gettext_callables builds).
            "gettext": _make_new_gettext(translations.ugettext),
            "ngettext": _make_new_ngettext(translations.ungettext),
        }
    return cache[locale]


def render_parts(template: str, /, **context) -> tuple[str, str]:
    """Render ``<template>.txt`` and ``<template>.html`` (``template`` may end in ``.txt``).

    Without an ``.html`` sibling the HTML part is the text in the layout.
    Needs an app (and request) context, for ``url_for`` and the language.
    Unlike pages, e-mails get only the context they are given: the web
    pages' context processors (who is signed in, embed mode) say nothing
    about a message a worker writes, and cost a query or two each.
    """
    context.update(_translations_in_context())
    base = template.removesuffix(".txt")
    environment = current_app.jinja_env
    text = environment.get_template(f"{base}.txt").render(context)
    try:
        html = environment.get_template(f"{base}.html").render(context)
    except TemplateNotFound as missing:
        if missing.name != f"{base}.html":
            raise
        html = environment.get_template(TEXT_ONLY).render(context, plain_text=text)
    return text, html
