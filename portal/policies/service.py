"""Reading, wording and publishing terms and cancellation policy versions."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.audit.service import Origin, apply_changes, record_changes
from portal.businesses.models import Business
from portal.policies.models import (
    CANCEL_ANY_TIME,
    CANCEL_NEVER,
    CANCEL_UNTIL,
    FORMAT_MARKDOWN,
    CancellationPolicyVersion,
    PolicyTranslation,
    TermsTranslation,
    TermsVersion,
)
from portal.policies.rich_text import as_markdown, markdown_html
from portal.policies.summary import notice_text, summary_of
from portal.web.lazy_text import lazy_text as _l
from portal.web.messages import saved, saved_message
from portal.web.owner_texts import other_language

MODES = (CANCEL_NEVER, CANCEL_ANY_TIME, CANCEL_UNTIL)
MINUTE, HOUR, DAY = 1, 60, 24 * 60
UNITS = {"minutes": MINUTE, "hours": HOUR, "days": DAY}
#: The longest notice an owner may ask for: a year.
MAX_NOTICE_MINUTES = 365 * DAY
#: The owner's own sentence after the generated summary (the column holds up to 500).
MAX_SUMMARY = 300
MAX_TEXT = 20_000
TERMS_AREA = "terms"
POLICY_AREA = "cancellation_policy"
#: Said by the form and, for a text the sanitiser empties, by ``save_terms``.
TERMS_MISSING = _l(
    "Write the terms before switching them on: clients must be able to read what they accept."
)
CHOOSE_MODE = _l("Choose one of the three options.")
SENTENCE_TOO_LONG = _l(
    "Keep your own sentence to %(num)d characters at most; put the details in the texts below.",
    num=MAX_SUMMARY,
)
#: Said when the sanitiser leaves nothing of a translation the owner wrote.
NOTHING_LEFT = _l(
    "Nothing readable is left of this text once unsafe HTML is removed: "
    "write it as plain text, or leave it empty."
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


def source(text: str | None) -> str:
    """What the owner typed as it is stored: line ends unified, outer blank space removed."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def editable(row, field: str) -> str:
    """A version's (or translation's) text as the editor shows it: Markdown.

    A version written in HTML before issue 15 is shown as the Markdown that
    renders the same, so saving it unchanged publishes nothing new.
    """
    text = getattr(row, field) or ""
    return source(text) if row.format == FORMAT_MARKDOWN else as_markdown(text)


def publish_terms(
    session: Session, business: Business, body: str, translated_body: str = ""
) -> TermsVersion:
    """Save ``body`` (the Markdown subset) as the business's new terms version.

    ``translated_body`` is the same terms in the business's other language; it is
    published with the version and, like the version, never changed afterwards:
    a consent record names the version, and so what the client read in either language.
    """
    terms = TermsVersion(
        business_id=business.id,
        version=_next_version(session, TermsVersion, business),
        body=source(body),
        format=FORMAT_MARKDOWN,
    )
    translated_body = source(translated_body)
    if translated_body:
        terms.translations.append(
            TermsTranslation(
                locale=other_language(business), body=translated_body, format=FORMAT_MARKDOWN
            )
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
    """Save a new cancellation policy version, its texts in the Markdown subset.

    ``summary`` is the owner's own sentence after the generated summary (may be empty).
    ``translation`` holds the ``TRANSLATED_TEXTS`` in the business's other language,
    published with the version and immutable like it (all empty: no translation).
    """
    policy = CancellationPolicyVersion(
        business_id=business.id,
        version=_next_version(session, CancellationPolicyVersion, business),
        summary=" ".join(summary.split()),
        body=source(body),
        cancel_mode=cancel_mode,
        cancel_notice_minutes=cancel_notice_minutes,
        reschedule_mode=reschedule_mode,
        reschedule_notice_minutes=reschedule_notice_minutes,
        prepayment=source(prepayment),
        refunds=source(refunds),
        rebooking=source(rebooking),
        format=FORMAT_MARKDOWN,
    )
    texts = dict(zip(TRANSLATED_TEXTS, _normalised_translation(translation), strict=True))
    if any(texts.values()):
        policy.translations.append(
            PolicyTranslation(locale=other_language(business), format=FORMAT_MARKDOWN, **texts)
        )
    session.add(policy)
    session.flush()
    return policy


# -- wording ---------------------------------------------------------------------------


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
    """What the owner wrote for a cancellation policy version (texts in the Markdown subset).

    ``summary`` is the owner's own sentence shown after the generated summary.
    """

    summary: str = ""
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
        """Texts as stored, and no notice kept for a rule that has none."""
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
            body=source(self.body),
            prepayment=source(self.prepayment),
            refunds=source(self.refunds),
            rebooking=source(self.rebooking),
            translation=_normalised_translation(self.translation),
        )

    @classmethod
    def of(cls, policy: CancellationPolicyVersion, language: str = "") -> PolicyDraft:
        """The version as the editor shows it, with its translation into ``language``.

        An HTML version's texts come as Markdown and its free-text summary, which
        the generated summary replaces, as no sentence of the owner's.
        """
        row = translation_of(policy, language)
        translation = tuple(_editable_text(row, name) for name in TRANSLATED_TEXTS) if row else ()
        rules = ("cancel_mode", "cancel_notice_minutes", "reschedule_mode")
        return cls(
            **{name: getattr(policy, name) for name in (*rules, "reschedule_notice_minutes")},
            summary=_editable_text(policy, "summary"),
            **{name: _editable_text(policy, name) for name in SECTIONS},
            translation=translation or NO_TRANSLATION,
        )

    def rendered(self) -> dict[str, str]:
        """The long texts as safe HTML, for a preview."""
        return {name: markdown_html(getattr(self, name)) for name in SECTIONS}

    def rendered_translation(self) -> dict[str, str]:
        """The translated long texts as safe HTML, for a preview."""
        texts = dict(zip(TRANSLATED_TEXTS, self.translation, strict=True))
        # A text left empty shows the original, as on the clients' pages.
        return {name: markdown_html(texts[name] or getattr(self, name)) for name in SECTIONS}


def _editable_text(row, name: str) -> str:
    if name == "summary":
        return " ".join(row.summary.split()) if row.format == FORMAT_MARKDOWN else ""
    return editable(row, name)


def _normalised_translation(texts: tuple[str, ...]) -> tuple[str, ...]:
    """The sentence on one line, the texts as stored; all empty when nothing was written."""
    summary, *rest = texts
    return (" ".join((summary or "").split()), *(source(text) for text in rest))


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
#: The long texts in the order the policy page shows them.
SECTIONS = ("prepayment", "refunds", "rebooking", "body")


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
    body, translated = source(body), source(translated_body)
    if enabled and not markdown_html(body):
        raise PolicyError("body", str(TERMS_MISSING))
    if translated and not markdown_html(translated):
        raise PolicyError("translated_body", str(NOTHING_LEFT))
    current = current_terms(session, business)
    changes = apply_changes(business, {"terms_enabled": enabled}, ["terms_enabled"])
    before = translation_of(current, other_language(business)) if current else None
    changed = current is None or editable(current, "body") != body
    changed = changed or (editable(before, "body") if before else "") != translated
    # An emptied text is not a version: the last one stays for the bookings that name it.
    if body and changed:
        published = publish_terms(session, business, body, translated)
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
    draft = draft.normalised()
    check_draft(draft)
    current = current_policy(session, business)
    changes = apply_changes(
        business, {"cancellation_policy_enabled": enabled}, ["cancellation_policy_enabled"]
    )
    language = other_language(business)
    before = PolicyDraft.of(current, language).normalised() if current is not None else None
    has_content = draft != PolicyDraft().normalised()
    if draft != before and (before is not None or has_content):
        published = publish_policy(session, business, **asdict(draft))
        old_version = current.version if current else None
        changes["policy_version"] = [old_version, published.version]
        for name in AUDITED_RULES:
            old = getattr(before, name) if before else None
            if old != getattr(draft, name):
                changes[name] = [old, getattr(draft, name)]
        for name in LONG_TEXTS:
            empty = getattr(PolicyDraft().normalised(), name)
            if (getattr(before, name) if before else empty) != getattr(draft, name):
                changes[name] = [
                    f"version {old_version}" if old_version else None,
                    f"version {published.version}",
                ]
    record_changes(session, actor, now, origin, POLICY_AREA, changes)
    session.flush()
    return changes


def check_draft(draft: PolicyDraft) -> None:
    """Refuse a draft the rules do not allow (``draft`` normalised); raises ``PolicyError``."""
    for field, summary in (
        ("summary", draft.summary),
        ("translated_summary", draft.translation[0]),
    ):
        if len(summary) > MAX_SUMMARY:
            raise PolicyError(field, str(SENTENCE_TOO_LONG))
    for name, text in zip(TRANSLATED_TEXTS, draft.translation, strict=True):
        if text and name != "summary" and not markdown_html(text):
            raise PolicyError(f"translated_{name}", str(NOTHING_LEFT))
    for prefix in ("cancel", "reschedule"):
        mode = getattr(draft, f"{prefix}_mode")
        notice = getattr(draft, f"{prefix}_notice_minutes")
        if mode not in MODES:
            raise PolicyError(f"{prefix}_mode", str(CHOOSE_MODE))
        if mode == CANCEL_UNTIL and not 1 <= notice <= MAX_NOTICE_MINUTES:
            raise PolicyError(f"{prefix}_notice", _("The notice must be 1 minute to 365 days."))


@dataclass(frozen=True)
class Preview:
    """What clients would read in one language: the summary (policies) and the texts as HTML."""

    language: str
    summary: str
    texts: dict[str, str]


def preview_terms(business: Business, body: str, translated_body: str) -> list[Preview]:
    """The terms as they would read, in the business's language and, if written, the other."""
    previews = [Preview(business.locale, "", {"body": markdown_html(body)})]
    if source(translated_body):
        previews.append(
            Preview(other_language(business), "", {"body": markdown_html(translated_body)})
        )
    return previews


def preview_policy(business: Business, draft: PolicyDraft) -> list[Preview]:
    """The policy as it would read (summary generated from the draft's rules), per language.

    Refuses what saving would refuse (``PolicyError``); saves nothing.
    """
    draft = draft.normalised()
    check_draft(draft)
    language = other_language(business)
    with force_locale(business.locale):
        previews = [Preview(business.locale, summary_of(draft, draft.summary), draft.rendered())]
    if any(draft.translation):
        with force_locale(language):
            sentence = draft.translation[0] or draft.summary
            previews.append(
                Preview(language, summary_of(draft, sentence), draft.rendered_translation())
            )
    return previews


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
