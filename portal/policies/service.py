"""Reading and publishing terms and cancellation policy versions."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.businesses.models import Business
from portal.policies.models import CANCEL_UNTIL, CancellationPolicyVersion, TermsVersion


def current_terms(session: Session, business: Business) -> TermsVersion | None:
    """The newest terms version of the business, or None if it never wrote any."""
    return session.scalars(
        select(TermsVersion)
        .where(TermsVersion.business_id == business.id)
        .order_by(TermsVersion.version.desc())
        .limit(1)
    ).first()


def current_policy(session: Session, business: Business) -> CancellationPolicyVersion | None:
    """The newest cancellation policy version of the business, or None."""
    return session.scalars(
        select(CancellationPolicyVersion)
        .where(CancellationPolicyVersion.business_id == business.id)
        .order_by(CancellationPolicyVersion.version.desc())
        .limit(1)
    ).first()


def _next_version(session: Session, model, business: Business) -> int:
    latest = session.scalar(select(func.max(model.version)).where(model.business_id == business.id))
    return (latest or 0) + 1


def publish_terms(session: Session, business: Business, body: str) -> TermsVersion:
    """Save ``body`` as the business's new terms version."""
    terms = TermsVersion(
        business_id=business.id, version=_next_version(session, TermsVersion, business), body=body
    )
    session.add(terms)
    session.flush()
    return terms


def publish_policy(
    session: Session,
    business: Business,
    *,
    summary: str,
    body: str,
    cancel_mode: str = CANCEL_UNTIL,
    cancel_notice_minutes: int = 24 * 60,
) -> CancellationPolicyVersion:
    """Save a new cancellation policy version."""
    policy = CancellationPolicyVersion(
        business_id=business.id,
        version=_next_version(session, CancellationPolicyVersion, business),
        summary=summary,
        body=body,
        cancel_mode=cancel_mode,
        cancel_notice_minutes=cancel_notice_minutes,
    )
    session.add(policy)
    session.flush()
    return policy
