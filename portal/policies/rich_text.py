"""The owner's texts as safe HTML.

Owners write a small Markdown subset (``MARKDOWN`` versions, since issue 15):
paragraphs, line breaks, **bold**, *italic*, lists, links and headings of two
levels; raw HTML is shown as typed, never interpreted. Versions written before
hold plain text or a little HTML (``HTML``) and keep rendering as they did.
Either way the HTML passes nh3 with the same allowlist before display.
"""

from __future__ import annotations

import re
from functools import cache
from html.parser import HTMLParser

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

HTML = "html"
MARKDOWN = "markdown"
FORMATS = (HTML, MARKDOWN)

#: What an owner may use: paragraphs, line breaks, emphasis, lists, two heading levels, links.
ALLOWED_TAGS = frozenset({"p", "br", "strong", "em", "ul", "ol", "li", "h2", "h3", "a"})
ALLOWED_ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
#: Removed together with their content, not just unwrapped.
DROPPED_WITH_CONTENT = frozenset({"script", "style"})
#: The Markdown rules switched on, on top of markdown-it's "zero" preset (paragraphs, text).
MARKDOWN_RULES = ("heading", "list", "emphasis", "link", "newline", "escape")

_BLOCK_TAG = re.compile(r"<\s*(p|ul|ol|h2|h3)[\s>/]", re.IGNORECASE)
_BLANK_LINE = re.compile(r"\n[ \t]*\n")


def _plain(text: str | None) -> str:
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def _sanitised(html: str) -> str:
    cleaned = nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        link_rel="noopener noreferrer",
        url_schemes=set(URL_SCHEMES),
    ).strip()
    # Nothing left to read (only a script, say): no text at all, not an empty paragraph.
    return cleaned if nh3.clean(cleaned, tags=set()).strip() else ""


def clean_html(text: str | None) -> str:
    """``text`` (an ``HTML`` version's) as safe HTML.

    Text without block tags (plain text, maybe with <strong> or a link) is
    first split into paragraphs at blank lines, with single line breaks
    kept; so old plain-text versions and plain typing read as before.
    """
    text = _plain(text)
    if not text:
        return ""
    if not _BLOCK_TAG.search(text):
        paragraphs = [part.strip() for part in _BLANK_LINE.split(text) if part.strip()]
        text = "\n".join("<p>" + part.replace("\n", "<br>\n") + "</p>" for part in paragraphs)
    return _sanitised(text)


def _clamp_headings(state) -> None:
    """``#`` reads as a section heading (h2), ``###`` and deeper as h3: a page has one h1."""
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = "h2" if token.tag in ("h1", "h2") else "h3"


@cache
def _markdown() -> MarkdownIt:
    parser = MarkdownIt("zero", {"html": False, "breaks": True, "linkify": False})
    parser.enable(list(MARKDOWN_RULES))
    parser.core.ruler.push("clamp_headings", _clamp_headings)
    return parser


def markdown_html(text: str | None) -> str:
    """``text`` (a ``MARKDOWN`` version's) as safe HTML."""
    text = _plain(text)
    return _sanitised(_markdown().render(text)) if text else ""


def render(text: str | None, text_format: str = HTML) -> str:
    """The text of a version in ``text_format`` as safe HTML."""
    return markdown_html(text) if text_format == MARKDOWN else clean_html(text)


def rich_text(text: str | None, text_format: str = HTML) -> Markup:
    """Template filter: the text as HTML, marked safe only after nh3 has cleaned it."""
    return Markup(render(text, text_format))  # noqa: S704 (nh3 output is sanitised)


# -- an HTML version as Markdown, to edit it ---------------------------------------------


class _ToMarkdown(HTMLParser):
    """Writes the allowlisted tags of a sanitised HTML text as the Markdown subset."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.lists: list[list[int]] = []  # one [counter] per open list; 0 for bullets
        self.href = ""

    def handle_starttag(self, tag, attrs):
        if tag in ("p", "h2", "h3", "ul", "ol") and not self.lists:
            self._blank_line()
        if tag == "h2":
            self.out.append("## ")
        elif tag == "h3":
            self.out.append("### ")
        elif tag == "br":
            self.out.append("\n")
        elif tag in ("strong", "b"):
            self.out.append("**")
        elif tag in ("em", "i"):
            self.out.append("*")
        elif tag in ("ul", "ol"):
            self.lists.append([1 if tag == "ol" else 0])
        elif tag == "li" and self.lists:
            counter = self.lists[-1]
            indent = "   " * (len(self.lists) - 1)
            marker = f"{counter[0]}. " if counter[0] else "- "
            counter[0] += 1 if counter[0] else 0
            self.out.append(("" if self._at_line_start() else "\n") + indent + marker)
        elif tag == "a":
            self.href = dict(attrs).get("href") or ""
            self.out.append("[")

    def handle_endtag(self, tag):
        if tag in ("strong", "b"):
            self.out.append("**")
        elif tag in ("em", "i"):
            self.out.append("*")
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
            self.out.append("\n")
        elif tag == "a":
            self.out.append(f"]({self.href})" if self.href else "]")
        elif tag in ("p", "h2", "h3") and not self.lists:
            self.out.append("\n")

    def handle_data(self, data):
        if not data.strip() and (self._at_line_start() or not self.out):
            return
        data = data.replace("\n", " ")
        self.out.append(_escaped(data.lstrip() if self._at_line_start() else data))

    def _at_line_start(self) -> bool:
        return not self.out or self.out[-1].endswith("\n")

    def _blank_line(self) -> None:
        text = "".join(self.out)
        if text and not text.endswith("\n\n"):
            self.out.append("\n" if text.endswith("\n") else "\n\n")


_MARKDOWN_SIGN = re.compile(r"([\\*_\[\]])")
_LINE_MARKER = re.compile(r"^(\s*)([#+-]|\d+)([.)]?)(?=\s)", re.MULTILINE)


def _escaped(text: str) -> str:
    """``text`` with what Markdown would read as markup escaped: ``1. not a list``."""
    text = _MARKDOWN_SIGN.sub(r"\\\1", text)
    return _LINE_MARKER.sub(_escaped_marker, text)


def _escaped_marker(match: re.Match) -> str:
    indent, marker, dot = match.groups()
    if dot:
        return f"{indent}{marker}\\{dot}"
    return f"{indent}\\{marker}" if not marker.isdigit() else match.group(0)


def as_markdown(html_text: str | None) -> str:
    """An ``HTML`` version's text as the Markdown subset that renders the same."""
    cleaned = clean_html(html_text)
    if not cleaned:
        return ""
    parser = _ToMarkdown()
    parser.feed(cleaned)
    parser.close()
    lines = "".join(parser.out).split("\n")
    text = "\n".join(line.rstrip() for line in lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
