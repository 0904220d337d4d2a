"""Staff's internal notes on a booking and on a client.

Plain text, staff only: never shown to the client, never in an e-mail. In
HIPAA mode each view of a note is audited; the data export includes them and
erasure removes them (``portal.clients.rights``).
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.orm import Session

from portal.accounts.current import current_staff, origin
from portal.audit import service as audit
from portal.audit.service import Origin
from portal.booking.models import Booking
from portal.clients.models import Client
from portal.clock import utcnow
from portal.extensions import db
from portal.hipaa.service import hipaa_on

#: The longest internal note on a booking or a client.
NOTES_MAX = 2000

# Control characters other than tab and newline have no place in a typed note.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_notes(text: str) -> str:
    """A note as plain text: line breaks kept, control characters and edge blanks gone."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text).strip()


def _about(target: Booking | Client) -> dict:
    if isinstance(target, Booking):
        return {"booking": target.id, "client": target.client_id}
    return {"client": target.id}


def save_notes(
    session: Session, target: Booking | Client, text: str, actor, now: datetime, origin: Origin
) -> bool:
    """Set the internal note of a booking or a client; False when it did not change.

    The audit event says whose note changed and its length, never what it says.
    """
    text = clean_notes(text)
    if len(text) > NOTES_MAX:
        raise ValueError("the form limits notes to NOTES_MAX characters")
    if text == target.staff_notes:
        return False
    target.staff_notes = text
    audit.record(
        session,
        audit.NOTES_CHANGED,
        now,
        business_id=target.business_id,
        actor=actor,
        origin=origin,
        chars=len(text),
        **_about(target),
    )
    session.flush()
    return True


def record_notes_view(target: Booking | Client) -> None:
    """In HIPAA mode, note (once the page is served) that the current user saw the note."""
    staff = current_staff()
    if not target.staff_notes or staff is None or not hipaa_on(db.session, target.business_id):
        return
    now, where, about, business_id = utcnow(), origin(), _about(target), target.business_id
    db.record(
        lambda session: audit.record(
            session,
            audit.NOTES_VIEWED,
            now,
            business_id=business_id,
            actor=staff,
            origin=where,
            **about,
        )
    )
