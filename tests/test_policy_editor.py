"""Terms and policy written without HTML: the Markdown subset, the preview, the generated summary."""

from __future__ import annotations

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.policies.models import CancellationPolicyVersion, PolicyTranslation, TermsVersion
from portal.policies.rich_text import as_markdown, clean_html, markdown_html
from portal.policies.service import publish_policy
from portal.policies.summary import policy_summary
from tests.conftest import csrf_token
from tests.test_flow import booking_url

TERMS_URL = "/staff/terms"
POLICY_URL = "/staff/cancellation-policy"

#: The policy form as the salon's version 1 fills it, Markdown texts.
POLICY_FORM = {
    "policy_enabled": "y",
    "cancel_mode": "until",
    "cancel_notice": "24",
    "cancel_unit": "hours",
    "reschedule_mode": "until",
    "reschedule_notice": "24",
    "reschedule_unit": "hours",
    "summary": "",
    "prepayment": "",
    "refunds": "",
    "rebooking": "",
    "body": "",
}


def post(client, url: str, data: dict):
    token = csrf_token(client.get(url).text)
    return client.post(url, data={"csrf_token": token, **data})


def count(session, model) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(model))


def audit_count(session) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(AuditEvent))


# -- the Markdown subset ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("One.\n\nTwo.", "<p>One.</p>\n<p>Two.</p>"),
        ("Line one\nline two", "<p>Line one<br>\nline two</p>"),
        ("**bold** and *italic*", "<p><strong>bold</strong> and <em>italic</em></p>"),
        ("- one\n- two", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>"),
        ("1. first\n2. second", "<ol>\n<li>first</li>\n<li>second</li>\n</ol>"),
        ("## Arrival", "<h2>Arrival</h2>"),
        ("### Late", "<h3>Late</h3>"),
        # A page has one h1 (the page's title): deeper or shallower headings are clamped.
        ("# Top", "<h2>Top</h2>"),
        ("#### Deep", "<h3>Deep</h3>"),
        (
            "[our rules](https://example.com/rules)",
            '<p><a href="https://example.com/rules" rel="noopener noreferrer">our rules</a></p>',
        ),
        (
            "[call us](tel:+49301234567)",
            '<p><a href="tel:+49301234567" rel="noopener noreferrer">call us</a></p>',
        ),
    ],
)
def test_the_markdown_subset_renders(typed, shown):
    assert markdown_html(typed) == shown


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("<p>Hi</p>", "<p>&lt;p&gt;Hi&lt;/p&gt;</p>"),
        ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
        ('<img src=x onerror="steal()">', '<p>&lt;img src=x onerror="steal()"&gt;</p>'),
        # A link to a script is not a link.
        ("[trap](javascript:alert(1))", "<p>[trap](javascript:alert(1))</p>"),
        # Outside the subset: shown as typed.
        ("> quoted", "<p>&gt; quoted</p>"),
        ("`code`", "<p>`code`</p>"),
        ("![image](https://example.com/x.png)", "<p>!<a"),
    ],
)
def test_raw_html_and_other_markup_are_shown_as_text(typed, shown):
    assert markdown_html(typed).startswith(shown)
    assert "<script" not in markdown_html(typed)
    assert "<img" not in markdown_html(typed)


def test_an_html_version_reads_the_same_as_markdown_in_the_editor():
    old = (
        "<h2>Arrival</h2><p>Be <strong>on time</strong>, <em>please</em>: "
        '<a href="https://example.com">rules</a>.<br>Thanks.</p>'
        "<ul><li>one</li><li>two</li></ul><ol><li>first</li></ol><p>1. not a list * star</p>"
    )
    typed = as_markdown(old)
    assert "<" not in typed
    assert typed.startswith("## Arrival\n\nBe **on time**, *please*: [rules](https://example.com).")
    assert markdown_html(typed).replace("\n", "") == clean_html(old).replace("\n", "")


# -- the editors -----------------------------------------------------------------------------


def test_the_editor_documents_the_subset_and_offers_a_preview(owner_client):
    page = owner_client.get(TERMS_URL).text
    assert "How to format" in page
    assert "<code>**important**</code>" in page
    assert "<code>## Heading</code>" in page
    assert 'name="preview"' in page
    assert "simple HTML" not in page


def test_preview_shows_the_terms_and_saves_nothing(owner_client, session):
    versions, events = count(session, TermsVersion), audit_count(session)
    response = post(
        owner_client,
        TERMS_URL,
        {"terms_enabled": "y", "body": "Be **on time**.\n\n- bring a towel", "preview": "1"},
    )
    assert response.status_code == 200
    assert "Not saved yet" in response.text
    assert "<p>Be <strong>on time</strong>.</p>" in response.text
    assert "<li>bring a towel</li>" in response.text
    # The form keeps what was typed, to go on editing.
    assert "Be **on time**." in response.text
    assert count(session, TermsVersion) == versions
    assert audit_count(session) == events


def test_preview_of_the_policy_shows_the_generated_summary_and_saves_nothing(owner_client, session):
    versions, events = count(session, CancellationPolicyVersion), audit_count(session)
    response = post(
        owner_client,
        POLICY_URL,
        {
            **POLICY_FORM,
            "cancel_notice": "2",
            "cancel_unit": "days",
            "reschedule_mode": "never",
            "summary": "Missed appointments cost half.",
            "refunds": "Deposits come back **within 5 days**.",
            "translated_summary": "Verpasste Termine kosten die Hälfte.",
            "preview": "1",
        },
    )
    assert response.status_code == 200
    assert (
        "You can cancel your booking online until 2 days before it starts; later cancellations "
        "are not possible online. The time cannot be changed online. Missed appointments cost "
        "half."
    ) in response.text
    assert "Deposits come back <strong>within 5 days</strong>." in response.text
    assert "Verpasste Termine kosten die Hälfte." in response.text
    assert count(session, CancellationPolicyVersion) == versions
    assert audit_count(session) == events


@pytest.mark.parametrize(
    ("url", "data", "message"),
    [
        (POLICY_URL, {**POLICY_FORM, "summary": "s" * 301}, "Keep your own sentence to 300"),
        (POLICY_URL, {**POLICY_FORM, "cancel_notice": "soon"}, "Enter a whole number"),
        (TERMS_URL, {"terms_enabled": "y", "body": "  "}, "Write the terms before"),
        (TERMS_URL, {"body": "x" * 20_001}, "This text is too long"),
    ],
)
def test_a_preview_of_bad_input_is_refused_with_a_message(
    owner_client, session, url, data, message
):
    response = post(owner_client, url, {**data, "preview": "1"})
    assert response.status_code == 422
    assert message in response.text
    assert "Not saved yet" not in response.text


def test_a_preview_without_csrf_token_is_refused(owner_client):
    response = owner_client.post(TERMS_URL, data={"body": "Hi", "preview": "1"})
    assert response.status_code == 400


def test_staff_cannot_preview(staff_client):
    token = csrf_token(staff_client.get("/staff/").text)
    response = staff_client.post(TERMS_URL, data={"csrf_token": token, "preview": "1"})
    assert response.status_code == 403


def test_a_saved_text_is_a_markdown_version(owner_client, session):
    response = post(owner_client, TERMS_URL, {"terms_enabled": "y", "body": "## Rules\n\nBe kind."})
    assert response.status_code == 303
    session.rollback()
    newest = session.scalars(select(TermsVersion).order_by(TermsVersion.version.desc())).first()
    assert (newest.version, newest.format, newest.body) == (2, "markdown", "## Rules\n\nBe kind.")
    public = owner_client.get("/b/salon/terms").text
    assert "<h2>Rules</h2>\n<p>Be kind.</p>" in public


def test_an_html_version_renders_as_before_and_edits_as_markdown(owner_client, salon, session):
    session.add(
        TermsVersion(
            business_id=salon.business.id,
            version=2,
            body="<p>Be <strong>on time</strong>.</p><ul><li>bring a towel</li></ul>",
            format="html",
        )
    )
    session.commit()
    public = owner_client.get("/b/salon/terms").text
    assert "<p>Be <strong>on time</strong>.</p><ul><li>bring a towel</li></ul>" in public
    editor = owner_client.get(TERMS_URL).text
    assert "Be **on time**.\n\n- bring a towel</textarea>" in editor
    # Saved unchanged, the Markdown reads the same: no new version.
    response = post(
        owner_client,
        TERMS_URL,
        {"terms_enabled": "y", "body": "Be **on time**.\n\n- bring a towel"},
    )
    assert response.status_code == 303
    assert count(session, TermsVersion) == 2


# -- the summary is generated from the rules -------------------------------------------------


def rules(session, salon, **values):
    return publish_policy(session, salon.business, summary=values.pop("summary", ""), **values)


#: Rules, and the summary they give in English and in German.
SUMMARIES = [
    (
        {"cancel_notice_minutes": 24 * 60, "reschedule_notice_minutes": 24 * 60},
        "You can cancel or move your booking online until 24 hours before it starts; "
        "after that, it can no longer be cancelled or moved online.",
        "Sie können Ihre Buchung bis 24 Stunden vor Beginn online stornieren oder "
        "verschieben; danach ist das online nicht mehr möglich.",
    ),
    (
        {"cancel_mode": "any_time", "reschedule_mode": "any_time"},
        "You can cancel or move your booking online any time before it starts.",
        "Sie können Ihre Buchung jederzeit vor Beginn online stornieren oder verschieben.",
    ),
    (
        {"cancel_mode": "never", "reschedule_mode": "never"},
        "Bookings cannot be cancelled or moved online: please contact us to change one.",
        "Buchungen können nicht online storniert oder verschoben werden: bitte wenden Sie "
        "sich an uns, um etwas zu ändern.",
    ),
    (
        {
            "cancel_notice_minutes": 2 * 24 * 60,
            "reschedule_mode": "never",
            "reschedule_notice_minutes": 0,
        },
        "You can cancel your booking online until 2 days before it starts; later "
        "cancellations are not possible online. The time cannot be changed online.",
        "Sie können Ihre Buchung bis 2 Tage vor Beginn online stornieren; spätere "
        "Stornierungen sind online nicht möglich. Die Uhrzeit kann online nicht geändert "
        "werden.",
    ),
    (
        {"cancel_mode": "never", "reschedule_notice_minutes": 90},
        "Bookings cannot be cancelled online: please contact us to cancel. You can change "
        "the time online until 90 minutes before the appointment.",
        "Buchungen können nicht online storniert werden: bitte wenden Sie sich zum Stornieren "
        "an uns. Sie können die Uhrzeit bis 90 Minuten vor dem Termin online ändern.",
    ),
]


@pytest.mark.parametrize(("values", "english", "german"), SUMMARIES)
def test_the_summary_says_the_rules_in_english(app, session, salon, values, english, german):
    policy = rules(session, salon, **values)
    with app.test_request_context(), force_locale("en"):
        assert policy_summary(policy) == english


@pytest.mark.parametrize(("values", "english", "german"), SUMMARIES)
def test_the_summary_says_the_rules_in_german(app, session, salon, values, english, german):
    """Needs the side catalogue merged into messages.po (the lead merges it)."""
    policy = rules(session, salon, **values)
    with app.test_request_context(), force_locale("de"):
        assert policy_summary(policy) == german


def test_the_owners_sentence_follows_the_summary_in_the_readers_language(client, session, salon):
    policy = rules(session, salon, summary="Missed appointments cost half.")
    policy.translations.append(
        PolicyTranslation(
            locale="de", summary="Verpasste Termine kosten die Hälfte.", format="markdown"
        )
    )
    session.commit()
    english = client.get(booking_url(salon) + "&lang=en").text
    assert (
        "You can cancel or move your booking online until 24 hours before it starts; after "
        "that, it can no longer be cancelled or moved online. Missed appointments cost half."
    ) in english
    german = client.get(booking_url(salon) + "&lang=de").text
    assert "Verpasste Termine kosten die Hälfte." in german
    assert "Missed appointments cost half." not in german
    public = client.get("/b/salon/cancellation-policy?lang=en").text
    assert "Missed appointments cost half." in public


def test_an_old_free_text_summary_is_no_longer_shown(client, session, salon):
    """Before issue 15 the owner wrote the whole summary; it could contradict the rules."""
    session.add(
        CancellationPolicyVersion(
            business_id=salon.business.id,
            version=2,
            summary="Cancel any time you like!",
            body="",
            cancel_mode="never",
            cancel_notice_minutes=0,
            reschedule_mode="never",
            reschedule_notice_minutes=0,
            format="html",
        )
    )
    session.commit()
    for url in (booking_url(salon), "/b/salon/cancellation-policy"):
        page = client.get(url).text
        assert "Cancel any time you like!" not in page
        assert "Bookings cannot be cancelled or moved online" in page
