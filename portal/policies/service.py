"""Reading, wording and publishing terms and cancellation policy versions."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.audit.service import Origin, apply_changes, record_changes
from portal.businesses.models import Business
from portal.policies.models import (
    CANCEL_ANY_TIME,
    CANCEL_NEVER,
    CANCEL_UNTIL,
    CancellationPolicyVersion,
    PolicyTranslation,
    TermsTranslation,
    TermsVersion,
)
from portal.policies.rich_text import clean_html
from portal.web.lazy_text import lazy_text as _l
from portal.web.messages import saved, saved_message
from portal.web.owner_texts import other_language

MODES = (CANCEL_NEVER, CANCEL_ANY_TIME, CANCEL_UNTIL)
MINUTE, HOUR, DAY = 1, 60, 24 * 60
UNITS = {"minutes": MINUTE, "hours": HOUR, "days": DAY}
#: The longest notice an owner may ask for: a year.
MAX_NOTICE_MINUTES = 365 * DAY
MAX_SUMMARY = 500
MAX_TEXT = 20_000
TERMS_AREA = "terms"
POLICY_AREA = "cancellation_policy"
#: Said by the form and, for a text the sanitiser empties, by ``save_terms``.
TERMS_MISSING = _l(
    "Write the terms before switching them on: clients must be able to read what they accept."
)
SUMMARY_MISSING = _l(
    "Write a one- or two-sentence summary: clients see it above the confirm button before "
    "they agree."
)
CHOOSE_MODE = _l("Choose one of the three options.")
#: Said when the sanitiser leaves nothing of a translation the owner wrote.
NOTHING_LEFT = _l(
    "Nothing readable is left of this text once unsafe HTML is removed: "
    "write it as plain text, or leave it empty."
)
TRANSLATED_SUMMARY_MISSING = _l(
    "Write the summary in this language too, or leave all its texts empty."
)


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


#: The policy texts an owner may give in the business's other language, in this order.
TRANSLATED_TEXTS = ("summary", "body", "prepayment", "refunds", "rebooking")
NO_TRANSLATION = ("",) * len(TRANSLATED_TEXTS)


def translation_of(version, language: str):
    """The version's translation row in ``language``, or None."""
    return next((row for row in version.translations if row.locale == language), None)


def publish_terms(
    session: Session, business: Business, body: str, translated_body: str = ""
) -> TermsVersion:
    """Save ``body`` (sanitised) as the business's new terms version.

    ``translated_body`` is the same terms in the business's other language; it is
    published with the version and, like the version, never changed afterwards:
    a consent record names the version, and so what the client read in either language.
    """
    terms = TermsVersion(
        business_id=business.id,
        version=_next_version(session, TermsVersion, business),
        body=clean_html(body),
    )
    translated_body = clean_html(translated_body)
    if translated_body:
        terms.translations.append(
            TermsTranslation(locale=other_language(business), body=translated_body)
        )
    session.add(terms)
    session.flush()
    return terms


def publish_policy(
    session: Session,
    business: Business,
    *,
    summary: str,
    body: str = "",
    cancel_mode: str = CANCEL_UNTIL,
    cancel_notice_minutes: int = 24 * 60,
    reschedule_mode: str = CANCEL_UNTIL,
    reschedule_notice_minutes: int = 24 * 60,
    prepayment: str = "",
    refunds: str = "",
    rebooking: str = "",
    translation: tuple[str, ...] = NO_TRANSLATION,
) -> CancellationPolicyVersion:
    """Save a new cancellation policy version; its texts are sanitised.

    ``translation`` holds the ``TRANSLATED_TEXTS`` in the business's other language,
    published with the version and immutable like it (no summary: no translation).
    """
    policy = CancellationPolicyVersion(
        business_id=business.id,
        version=_next_version(session, CancellationPolicyVersion, business),
        summary=summary.strip(),
        body=clean_html(body),
        cancel_mode=cancel_mode,
        cancel_notice_minutes=cancel_notice_minutes,
        reschedule_mode=reschedule_mode,
        reschedule_notice_minutes=reschedule_notice_minutes,
        prepayment=clean_html(prepayment),
        refunds=clean_html(refunds),
        rebooking=clean_html(rebooking),
    )
    texts = dict(zip(TRANSLATED_TEXTS, translation, strict=True))
    if texts["summary"].strip():
        policy.translations.append(
            PolicyTranslation(
                locale=other_language(business),
                summary=" ".join(texts["summary"].split()),
                **{name: clean_html(texts[name]) for name in TRANSLATED_TEXTS[1:]},
            )
        )
    session.add(policy)
    session.flush()
    return policy


# -- wording ---------------------------------------------------------------------------


def split_notice(minutes: int) -> tuple[int, str]:
    """A notice as a number and unit that read naturally: 1440 is 24 hours, 2880 is 2 days."""
    if minutes >= 2 * DAY and minutes % DAY == 0:
        return minutes // DAY, "days"
    if minutes >= HOUR and minutes % HOUR == 0:
        return minutes // HOUR, "hours"
    return minutes, "minutes"


def notice_text(minutes: int) -> str:
    """``90`` -> "90 minutes", ``60`` -> "1 hour", ``2880`` -> "2 days"."""
    number, unit = split_notice(minutes)
    if unit == "days":
        return ngettext("%(num)d day", "%(num)d days", number)
    if unit == "hours":
        return ngettext("%(num)d hour", "%(num)d hours", number)
    return ngettext("%(num)d minute", "%(num)d minutes", number)


def cancel_rule(policy: CancellationPolicyVersion) -> str:
    """The cancellation rule in words."""
    if policy.cancel_mode == CANCEL_NEVER:
        return _("Cancellation is not possible online")
    if policy.cancel_mode == CANCEL_ANY_TIME:
        return _("Cancel online any time before the appointment starts")
    return _(
        "Cancel online until %(notice)s before the appointment",
        notice=notice_text(policy.cancel_notice_minutes),
    )


def reschedule_rule(policy: CancellationPolicyVersion) -> str:
    """The rescheduling rule in words."""
    if policy.reschedule_mode == CANCEL_NEVER:
        return _("Rescheduling is not possible online")
    if policy.reschedule_mode == CANCEL_ANY_TIME:
        return _("Reschedule online any time before the appointment starts")
    return _(
        "Reschedule online until %(notice)s before the appointment",
        notice=notice_text(policy.reschedule_notice_minutes),
    )


def rules_of(policy: CancellationPolicyVersion | None) -> list[str]:
    """The policy's rules as sentences for clients (cancelling, then moving); none without one."""
    return [cancel_rule(policy), reschedule_rule(policy)] if policy is not None else []


# -- the owner's settings --------------------------------------------------------------


class PolicyError(ValueError):
    """A setting the rules refuse; ``field`` names the input it concerns."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class PolicyDraft:
    """What the owner wrote for a cancellation policy version."""

    summary: str
    cancel_mode: str = CANCEL_UNTIL
    cancel_notice_minutes: int = 24 * 60
    reschedule_mode: str = CANCEL_UNTIL
    reschedule_notice_minutes: int = 24 * 60
    body: str = ""
    prepayment: str = ""
    refunds: str = ""
    rebooking: str = ""
    #: The ``TRANSLATED_TEXTS`` in the business's other language; all empty: none.
    translation: tuple[str, ...] = NO_TRANSLATION

    def normalised(self) -> PolicyDraft:
        """Texts sanitised, and no notice kept for a rule that has none."""
        return PolicyDraft(
            summary=" ".join(self.summary.split()),
            cancel_mode=self.cancel_mode,
            cancel_notice_minutes=(
                self.cancel_notice_minutes if self.cancel_mode == CANCEL_UNTIL else 0
            ),
            reschedule_mode=self.reschedule_mode,
            reschedule_notice_minutes=(
                self.reschedule_notice_minutes if self.reschedule_mode == CANCEL_UNTIL else 0
            ),
            body=clean_html(self.body),
            prepayment=clean_html(self.prepayment),
            refunds=clean_html(self.refunds),
            rebooking=clean_html(self.rebooking),
            translation=_normalised_translation(self.translation),
        )

    @classmethod
    def of(cls, policy: CancellationPolicyVersion, language: str = "") -> PolicyDraft:
        """The version as a draft, with its translation into ``language`` if it has one."""
        row = translation_of(policy, language)
        translation = (
            tuple(getattr(row, name) for name in TRANSLATED_TEXTS) if row else NO_TRANSLATION
        )
        names = [name for name in cls.__dataclass_fields__ if name != "translation"]
        return cls(**{name: getattr(policy, name) for name in names}, translation=translation)


def _normalised_translation(texts: tuple[str, ...]) -> tuple[str, ...]:
    """Summary on one line, the rest sanitised; nothing at all without a summary."""
    summary, *rest = texts
    summary = " ".join((summary or "").split())
    if not summary:
        return NO_TRANSLATION
    return (summary, *(clean_html(text) for text in rest))


#: Policy fields whose old and new values the audit log shows; the long texts are
#: recorded by version number, as each version keeps its texts for good.
AUDITED_RULES = (
    "summary",
    "cancel_mode",
    "cancel_notice_minutes",
    "reschedule_mode",
    "reschedule_notice_minutes",
)
LONG_TEXTS = ("body", "prepayment", "refunds", "rebooking", "translation")


def save_terms(
    session: Session,
    business: Business,
    *,
    enabled: bool,
    body: str,
    actor,
    now: datetime,
    origin: Origin,
    translated_body: str = "",
) -> dict[str, list]:
    """Switch the terms on or off and publish a changed text as a new version; audited.

    A changed translation (``translated_body``, the business's other language) is a
    new version too, with both texts: a published version never changes.
    Returns {setting: [old, new]} of what changed.
    """
    html = clean_html(body)
    if enabled and not html:
        raise PolicyError("body", str(TERMS_MISSING))
    translated = clean_html(translated_body)
    if translated_body.strip() and not translated:
        raise PolicyError("translated_body", str(NOTHING_LEFT))
    current = current_terms(session, business)
    changes = apply_changes(business, {"terms_enabled": enabled}, ["terms_enabled"])
    before = translation_of(current, other_language(business)) if current else None
    changed = current is None or clean_html(current.body) != html
    changed = changed or (before.body if before else "") != translated
    # An emptied text is not a version: the last one stays for the bookings that name it.
    if html and changed:
        published = publish_terms(session, business, html, translated)
        changes["terms_version"] = [current.version if current else None, published.version]
    record_changes(session, actor, now, origin, TERMS_AREA, changes)
    session.flush()
    return changes


def save_policy(
    session: Session,
    business: Business,
    *,
    enabled: bool,
    draft: PolicyDraft,
    actor,
    now: datetime,
    origin: Origin,
) -> dict[str, list]:
    """Switch the policy on or off and publish changed rules or texts as a new version; audited."""
    written = draft.translation
    draft = draft.normalised()
    _check(draft, enabled, written)
    current = current_policy(session, business)
    changes = apply_changes(
        business, {"cancellation_policy_enabled": enabled}, ["cancellation_policy_enabled"]
    )
    language = other_language(business)
    before = PolicyDraft.of(current, language).normalised() if current is not None else None
    has_content = draft != PolicyDraft(summary="").normalised()
    if draft != before and (before is not None or has_content):
        published = publish_policy(session, business, **asdict(draft))
        old_version = current.version if current else None
        changes["policy_version"] = [old_version, published.version]
        for name in AUDITED_RULES:
            old = getattr(before, name) if before else None
            if old != getattr(draft, name):
                changes[name] = [old, getattr(draft, name)]
        for name in LONG_TEXTS:
            empty = getattr(PolicyDraft(summary=""), name)
            if (getattr(before, name) if before else empty) != getattr(draft, name):
                changes[name] = [
                    f"version {old_version}" if old_version else None,
                    f"version {published.version}",
                ]
    record_changes(session, actor, now, origin, POLICY_AREA, changes)
    session.flush()
    return changes


def _check(draft: PolicyDraft, enabled: bool, written: tuple[str, ...] = NO_TRANSLATION) -> None:
    if enabled and not draft.summary:
        raise PolicyError("summary", str(SUMMARY_MISSING))
    for field, summary in (
        ("summary", draft.summary),
        ("translated_summary", draft.translation[0]),
    ):
        if len(summary) > MAX_SUMMARY:
            raise PolicyError(
                field, _("Keep the summary to %(num)d characters at most.", num=MAX_SUMMARY)
            )
    if any(text.strip() for text in written[1:]) and not written[0].strip():
        raise PolicyError("translated_summary", str(TRANSLATED_SUMMARY_MISSING))
    for name, text, kept in zip(TRANSLATED_TEXTS, written, draft.translation, strict=True):
        if text.strip() and not kept and name != "summary":
            raise PolicyError(f"translated_{name}", str(NOTHING_LEFT))
    for prefix in ("cancel", "reschedule"):
        mode = getattr(draft, f"{prefix}_mode")
        notice = getattr(draft, f"{prefix}_notice_minutes")
        if mode not in MODES:
            raise PolicyError(f"{prefix}_mode", str(CHOOSE_MODE))
        if mode == CANCEL_UNTIL and not 1 <= notice <= MAX_NOTICE_MINUTES:
            raise PolicyError(f"{prefix}_notice", _("The notice must be 1 minute to 365 days."))


def terms_saved_message(changes: dict[str, list]) -> str:
    """What the owner reads after saving the terms: the new version, the switch."""
    version, switched_on = _new(changes, "terms_version"), _new(changes, "terms_enabled")
    return _described(
        changes,
        terms_version=_(
            "Published version %(version)s of the terms and conditions: new bookings "
            "accept it, earlier bookings keep the version their clients accepted.",
            version=version,
        ),
        terms_enabled=_("Clients must now accept the terms and conditions to book.")
        if switched_on
        else _("Switched off: clients now book without accepting the terms and conditions."),
    )


def policy_saved_message(changes: dict[str, list]) -> str:
    """What the owner reads after saving the cancellation policy: the new version, the switch."""
    version = _new(changes, "policy_version")
    switched_on = _new(changes, "cancellation_policy_enabled")
    return _described(
        changes,
        policy_version=_(
            "Published version %(version)s of the cancellation policy: new bookings "
            "accept it, earlier bookings keep the version their clients accepted.",
            version=version,
        ),
        cancellation_policy_enabled=_("Clients must now accept the cancellation policy to book.")
        if switched_on
        else _("Switched off: clients now book without accepting the cancellation policy."),
    )


def _new(changes: dict[str, list], name: str):
    return changes[name][1] if name in changes else None


def _described(changes: dict[str, list], **sentences: str) -> str:
    """The sentences of the settings that changed, in order; "Nothing changed." if none did."""
    said = " ".join(sentence for name, sentence in sentences.items() if name in changes)
    return saved_message(changes, said or saved())
