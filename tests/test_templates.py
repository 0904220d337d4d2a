"""Templates hold no inline styles or scripts (the CSP forbids them) and load only our stylesheet."""

from __future__ import annotations

import re

import pytest

from portal.config import PROJECT_ROOT

TEMPLATES = sorted((PROJECT_ROOT / "templates").rglob("*.html"))
INLINE = {
    "a style attribute": re.compile(r"\sstyle\s*=", re.I),
    "a <style> element": re.compile(r"<style\b", re.I),
    "a <script> element": re.compile(r"<script\b", re.I),
    "an event handler attribute": re.compile(r"\son[a-z]+\s*=", re.I),
    "a javascript: URL": re.compile(r"javascript:", re.I),
}
STYLESHEET = re.compile(r"<link\b[^>]*rel=\"stylesheet\"[^>]*>", re.I)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_no_inline_style_or_script(template):
    source = template.read_text()
    found = [what for what, pattern in INLINE.items() if pattern.search(source)]
    assert found == []


def test_the_one_stylesheet_is_ours_and_served_from_static():
    links = [link for path in TEMPLATES for link in STYLESHEET.findall(path.read_text())]
    assert links == [
        "<link rel=\"stylesheet\" href=\"{{ url_for('static', filename='portal.css') }}\">"
    ]
    assert (PROJECT_ROOT / "static" / "portal.css").is_file()
    assert [p.name for p in (PROJECT_ROOT / "static").iterdir()] == ["portal.css"]
