"""Queue e-mails on a session; send them only once its transaction commits."""

from __future__ import annotations

import logging
from email.message import EmailMessage

from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.mail.transport import Transport

log = logging.getLogger(__name__)
_QUEUE_KEY = "portal_outbox"


def queue_mail(session: Session, transport: Transport, message: EmailMessage) -> None:
    """Send ``message`` after ``session`` commits; drop it if it rolls back."""
    session.info.setdefault(_QUEUE_KEY, []).append((transport, message))


@event.listens_for(Session, "after_commit")
def _send_queued(session: Session) -> None:
    for transport, message in session.info.pop(_QUEUE_KEY, []):
        try:
            transport.send(message)
        except Exception:
            # The booking stands even if the mail server is down; the failure
            # is logged without the message body, which holds a manage link.
            log.exception("could not send e-mail %r to %s", message["Subject"], message["To"])


@event.listens_for(Session, "after_rollback")
def _drop_queued(session: Session) -> None:
    session.info.pop(_QUEUE_KEY, None)
