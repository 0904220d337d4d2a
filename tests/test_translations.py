"""The German catalogue covers every user-facing string, and templates hold none bare."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from portal.config import PROJECT_ROOT

GERMAN = PROJECT_ROOT / "translations" / "de" / "LC_MESSAGES" / "messages.po"
TEMPLATES = PROJECT_ROOT / "templates"

#: Attributes people read (or hear from a screen reader).
READ_ATTRIBUTES = {"placeholder", "aria-label", "title", "alt"}
#: What may stay untranslated: the product's name.
BARE_ALLOWED = re.compile(r"\bPortal\b")
LETTER = re.compile(r"[^\W\d_]")
#: Jinja blocks that hold translated text (trans) or no text at all (comments, tags, output).
TRANS_BLOCK = re.compile(r"{%-?\s*trans\b.*?{%-?\s*endtrans\s*-?%}", re.S)
JINJA = re.compile(r"{#.*?#}|{%.*?%}|{{.*?}}", re.S)


def extracted_messages() -> dict[str, list[str]]:
    """Every msgid the code and templates ask for, with where it is used."""
    with open(PROJECT_ROOT / "babel.cfg") as config:
        method_map, options_map = parse_mapping_cfg(config)
    found: dict[str, list[str]] = {}
    for filename, _line, message, _comments, _context in extract_from_dir(
        str(PROJECT_ROOT), method_map, options_map, keywords={**DEFAULT_KEYWORDS, "_l": None}
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        found.setdefault(msgid, []).append(filename)
    return found


@pytest.fixture(scope="module")
def german():
    with open(GERMAN, "rb") as po:
        return read_po(po, locale="de")


def test_every_message_has_a_german_translation(german):
    missing = []
    for msgid, files in sorted(extracted_messages().items()):
        entry = german.get(msgid)
        if entry is None or entry.fuzzy or not all(_strings(entry.string)):
            missing.append(f"{files[0]}: {msgid!r}")
    assert not missing, "Not translated into German (run `make messages`):\n" + "\n".join(missing)


def test_german_translations_keep_their_placeholders(german):
    broken = [
        f"{message.id!r}: {', '.join(str(error) for error in errors)}"
        for message, errors in german.check()
    ]
    assert not broken, "\n".join(broken)


def test_no_template_shows_text_outside_the_catalogue():
    bare = []
    for path in sorted(TEMPLATES.rglob("*")):
        if path.suffix not in {".html", ".txt"}:
            continue
        for text in untranslated_text(path):
            bare.append(f"{path.relative_to(PROJECT_ROOT)}: {text!r}")
    assert not bare, "Wrap these in {{ _('...') }}:\n" + "\n".join(bare)


def test_the_scanner_finds_bare_text_and_accepts_wrapped_text(tmp_path):
    page = tmp_path / "page.html"
    page.write_text(
        '<h1>{{ _("Book") }}</h1><p title="Opening hours">Hello {{ name }}</p>'
        "<p>{% trans %}Thanks{% endtrans %} · Portal</p>"
        '<input placeholder="{{ _("Name") }}" value="any">'
    )
    assert untranslated_text(page) == ["Opening hours", "Hello"]


def untranslated_text(path: Path) -> list[str]:
    """Human-readable text in a template that does not come from the catalogue."""
    source = TRANS_BLOCK.sub("", path.read_text())
    source = JINJA.sub("", source)
    if path.suffix == ".txt":
        return [line.strip() for line in source.splitlines() if _readable(line)]
    collector = _TextCollector()
    collector.feed(source)
    collector.close()
    return collector.found


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        for name, value in attrs:
            if name in READ_ATTRIBUTES and value and _readable(value):
                self.found.append(value.strip())

    def handle_startendtag(self, tag, attrs) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data) -> None:
        if _readable(data):
            self.found.append(data.strip())


def _readable(text: str) -> bool:
    return bool(LETTER.search(BARE_ALLOWED.sub("", text)))


def _strings(string) -> tuple[str, ...]:
    return string if isinstance(string, tuple) else (string,)
