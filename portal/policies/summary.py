"""The cancellation policy's summary, written from its rules in the reader's language.

Clients read it above the confirm button, in e-mails and on the policy page.
Because it is generated from the version's rules it can never contradict
them; the owner may add one sentence of their own (``summary`` of a Markdown
version and of its translations), shown after it. Versions written before
issue 15 held a free-text summary: it is kept for the record, not shown.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import ngettext

from portal.policies.models import CANCEL_ANY_TIME, CANCEL_NEVER, CANCEL_UNTIL, FORMAT_MARKDOWN
from portal.web.owner_texts import translated


def notice_text(minutes: int) -> str:
    """``90`` -> "90 minutes", ``60`` -> "1 hour", ``2880`` -> "2 days"."""
    number, unit = split_notice(minutes)
    if unit == "days":
        return ngettext("%(num)d day", "%(num)d days", number)
    if unit == "hours":
        return ngettext("%(num)d hour", "%(num)d hours", number)
    return ngettext("%(num)d minute", "%(num)d minutes", number)


def split_notice(minutes: int) -> tuple[int, str]:
    """A notice as a number and unit that read naturally: 1440 is 24 hours, 2880 is 2 days."""
    day, hour = 24 * 60, 60
    if minutes >= 2 * day and minutes % day == 0:
        return minutes // day, "days"
    if minutes >= hour and minutes % hour == 0:
        return minutes // hour, "hours"
    return minutes, "minutes"


def rules_sentence(rules) -> str:
    """The cancel and reschedule rules of ``rules`` (a version or a draft) as one or two sentences."""
    cancel, move = rules.cancel_mode, rules.reschedule_mode
    same = cancel == move and (
        cancel != CANCEL_UNTIL or rules.cancel_notice_minutes == rules.reschedule_notice_minutes
    )
    if same:
        if cancel == CANCEL_NEVER:
            return _(
                "Bookings cannot be cancelled or moved online: please contact us to change one."
            )
        if cancel == CANCEL_ANY_TIME:
            return _("You can cancel or move your booking online any time before it starts.")
        return _(
            "You can cancel or move your booking online until %(notice)s before it starts; "
            "after that, it can no longer be cancelled or moved online.",
            notice=notice_text(rules.cancel_notice_minutes),
        )
    return f"{_cancel_sentence(rules)} {_move_sentence(rules)}"


def _cancel_sentence(rules) -> str:
    if rules.cancel_mode == CANCEL_NEVER:
        return _("Bookings cannot be cancelled online: please contact us to cancel.")
    if rules.cancel_mode == CANCEL_ANY_TIME:
        return _("You can cancel your booking online any time before it starts.")
    return _(
        "You can cancel your booking online until %(notice)s before it starts; "
        "later cancellations are not possible online.",
        notice=notice_text(rules.cancel_notice_minutes),
    )


def _move_sentence(rules) -> str:
    if rules.reschedule_mode == CANCEL_NEVER:
        return _("The time cannot be changed online.")
    if rules.reschedule_mode == CANCEL_ANY_TIME:
        return _("You can change the time online any time before the appointment starts.")
    return _(
        "You can change the time online until %(notice)s before the appointment.",
        notice=notice_text(rules.reschedule_notice_minutes),
    )


def own_sentence(policy, language: str | None = None) -> str:
    """The owner's own sentence in ``language`` (default: the page's); none for old versions."""
    if policy.format != FORMAT_MARKDOWN:
        return ""
    return translated(policy, "summary", language).strip()


def summary_of(rules, sentence: str = "") -> str:
    """The generated summary of ``rules`` followed by the owner's ``sentence``."""
    return " ".join(part for part in (rules_sentence(rules), sentence.strip()) if part)


def policy_summary(policy) -> str:
    """The summary clients read in the page's language (template filter ``policy_summary``)."""
    return summary_of(policy, own_sentence(policy))
