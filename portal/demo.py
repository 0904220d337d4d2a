"""The demo business: a small salon in Berlin, loaded by ``portal demo``."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, time, timedelta

from sqlalchemy.orm import Session

from portal.accounts.models import OWNER
from portal.accounts.service import create_staff_user
from portal.branding.logos import leaf_logo
from portal.branding.service import store_logo
from portal.businesses.models import Business
from portal.businesses.service import create_business, find_business
from portal.catalog.models import DayOff, Provider, Service, ServiceTranslation, WorkingHours
from portal.clock import utcnow
from portal.policies.service import TRANSLATED_TEXTS, publish_policy, publish_terms

DEMO_SLUG = "demo"
DEMO_OWNER_EMAIL = "owner@demo.example"

# The studio is German: its own texts are German (the originals), each with an
# English version that clients reading the pages in English see (issue 14).
TERMS = """Diese Bedingungen gelten für jeden Termin, der über dieses Portal gebucht wird.

Bitte kommen Sie einige Minuten vor Ihrem Termin. Wenn Sie mehr als 15 Minuten zu spät kommen, müssen wir Ihren Termin unter Umständen **kürzen oder verlegen**.

Wir speichern Ihren Namen, Ihre E-Mail-Adresse und Ihre Telefonnummer, um Ihre Buchungen zu verwalten, und löschen diese Daten, sobald sie nicht mehr benötigt werden."""

TERMS_EN = """These terms apply to every appointment booked through this portal.

Please arrive a few minutes early. If you are more than 15 minutes late we may need to **shorten or rebook** your appointment.

We store your name, e-mail address and phone number to manage your bookings and delete them when they are no longer needed."""

# The summary clients read is written from the rules (24 hours to cancel or move);
# the owner adds one sentence of their own after it.
POLICY_SENTENCE = "Nicht wahrgenommene Termine können mit 50 % des Preises berechnet werden."

POLICY_BODY = """Kurzfristig erreichen Sie uns telefonisch unter +49 30 1234567."""

POLICY_PREPAYMENT = """Keine: Sie bezahlen nach Ihrem Termin im Studio."""

POLICY_REFUNDS = """Da nichts im Voraus bezahlt wird, gibt es nichts zu erstatten. Gutscheine, die für eine stornierte Buchung eingesetzt wurden, bleiben gültig."""

POLICY_REBOOKING = """Nach einer Stornierung können Sie gern sofort einen neuen Termin buchen.

Innerhalb von **24 Stunden vor Beginn** rufen Sie uns bitte an, statt online zu stornieren."""

POLICY_EN = {
    "summary": "Missed appointments may be charged at 50 % of the price.",
    "body": """At short notice, call us on +49 30 1234567.""",
    "prepayment": """None is required: you pay at the studio after your appointment.""",
    "refunds": """As nothing is paid in advance, there is nothing to refund. Vouchers used for a cancelled booking stay valid.""",
    "rebooking": """After a cancellation you are welcome to book a new time at once.

Within **24 hours of the start**, please call us instead of cancelling online.""",
}

#: (German name, German description, English name, English description) per service.
SERVICES = {
    "haircut": ("Haarschnitt", "Waschen, Schneiden, Föhnen.", "Haircut", "Wash, cut and style."),
    "colour": (
        "Farbe und Schnitt",
        "Komplette Coloration mit Schnitt und Föhnen.",
        "Colour and cut",
        "Full colour with a cut and blow-dry.",
    ),
    "consult": (
        "Beratung",
        "Ein kurzes Gespräch über Ihre Wünsche.",
        "Consultation",
        "A short talk about what you would like.",
    ),
}


@dataclass(frozen=True)
class DemoResult:
    business: Business
    created: bool
    owner_password: str | None


def load_demo(session: Session, today: date, owner_password: str | None = None) -> DemoResult:
    """Create the demo business unless it exists; never touches existing data."""
    existing = find_business(session, DEMO_SLUG)
    if existing is not None:
        return DemoResult(existing, created=False, owner_password=None)

    business = create_business(
        session, slug=DEMO_SLUG, name="Studio Lindenblatt", timezone="Europe/Berlin", locale="de"
    )
    business.min_notice_minutes = 120
    business.max_days_ahead = 42
    business.slot_step_minutes = 15
    business.terms_enabled = True
    business.cancellation_policy_enabled = True
    # Its identity (issue 14): a studio clients can find, call and recognise.
    business.address = "Lindenstraße 12\n10969 Berlin"
    business.phone = "+49 30 1234567"
    business.contact_email = business.contact_email or "hallo@studio-lindenblatt.example"
    business.website = "https://studio-lindenblatt.example"
    business.accent_color = "#2e6b4e"
    store_logo(session, business, leaf_logo((0x2E, 0x6B, 0x4E)), utcnow())

    haircut = _service(
        business,
        "haircut",
        duration_minutes=30,
        price_cents=3500,
        buffer_minutes=10,
        position=1,
    )
    colour = _service(
        business,
        "colour",
        duration_minutes=120,
        price_cents=11000,
        buffer_minutes=15,
        position=2,
    )
    consult = _service(
        business,
        "consult",
        duration_minutes=15,
        price_cents=0,
        buffer_minutes=0,
        position=3,
    )
    anna = Provider(business_id=business.id, name="Anna Weber")
    jonas = Provider(business_id=business.id, name="Jonas Richter")
    anna.services = [haircut, colour, consult]
    jonas.services = [haircut, consult]
    # Anna: Tuesday to Saturday with a lunch break; Jonas: Monday to Friday, late on Thursday.
    for weekday in range(1, 6):
        anna.working_hours.append(WorkingHours(weekday=weekday, starts=time(9), ends=time(13)))
        anna.working_hours.append(WorkingHours(weekday=weekday, starts=time(14), ends=time(18)))
    for weekday in range(0, 5):
        ends = time(20) if weekday == 3 else time(17)
        jonas.working_hours.append(WorkingHours(weekday=weekday, starts=time(10), ends=ends))
    # A day off for each, a week and two weeks from now.
    anna.days_off.append(DayOff(day=_next_weekday(today + timedelta(days=7), 2), note="Training"))
    jonas.days_off.append(DayOff(day=_next_weekday(today + timedelta(days=14), 4), note="Holiday"))
    session.add_all([haircut, colour, consult, anna, jonas])

    publish_terms(session, business, TERMS, TERMS_EN)
    publish_policy(
        session,
        business,
        summary=POLICY_SENTENCE,
        body=POLICY_BODY,
        cancel_mode="until",
        cancel_notice_minutes=24 * 60,
        reschedule_mode="until",
        reschedule_notice_minutes=24 * 60,
        prepayment=POLICY_PREPAYMENT,
        refunds=POLICY_REFUNDS,
        rebooking=POLICY_REBOOKING,
        translation=tuple(POLICY_EN[name] for name in TRANSLATED_TEXTS),
    )
    password = owner_password or secrets.token_urlsafe(12)
    # PORTAL_DEMO_PASSWORD is the operator's choice; the rules apply from the next change on.
    create_staff_user(
        session,
        business,
        email=DEMO_OWNER_EMAIL,
        password=password,
        role=OWNER,
        name="Demo Owner",
        check_rules=False,
    )
    session.flush()
    return DemoResult(business, created=True, owner_password=password)


def _service(business: Business, key: str, **settings) -> Service:
    """A demo service with its German texts and their English version."""
    name, description, name_en, description_en = SERVICES[key]
    return Service(
        business_id=business.id,
        name=name,
        description=description,
        translations=[ServiceTranslation(locale="en", name=name_en, description=description_en)],
        **settings,
    )


def _next_weekday(start: date, weekday: int) -> date:
    return start + timedelta(days=(weekday - start.weekday()) % 7)
