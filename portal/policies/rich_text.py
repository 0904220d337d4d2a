"""The owner's texts: plain text or a little HTML, always sanitised with nh3 before display."""

from __future__ import annotations

import re

import nh3
from markupsafe import Markup

#: What an owner may use: paragraphs, line breaks, emphasis, lists, two heading levels, links.
ALLOWED_TAGS = frozenset({"p", "br", "strong", "em", "ul", "ol", "li", "h2", "h3", "a"})
ALLOWED_ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
#: Removed together with their content, not just unwrapped.
DROPPED_WITH_CONTENT = frozenset({"script", "style"})

_BLOCK_TAG = re.compile(r"<\s*(p|ul|ol|h2|h3)[\s>/]", re.IGNORECASE)
_BLANK_LINE = re.compile(r"\n[ \t]*\n")


def clean_html(text: str | None) -> str:
    """``text`` as safe HTML.

    Text without block tags (plain text, maybe with <strong> or a link) is
    first split into paragraphs at blank lines, with single line breaks
    kept; so old plain-text versions and plain typing read as before.
    """
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        return ""
    if not _BLOCK_TAG.search(text):
        paragraphs = [part.strip() for part in _BLANK_LINE.split(text) if part.strip()]
        text = "\n".join("<p>" + part.replace("\n", "<br>\n") + "</p>" for part in paragraphs)
    cleaned = nh3.clean(
        text,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        link_rel="noopener noreferrer",
        url_schemes=set(URL_SCHEMES),
    ).strip()
    # Nothing left to read (only a script, say): no text at all, not an empty paragraph.
    return cleaned if nh3.clean(cleaned, tags=set()).strip() else ""


def rich_text(text: str | None) -> Markup:
    """Template filter: the text as HTML, marked safe only after nh3 has cleaned it."""
    return Markup(clean_html(text))  # noqa: S704 (nh3 output is sanitised)
