"""Templates hold no inline styles or scripts (the CSP forbids them) and load only our stylesheet."""

from __future__ import annotations

import re

import pytest

from portal.config import PROJECT_ROOT

TEMPLATES = sorted((PROJECT_ROOT / "templates").rglob("*.html"))
INLINE = {
    "a style attribute": re.compile(r"\sstyle\s*=", re.I),
    # A <style> block carrying the CSP nonce is allowed (the business's accent colour).
    "a <style> element": re.compile(r'<style\b(?![^>]*\bnonce="\{\{ csp_nonce\(\) \}\}")', re.I),
    # Scripts only with the nonce, and only as data (JSON-LD) or a file of ours: no inline code.
    "a <script> element": re.compile(
        r'<script\b(?!(?=[^>]*\bnonce="\{\{ csp_nonce\(\) \}\}")'
        r'(?=[^>]*(\bsrc=|\btype="application/ld\+json")))',
        re.I,
    ),
    "an event handler attribute": re.compile(r"\son[a-z]+\s*=", re.I),
    "a javascript: URL": re.compile(r"javascript:", re.I),
}
STYLESHEET = re.compile(r"<link\b[^>]*rel=\"stylesheet\"[^>]*>", re.I)
#: The HTML parts of e-mails (mail/layout.html, */email/*.html) are not pages: no CSP applies
#: and mail readers drop style sheets, so they style with attributes. Nothing else is allowed
#: there either; tests/test_mail_format.py checks what they link to.
E_MAIL = {"mail", "email"}


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_no_inline_style_or_script(template):
    source = template.read_text()
    found = [what for what, pattern in INLINE.items() if pattern.search(source)]
    if template.parent.name in E_MAIL:
        found = [what for what in found if what != "a style attribute"]
    assert found == []


def test_the_one_stylesheet_is_ours_and_served_from_static():
    links = [link for path in TEMPLATES for link in STYLESHEET.findall(path.read_text())]
    assert links == [
        "<link rel=\"stylesheet\" href=\"{{ url_for('static', filename='portal.css') }}\">"
    ]
    assert (PROJECT_ROOT / "static" / "portal.css").is_file()
    # Beside it, the one script: the passkey ceremonies (issue 17).
    assert sorted(p.name for p in (PROJECT_ROOT / "static").iterdir()) == [
        "passkeys.js",
        "portal.css",
    ]


def test_flashed_messages_are_rendered_by_the_one_macro():
    callers = [
        str(path.relative_to(PROJECT_ROOT))
        for path in TEMPLATES
        if "get_flashed_messages" in path.read_text()
    ]
    assert callers == ["templates/_macros.html"]


def test_the_flash_macro_keeps_the_alert_markup(app):
    from flask import flash, render_template_string

    def flashes(kind: str, *messages: tuple[str, str]) -> str:
        with app.test_request_context("/"):
            for message, category in messages:
                flash(message, category)
            return render_template_string(
                '{% from "_macros.html" import flashes %}{{ flashes(kind) }}', kind=kind
            )

    assert flashes("success", ("Saved <1> change.", "message"), ("Not saved.", "error")) == (
        '<div class="alert success" role="status"><p>Saved &lt;1&gt; change.</p></div>'
        '<div class="alert error" role="alert"><p>Not saved.</p></div>'
    )
    assert flashes("warning", ("Check your inbox.", "message")) == (
        '<div class="alert warning" role="status"><p>Check your inbox.</p></div>'
    )
