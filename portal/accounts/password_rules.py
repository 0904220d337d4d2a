"""The owner's password rules and the check that explains which one failed."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import gettext as _
from zxcvbn import zxcvbn

from portal.accounts.passwords import normalise

ABSOLUTE_MIN_LENGTH = 8
MAX_LENGTH = 1024
#: zxcvbn's cost grows with length and it refuses more than 72 characters; a
#: password this long is strong by length alone.
STRENGTH_SAMPLE = 72
STRENGTH_WORDS = ("very weak", "weak", "fair", "strong", "very strong")
#: zxcvbn's "strong": "Password1234!!" and "Aaaaaaaaaaaaa1!" score only 2 (fair).
DEFAULT_MIN_STRENGTH = 3
#: A word of the business name or the e-mail name this long is refused inside a password.
MIN_NAME_WORD = 4
#: Runs of letters and digits (any script): "Praxis Lindenblatt" -> praxis, lindenblatt.
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class PasswordRules:
    min_length: int = 12
    require_upper: bool = False
    require_digit: bool = False
    require_special: bool = False
    min_strength: int = DEFAULT_MIN_STRENGTH

    @classmethod
    def from_settings(cls, settings) -> PasswordRules:
        return cls(
            min_length=max(settings.password_min_length, ABSOLUTE_MIN_LENGTH),
            require_upper=settings.password_require_upper,
            require_digit=settings.password_require_digit,
            require_special=settings.password_require_special,
            min_strength=settings.password_min_strength,
        )

    def describe(self) -> list[str]:
        """The rules in words, for the form that asks for a new password."""
        rules = [_("at least %(num)d characters", num=self.min_length)]
        if self.require_upper:
            rules.append(_("an uppercase letter"))
        if self.require_digit:
            rules.append(_("a digit"))
        if self.require_special:
            rules.append(_("a special character (not a letter or digit)"))
        if self.min_strength:
            rules.append(_strength_rule(self.min_strength))
        rules.append(
            _(
                "not containing your e-mail name, the business name, "
                "or any of their words of 4 or more characters"
            )
        )
        return rules


def _strength_rule(strength: int) -> str:
    """The strength rule in words ("fair or better (hard to guess)"), one message per score."""
    return {
        1: _("weak or better (hard to guess)"),
        2: _("fair or better (hard to guess)"),
        3: _("strong or better (hard to guess)"),
        4: _("very strong or better (hard to guess)"),
    }.get(strength, f"{STRENGTH_WORDS[strength]} or better (hard to guess)")


def _too_weak(score: int) -> str:
    """Why a password scored ``score`` is refused, one message per score."""
    return {
        0: _(
            "This password is very weak: it would be easy to guess. "
            "Try a longer phrase of unrelated words."
        ),
        1: _(
            "This password is weak: it would be easy to guess. "
            "Try a longer phrase of unrelated words."
        ),
        2: _(
            "This password is fair: it would be easy to guess. "
            "Try a longer phrase of unrelated words."
        ),
        3: _(
            "This password is strong: it would be easy to guess. "
            "Try a longer phrase of unrelated words."
        ),
    }[score]


def password_problems(
    password: str, rules: PasswordRules, *, email: str, business_name: str
) -> list[str]:
    """Every rule ``password`` breaks, each as a message for the person typing it."""
    password = normalise(password)
    problems = []
    if len(password) < rules.min_length:
        problems.append(_("Use at least %(num)d characters.", num=rules.min_length))
    if len(password) > MAX_LENGTH:
        problems.append(_("Use at most %(max)d characters.", max=MAX_LENGTH))
    if rules.require_upper and not any(ch.isupper() for ch in password):
        problems.append(_("Include at least one uppercase letter."))
    if rules.require_digit and not any(ch.isdigit() for ch in password):
        problems.append(_("Include at least one digit."))
    if rules.require_special and not any(not ch.isalnum() for ch in password):
        problems.append(_("Include at least one special character, such as ! or #."))
    folded = password.casefold()
    email_name = email.split("@", 1)[0].casefold()
    if len(email_name) >= 3 and email_name in folded:
        problems.append(_("Do not use your e-mail name in your password."))
    else:
        problems.extend(
            _('Do not use "%(word)s" from your e-mail address in your password.', word=word)
            for word in name_words(email_name)
            if word in folded
        )
    business = _compact(business_name.casefold())
    # Very short names ("A&B") would refuse far too many passwords; like the
    # e-mail name, a business name counts from three letters or digits.
    if len(business) >= 3 and business in _compact(folded):
        problems.append(_("Do not use the business name in your password."))
    else:
        problems.extend(
            _('Do not use "%(word)s" from the business name in your password.', word=word)
            for word in name_words(business_name)
            if word in folded
        )
    if rules.min_strength and not problems:
        user_inputs = [email, business_name, *name_words(email_name), *name_words(business_name)]
        score = zxcvbn(password[:STRENGTH_SAMPLE], user_inputs=user_inputs)["score"]
        if score < rules.min_strength:
            problems.append(_too_weak(score))
    return problems


def name_words(name: str) -> list[str]:
    """The words of ``name`` a password may not contain: 4 or more letters or digits, folded.

    "Praxis Lindenblatt" gives praxis and lindenblatt; "anna.weber" anna and weber.
    """
    words = _WORD.findall(normalise(name).casefold())
    return list(dict.fromkeys(word for word in words if len(word) >= MIN_NAME_WORD))


def _compact(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum())
