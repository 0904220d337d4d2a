"""The audit log in sentences: each kind said in the reader's language, local times, raw JSON."""

from __future__ import annotations

import ast
import html
import re
from pathlib import Path

import pytest
from flask_babel import force_locale

from portal.audit import service as audit
from portal.audit.models import AuditEvent
from portal.audit.sentences import SENTENCES, Reader, readable, sentence
from portal.audit.service import Origin
from portal.schedule.service import cancel_by_staff
from tests.conftest import NOW

PORTAL = Path(__file__).resolve().parent.parent / "portal"
SENTENCE = re.compile(r'<p class="audit-sentence">(.*?)</p>', re.DOTALL)


def kinds_the_code_records() -> set[str]:
    """Every kind constant of ``portal.audit.service`` that code outside it names.

    Read from the source, so a kind added later without a sentence fails this test.
    """
    constants = {
        name: value
        for name, value in vars(audit).items()
        if name.isupper() and isinstance(value, str) and value in audit.KINDS
    }
    named = set()
    for path in PORTAL.rglob("*.py"):
        if path.parts[-2:] in (("audit", "service.py"), ("audit", "sentences.py")):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = (
                node.attr
                if isinstance(node, ast.Attribute)
                else node.id
                if isinstance(node, ast.Name)
                else None
            )
            if name in constants:
                named.add(constants[name])
    return named


def sentences_on(page: str) -> list[str]:
    return [html.unescape(text) for text in SENTENCE.findall(page)]


def add_event(session, business, kind: str, *, actor=None, **details) -> AuditEvent:
    event = audit.record(
        session,
        kind,
        NOW,
        business_id=business.id,
        actor=actor,
        actor_kind=None if actor is not None else "system",
        **details,
    )
    session.commit()
    return event


# -- every kind has its sentence ------------------------------------------------------------


def test_the_code_records_kinds_that_all_have_a_sentence():
    recorded = kinds_the_code_records()
    assert len(recorded) >= 40  # the reader found them: sign-in, bookings, gift cards, ...
    assert recorded - set(SENTENCES) == set()
    assert set(audit.KINDS) - set(SENTENCES) == set()


@pytest.mark.parametrize("kind", audit.KINDS)
def test_each_kind_reads_as_its_own_sentence_even_without_details(app, salon, kind):
    event = AuditEvent(kind=kind, actor_kind="staff", actor_label="sam@example.com", details={})
    with app.test_request_context():
        said = sentence(event, Reader(salon.business))
    generic = f"sam@example.com: {kind.replace('.', ' ').replace('_', ' ')}."
    assert said and said != generic


def test_an_unknown_kind_falls_back_to_a_generic_sentence(app, salon):
    event = AuditEvent(kind="widget.frobnicated", actor_kind="system", actor_label="", details={})
    odd = AuditEvent(
        kind=audit.BOOKING_MOVED_BY_STAFF, actor_kind="system", actor_label="", details=[1, 2]
    )
    with app.test_request_context():
        assert sentence(event, Reader(salon.business)) == "The portal: widget frobnicated."
        assert sentence(odd, Reader(salon.business)).startswith("The portal moved booking #?")


# -- the page --------------------------------------------------------------------------------


def test_a_cancellation_reads_as_a_sentence_with_local_times(
    owner_client, owner, session, salon, make_booking
):
    booking = make_booking()
    cancel_by_staff(session, booking, owner, "Provider is ill", NOW, Origin("203.0.113.9"))
    session.commit()
    page = owner_client.get("/staff/audit?kind=booking.cancelled_by_staff").text
    # The booking starts 09:00 UTC: 10:00 in Berlin; the event was at 06:00 UTC: 07:00.
    assert sentences_on(page) == [
        "Olivia Owner cancelled the booking of Tue 3 Mar 2026, 10:00 — reason: Provider is ill."
    ]
    assert "Monday, 02 March 2026, 07:00" in page
    assert "+00:00" not in sentences_on(page)[0]


def test_the_raw_details_are_behind_a_toggle(owner_client, owner, session, salon):
    add_event(session, salon.business, audit.AUDIT_PURGED, removed=3, older_than=NOW.isoformat())
    page = owner_client.get("/staff/audit?kind=audit.purged").text
    start = page.index('<details class="audit-raw">')
    toggle = page[start : page.index("</details>", start)]
    assert "<summary>Details</summary>" in toggle
    assert "<code>audit.purged</code>" in toggle
    assert "&#34;removed&#34;: 3" in toggle or '"removed": 3' in toggle
    assert sentences_on(page) == [
        "The portal removed 3 audit events older than Mon 2 Mar 2026, 07:00."
    ]


def test_a_settings_change_names_the_area_and_the_values(owner_client, owner, session, salon):
    add_event(
        session,
        salon.business,
        audit.SETTINGS_CHANGED,
        actor=owner,
        area="security",
        changes={"idle_timeout_minutes": [30, 15], "require_2fa": [False, True]},
    )
    page = owner_client.get("/staff/audit?kind=settings.changed").text
    assert (
        "Olivia Owner changed the security settings: idle limit (minutes): 30 → 15; "
        "two-factor sign-in required: off → on."
    ) in sentences_on(page)


def test_a_staff_move_names_both_times_and_the_new_provider(app, session, salon, owner):
    event = add_event(
        session,
        salon.business,
        audit.BOOKING_MOVED_BY_STAFF,
        actor=owner,
        booking=99,
        old_start="2026-03-03T09:00:00+00:00",
        new_start="2026-03-04T13:30:00+00:00",
        old_provider=salon.provider.id + 1000,
        new_provider=salon.provider.id,
    )
    with app.test_request_context():
        [line] = readable(session, salon.business, [event], hipaa=False)
    assert line.sentence == (
        f"Olivia Owner moved the booking of Tue 3 Mar 2026, 10:00 to Wed 4 Mar 2026, 14:30, "
        f"now with {salon.provider.name}."
    )


def test_in_hipaa_mode_sentences_name_no_client_address(app, session, salon, owner):
    event = add_event(
        session,
        salon.business,
        audit.CLIENT_BLOCKED,
        actor=owner,
        client=7,
        email="mia@example.com",
        changes={"blocked": [False, True]},
    )
    with app.test_request_context():
        [plain] = readable(session, salon.business, [event], hipaa=False)
        [private] = readable(session, salon.business, [event], hipaa=True)
    assert plain.sentence == (
        "Olivia Owner blocked client #7 (mia@example.com) from booking online."
    )
    assert private.sentence == "Olivia Owner blocked client #7 from booking online."


def test_a_german_page_has_german_sentences(owner_client, owner, session, salon, make_booking):
    """Needs the side catalogue merged into messages.po (the lead merges it)."""
    booking = make_booking()
    cancel_by_staff(session, booking, owner, "krank", NOW, Origin())
    session.commit()
    page = owner_client.get("/staff/audit?kind=booking.cancelled_by_staff&lang=de").text
    assert sentences_on(page) == [
        "Olivia Owner hat die Buchung vom Di., 3. März 2026, 10:00 storniert – Grund: krank."
    ]


def test_the_csv_export_is_unchanged(owner_client, owner, session, salon):
    add_event(session, salon.business, audit.AUDIT_PURGED, removed=3, older_than="2020-01-01")
    export = owner_client.get("/staff/audit/export.csv?kind=audit.purged").text
    assert "audit.purged" in export
    assert "removed" in export
    assert "The portal removed" not in export


def test_the_sentences_follow_the_forced_language(app, session, salon, owner):
    event = add_event(session, salon.business, audit.SIGNIN_SUCCESS, actor=owner)
    with app.test_request_context(), force_locale("en"):
        [line] = readable(session, salon.business, [event], hipaa=False)
    assert line.sentence == "Olivia Owner signed in."
