"""The owner's terms and cancellation policy pages, and what each setting changes for clients."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from portal.audit.models import AuditEvent
from portal.booking.models import Booking, BookingConsent
from portal.businesses.models import Business
from portal.policies.models import CancellationPolicyVersion, TermsVersion
from portal.policies.rich_text import markdown_html
from portal.policies.service import (
    PolicyDraft,
    cancel_rule,
    notice_text,
    publish_policy,
    reschedule_rule,
)
from tests.conftest import csrf_token, path_of
from tests.factories import DETAILS
from tests.test_flow import booking_url

TERMS_URL = "/staff/terms"
POLICY_URL = "/staff/cancellation-policy"

#: What the owner's policy form sends when nothing is changed from the salon's version 1.
POLICY_V1 = {
    "policy_enabled": "y",
    "cancel_mode": "until",
    "cancel_notice": "24",
    "cancel_unit": "hours",
    "reschedule_mode": "until",
    "reschedule_notice": "24",
    "reschedule_unit": "hours",
    "summary": "Cancel free of charge until 24 hours before.",
    "prepayment": "",
    "refunds": "",
    "rebooking": "",
    "body": "Prepayment: none. Refunds: none needed. Rebooking: any time.",
}

HOSTILE = (
    "<script>alert('terms')</script>"
    '<p onclick="steal()" style="color: red">Hello <strong>bold</strong> <em>slanted</em> '
    '<a href="https://example.com/rules" target="_blank">rules</a> '
    '<a href="javascript:alert(1)">trap</a></p>'
    "<h2>Arrival</h2><h3>Late</h3><ol><li>first</li></ol><ul><li>one</li></ul>"
    '<img src="x" onerror="steal()"><iframe src="https://evil.example"></iframe>'
    "<style>body { display: none }</style><div>kept text</div>"
)


# -- helpers ---------------------------------------------------------------------------


def submit(client, url: str, data: dict):
    token = csrf_token(client.get(url).text)
    return client.post(url, data={"csrf_token": token, **data})


def save_terms(client, body: str, enabled: bool = True):
    return submit(client, TERMS_URL, {"body": body, **({"terms_enabled": "y"} if enabled else {})})


def save_policy(client, **changes):
    data = {**POLICY_V1, **changes}
    return submit(client, POLICY_URL, {k: v for k, v in data.items() if v is not None})


def count(session, model) -> int:
    session.rollback()
    return session.scalar(select(func.count()).select_from(model))


def changes(session, area: str) -> list[dict]:
    session.rollback()
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.kind == "settings.changed").order_by(AuditEvent.id)
    )
    return [e.details["changes"] for e in events if e.details.get("area") == area]


def book(client, salon, email: str = DETAILS["email"], start: str = "2026-03-03T09:00Z"):
    url = booking_url(salon, start=start)
    page = client.get(url)
    assert page.status_code == 200
    data = {"csrf_token": csrf_token(page.text), **DETAILS, "email": email}
    response = client.post(url, data={**data, "accept_terms": "y", "accept_policy": "y"})
    assert response.status_code == 303
    return path_of(response)


def consent_versions(session, email: str) -> dict[str, int]:
    session.rollback()
    booking = session.scalars(
        select(Booking).where(Booking.client.has(email=email)).order_by(Booking.id.desc())
    ).first()
    versions = {}
    for consent in booking.consents:
        document = consent.terms_version or consent.policy_version
        versions[consent.kind] = document.version
    return versions


# -- access ----------------------------------------------------------------------------


def test_owners_find_terms_and_policy_in_the_staff_menu(owner_client):
    page = owner_client.get("/staff/terms")
    assert page.status_code == 200
    # The menu's entry, marked as the page shown.
    assert (
        '<a href="/staff/terms" aria-current="page" class="is-current">Terms &amp; policy</a>'
        in page.text
    )
    assert 'href="/staff/cancellation-policy"' in page.text
    assert page.headers["Content-Security-Policy"].count("frame-ancestors 'none'") == 1


@pytest.mark.parametrize("url", [TERMS_URL, POLICY_URL])
def test_staff_who_are_not_the_owner_are_refused(staff_client, session, url):
    assert staff_client.get(url).status_code == 403
    token = csrf_token(staff_client.get("/staff/").text)
    response = staff_client.post(url, data={"csrf_token": token, "body": "Mine now."})
    assert response.status_code == 403
    assert count(session, TermsVersion) == 1


@pytest.mark.parametrize("url", [TERMS_URL, POLICY_URL])
def test_signed_out_visitors_are_sent_to_sign_in(client, salon, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "/staff/login" in response.headers["Location"]


def test_a_post_without_csrf_token_is_refused(owner_client, session):
    response = owner_client.post(TERMS_URL, data={"body": "Sneaky", "terms_enabled": "y"})
    assert response.status_code == 400
    assert count(session, TermsVersion) == 1


# -- terms -----------------------------------------------------------------------------


def test_terms_page_shows_the_current_version_and_switch(owner_client):
    page = owner_client.get(TERMS_URL).text
    assert "Be on time.</textarea>" in page
    assert '<input checked id="terms_enabled" name="terms_enabled" type="checkbox"' in page
    assert "Version 1, published Monday, 02 March 2026, 07:00" in page


def test_a_changed_text_is_published_as_a_new_version_and_audited(owner_client, session):
    response = save_terms(owner_client, "Arrive ten minutes **early**.")
    assert response.status_code == 303
    page = owner_client.get(TERMS_URL).text
    assert "Published version 2 of the terms and conditions" in page
    session.rollback()
    versions = session.scalars(select(TermsVersion).order_by(TermsVersion.version)).all()
    assert [(v.version, v.body, v.format) for v in versions] == [
        (1, "Be on time.", "markdown"),
        (2, "Arrive ten minutes **early**.", "markdown"),
    ]
    assert changes(session, "terms") == [{"terms_version": [1, 2]}]
    public = owner_client.get("/b/salon/terms").text
    assert "Version 2, published" in public
    assert "<p>Arrive ten minutes <strong>early</strong>.</p>" in public


def test_saving_the_same_text_publishes_nothing(owner_client, session):
    response = save_terms(owner_client, "Be on time.")
    assert response.status_code == 303
    assert "Nothing changed." in owner_client.get(TERMS_URL).text
    assert count(session, TermsVersion) == 1
    assert changes(session, "terms") == []


def test_bookings_keep_the_terms_version_they_accepted(owner_client, client, salon, session):
    book(client, salon, "mia@example.com")
    assert consent_versions(session, "mia@example.com") == {
        "terms": 1,
        "cancellation_policy": 1,
    }

    assert save_terms(owner_client, "New terms, version two.").status_code == 303
    assert save_policy(owner_client, summary="A new summary.").status_code == 303

    # The earlier booking still names version 1; a new booking accepts version 2.
    assert consent_versions(session, "mia@example.com") == {
        "terms": 1,
        "cancellation_policy": 1,
    }
    book(client, salon, "noah@example.com", start="2026-03-03T10:00Z")
    assert consent_versions(session, "noah@example.com") == {
        "terms": 2,
        "cancellation_policy": 2,
    }
    session.rollback()
    mia = session.scalars(select(Booking).where(Booking.client.has(email="mia@example.com"))).one()
    assert mia.policy_version.version == 1
    terms_consent = session.scalars(
        select(BookingConsent).where(
            BookingConsent.booking_id == mia.id, BookingConsent.kind == "terms"
        )
    ).one()
    assert terms_consent.terms_version.body == "Be on time."


def test_html_typed_into_the_editor_is_shown_as_text(owner_client, session):
    assert save_terms(owner_client, HOSTILE).status_code == 303
    session.rollback()
    stored = session.scalars(select(TermsVersion).where(TermsVersion.version == 2)).one()
    assert (stored.body, stored.format) == (HOSTILE, "markdown")
    public = owner_client.get("/b/salon/terms").text
    public = public[public.index("<h1>Terms and conditions</h1>") : public.index("</article>")]
    for banned in ("<script", "<strong>", "<a ", "<img", "<iframe", "<style", "<div"):
        assert banned not in public
    assert "&lt;script&gt;alert('terms')&lt;/script&gt;" in public
    assert "&lt;strong&gt;bold&lt;/strong&gt;" in public


def test_an_html_version_from_before_is_still_sanitised(owner_client, salon, session):
    """Versions written before issue 15 hold HTML: they render as before, through nh3."""
    session.add(TermsVersion(business_id=salon.business.id, version=2, body=HOSTILE, format="html"))
    session.commit()
    public = owner_client.get("/b/salon/terms").text
    public = public[public.index("<h1>Terms and conditions</h1>") : public.index("</article>")]
    for page in (public,):
        for banned in ("<script", "alert(", "onclick", "style=", "steal()", "<img", "<iframe"):
            assert banned not in page
        for banned in ("javascript:", "<style", "display: none", "<div", 'target="_blank"'):
            assert banned not in page
        assert "<strong>bold</strong>" in page
        assert "<em>slanted</em>" in page
        assert '<a href="https://example.com/rules" rel="noopener noreferrer">rules</a>' in page
        assert '<a rel="noopener noreferrer">trap</a>' in page
        assert "<h2>Arrival</h2><h3>Late</h3><ol><li>first</li></ol><ul><li>one</li></ul>" in page
        assert "kept text" in page


def test_plain_text_terms_still_read_as_paragraphs(client, salon, session):
    """Versions written before HTML was allowed are plain text with blank lines."""
    session.add(
        TermsVersion(
            business_id=salon.business.id,
            version=2,
            body="First paragraph & more.\n\nSecond <paragraph>\nwith a line break.",
            format="html",
        )
    )
    session.commit()
    page = client.get("/b/salon/terms").text
    assert "<p>First paragraph &amp; more.</p>" in page
    assert "<p>Second <br>\nwith a line break.</p>" in page


def test_the_demo_texts_are_markdown_paragraphs():
    from portal.demo import POLICY_BODY, POLICY_PREPAYMENT, TERMS

    for text in (TERMS, POLICY_BODY, POLICY_PREPAYMENT):
        assert "<" not in text
        assert markdown_html(text).startswith("<p>")


def test_switching_terms_off_removes_the_checkbox_and_the_page(
    owner_client, client, salon, session
):
    assert save_terms(owner_client, "Be on time.", enabled=False).status_code == 303
    assert "Switched off" in owner_client.get(TERMS_URL).text
    assert changes(session, "terms") == [{"terms_enabled": [True, False]}]
    assert count(session, TermsVersion) == 1

    details = client.get(booking_url(salon)).text
    assert "accept_terms" not in details
    assert "/b/salon/terms" not in details
    public = client.get("/b/salon/terms")
    assert public.status_code == 404
    assert "Salon Test has not published terms and conditions." in public.text

    # Switched on again: the checkbox and the page are back, with the same version.
    assert save_terms(owner_client, "Be on time.").status_code == 303
    assert changes(session, "terms")[-1] == {"terms_enabled": [False, True]}
    assert "accept_terms" in client.get(booking_url(salon)).text
    assert client.get("/b/salon/terms").status_code == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "Write the terms before switching them on"),
        ("   \n  ", "Write the terms before switching them on"),
        ("x" * 20_001, "This text is too long: at most 20,000 characters."),
    ],
)
def test_bad_terms_are_refused_with_a_message(owner_client, session, body, message):
    response = save_terms(owner_client, body)
    assert response.status_code == 422
    assert message in response.text
    assert "Nothing was saved. Please check:" in response.text
    assert count(session, TermsVersion) == 1
    assert changes(session, "terms") == []


# -- cancellation policy ---------------------------------------------------------------


def test_policy_page_shows_the_current_rules(owner_client):
    page = owner_client.get(POLICY_URL).text
    assert (
        '<input checked id="cancel_mode-2" name="cancel_mode" type="radio" value="until">' in page
    )
    assert 'name="cancel_notice" size="6" type="text" value="24">' in page
    assert '<option selected value="hours">hours</option>' in page
    assert "Cancel free of charge until 24 hours before." in page
    assert "Cancel online until 24 hours before the appointment." in page
    assert "Reschedule online until 24 hours before the appointment." in page


def test_saving_the_policy_publishes_a_version_and_audits_old_and_new(owner_client, session):
    response = save_policy(
        owner_client,
        cancel_notice="2",
        cancel_unit="days",
        reschedule_mode="never",
        reschedule_notice="",
        summary="Cancel until two days before. Moving online is not possible.",
        prepayment="A **deposit** of 20 % when booking.<script>x()</script>",
        refunds="Deposits are refunded within 5 days.",
        rebooking="Rebook any time.",
    )
    assert response.status_code == 303
    assert "Published version 2 of the cancellation policy" in owner_client.get(POLICY_URL).text

    session.rollback()
    policy = session.scalars(
        select(CancellationPolicyVersion).where(CancellationPolicyVersion.version == 2)
    ).one()
    assert (policy.cancel_mode, policy.cancel_notice_minutes) == ("until", 2 * 24 * 60)
    assert (policy.reschedule_mode, policy.reschedule_notice_minutes) == ("never", 0)
    assert policy.prepayment == "A **deposit** of 20 % when booking.<script>x()</script>"
    assert policy.refunds == "Deposits are refunded within 5 days."
    assert (policy.rebooking, policy.format) == ("Rebook any time.", "markdown")
    [audited] = changes(session, "cancellation_policy")
    assert audited == {
        "policy_version": [1, 2],
        "summary": [
            "Cancel free of charge until 24 hours before.",
            "Cancel until two days before. Moving online is not possible.",
        ],
        "cancel_notice_minutes": [1440, 2880],
        "reschedule_mode": ["until", "never"],
        "reschedule_notice_minutes": [1440, 0],
        "prepayment": ["version 1", "version 2"],
        "refunds": ["version 1", "version 2"],
        "rebooking": ["version 1", "version 2"],
    }

    public = owner_client.get("/b/salon/cancellation-policy").text
    assert "Version 2, published" in public
    assert (
        "You can cancel your booking online until 2 days before it starts; later "
        "cancellations are not possible online. The time cannot be changed online. "
        "Cancel until two days before. Moving online is not possible."
    ) in public
    assert "Cancel online until 2 days before the appointment." in public
    assert "Rescheduling is not possible online." in public
    assert '<h2 id="prepayment">Prepayment</h2><p>A <strong>deposit</strong> of 20 %' in public
    assert '<h2 id="refunds">Refunds</h2><p>Deposits are refunded within 5 days.</p>' in public
    assert '<h2 id="rebooking">Rebooking</h2><p>Rebook any time.</p>' in public
    assert "<script>" not in public


def test_saving_the_same_policy_publishes_nothing(owner_client, session):
    assert save_policy(owner_client).status_code == 303
    assert "Nothing changed." in owner_client.get(POLICY_URL).text
    assert count(session, CancellationPolicyVersion) == 1
    assert changes(session, "cancellation_policy") == []


def test_the_notice_of_a_rule_without_one_is_ignored(owner_client, session):
    response = save_policy(owner_client, cancel_mode="any_time", cancel_notice="soon")
    assert response.status_code == 303
    session.rollback()
    policy = session.scalars(
        select(CancellationPolicyVersion).order_by(CancellationPolicyVersion.version.desc())
    ).first()
    assert (policy.cancel_mode, policy.cancel_notice_minutes) == ("any_time", 0)
    page = owner_client.get(POLICY_URL).text
    assert "Cancel online any time before the appointment starts." in page


def test_switching_the_policy_off_removes_the_checkbox_and_the_page(
    owner_client, client, salon, session
):
    assert save_policy(owner_client, policy_enabled=None).status_code == 303
    assert changes(session, "cancellation_policy") == [
        {"cancellation_policy_enabled": [True, False]}
    ]
    assert count(session, CancellationPolicyVersion) == 1
    details = client.get(booking_url(salon)).text
    assert "accept_policy" not in details
    public = client.get("/b/salon/cancellation-policy")
    assert public.status_code == 404
    assert "has not published a cancellation policy" in public.text


def test_the_policy_rules_change_the_manage_page_and_the_deadline(
    owner_client, client, salon, session
):
    earlier = book(client, salon, "mia@example.com")
    assert save_policy(owner_client, cancel_notice="90", cancel_unit="minutes").status_code == 303
    later = book(client, salon, "noah@example.com", start="2026-03-03T10:00Z")

    # Each booking follows the version its client accepted.
    assert "cancel free of charge until Monday, 02 March 2026, 10:00" in client.get(earlier).text
    assert "cancel free of charge until Tuesday, 03 March 2026, 09:30" in client.get(later).text
    session.rollback()
    noah = session.scalars(
        select(Booking).where(Booking.client.has(email="noah@example.com"))
    ).one()
    assert noah.cancel_deadline() == noah.start_at - timedelta(minutes=90)

    assert save_policy(owner_client, cancel_mode="never", summary="No cancellations.").status_code
    newest = book(client, salon, "ada@example.com", start="2026-03-03T11:00Z")
    page = client.get(newest).text
    assert "This booking cannot be cancelled online." in page
    assert "Cancel this booking" not in page
    assert "Cancel this booking" in client.get(earlier).text


def test_a_policy_needs_no_sentence_of_the_owners(owner_client, session):
    assert save_policy(owner_client, summary="  ").status_code == 303
    session.rollback()
    newest = session.scalars(
        select(CancellationPolicyVersion).order_by(CancellationPolicyVersion.version.desc())
    ).first()
    assert (newest.version, newest.summary) == (2, "")


@pytest.mark.parametrize(
    ("changes_", "message"),
    [
        ({"cancel_mode": "sometimes"}, "Choose one of the three options."),
        ({"reschedule_mode": "later"}, "Choose one of the three options."),
        (
            {"cancel_notice": ""},
            "Enter how long before the appointment clients may still cancel online, like 24 hours.",
        ),
        (
            {"reschedule_notice": " "},
            "Enter how long before the appointment clients may still change the time online",
        ),
        ({"cancel_notice": "abc"}, "Enter a whole number of 1 or more, like 24."),
        ({"cancel_notice": "-3"}, "Enter a whole number of 1 or more, like 24."),
        ({"cancel_notice": "0"}, "Enter a whole number of 1 or more, like 24."),
        ({"cancel_notice": "2.5"}, "Enter a whole number of 1 or more, like 24."),
        ({"cancel_notice": "99999999999"}, "Enter a whole number of 1 or more, like 24."),
        (
            {"cancel_notice": "366", "cancel_unit": "days"},
            "That is more than a year: enter at most 365 days.",
        ),
        (
            {"reschedule_notice": "8761"},
            "That is more than a year: enter at most 8760 hours (365 days).",
        ),
        (
            {"cancel_notice": "525601", "cancel_unit": "minutes"},
            "That is more than a year: enter at most 525600 minutes (365 days).",
        ),
        ({"cancel_unit": "weeks"}, "Choose minutes, hours or days."),
        ({"summary": "s" * 301}, "Keep your own sentence to 300 characters at most"),
        ({"refunds": "r" * 20_001}, "This text is too long: at most 20,000 characters."),
    ],
)
def test_bad_policy_input_is_refused_with_a_message(owner_client, session, changes_, message):
    response = save_policy(owner_client, **changes_)
    assert response.status_code == 422
    assert message in response.text
    assert "Nothing was saved. Please check:" in response.text
    assert count(session, CancellationPolicyVersion) == 1
    assert changes(session, "cancellation_policy") == []


def test_the_largest_notice_is_accepted(owner_client, session):
    response = save_policy(owner_client, cancel_notice="365", cancel_unit="days")
    assert response.status_code == 303
    session.rollback()
    newest = session.scalars(
        select(CancellationPolicyVersion).order_by(CancellationPolicyVersion.version.desc())
    ).first()
    assert newest.cancel_notice_minutes == 365 * 24 * 60


# -- wording ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "words"),
    [
        (1, "1 minute"),
        (90, "90 minutes"),
        (60, "1 hour"),
        (24 * 60, "24 hours"),
        (36 * 60, "36 hours"),
        (2 * 24 * 60, "2 days"),
        (365 * 24 * 60, "365 days"),
    ],
)
def test_notice_in_words(minutes, words):
    assert notice_text(minutes) == words


def test_rules_in_words(session, salon):
    policy = publish_policy(
        session,
        salon.business,
        summary="Rules.",
        cancel_mode="any_time",
        reschedule_mode="until",
        reschedule_notice_minutes=120,
    )
    assert cancel_rule(policy) == "Cancel online any time before the appointment starts"
    assert reschedule_rule(policy) == "Reschedule online until 2 hours before the appointment"
    policy.cancel_mode = "never"
    assert cancel_rule(policy) == "Cancellation is not possible online"
    policy.reschedule_mode = "never"
    assert reschedule_rule(policy) == "Rescheduling is not possible online"
    session.rollback()


def test_a_draft_compares_by_its_sanitised_content():
    plain = PolicyDraft(summary="  Two   spaces ", refunds="None.", cancel_mode="never")
    assert (
        plain.normalised()
        == PolicyDraft(
            summary="Two spaces",
            refunds="\r\n None.\r\n",
            cancel_mode="never",
            cancel_notice_minutes=5,
        ).normalised()
    )


def test_a_business_writes_its_first_terms_and_policy(owner_client, client, salon, session):
    session.execute(delete(CancellationPolicyVersion))
    session.execute(delete(TermsVersion))
    salon.business.terms_enabled = False
    salon.business.cancellation_policy_enabled = False
    session.commit()
    assert "No terms are written yet." in owner_client.get(TERMS_URL).text
    assert "No cancellation policy is written yet." in owner_client.get(POLICY_URL).text
    assert client.get("/b/salon/terms").status_code == 404

    assert save_terms(owner_client, "Our first terms.").status_code == 303
    assert save_policy(owner_client, body="").status_code == 303
    assert changes(session, "terms") == [
        {"terms_enabled": [False, True], "terms_version": [None, 1]}
    ]
    [policy_change] = changes(session, "cancellation_policy")
    assert policy_change["cancellation_policy_enabled"] == [False, True]
    assert policy_change["policy_version"] == [None, 1]
    assert policy_change["cancel_mode"] == [None, "until"]
    assert "Version 1, published" in client.get("/b/salon/terms").text
    assert "Further conditions" not in client.get("/b/salon/cancellation-policy").text


def test_saving_a_switched_off_empty_form_publishes_nothing(owner_client, session):
    session.execute(delete(CancellationPolicyVersion))
    business = session.scalars(select(Business)).one()
    business.cancellation_policy_enabled = False
    session.commit()
    empty = dict.fromkeys(("summary", "prepayment", "refunds", "rebooking", "body"), "")
    assert save_policy(owner_client, policy_enabled=None, **empty).status_code == 303
    assert "Nothing changed." in owner_client.get(POLICY_URL).text
    assert count(session, CancellationPolicyVersion) == 0
