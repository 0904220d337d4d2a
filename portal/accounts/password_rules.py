"""The owner's password rules and the check that explains which one failed."""

from __future__ import annotations

from dataclasses import dataclass

from zxcvbn import zxcvbn

from portal.accounts.passwords import normalise

ABSOLUTE_MIN_LENGTH = 8
MAX_LENGTH = 1024
#: zxcvbn's cost grows with length and it refuses more than 72 characters; a
#: password this long is strong by length alone.
STRENGTH_SAMPLE = 72
STRENGTH_WORDS = ("very weak", "weak", "fair", "strong", "very strong")


@dataclass(frozen=True)
class PasswordRules:
    min_length: int = 12
    require_upper: bool = False
    require_digit: bool = False
    require_special: bool = False
    min_strength: int = 2

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
        rules = [f"at least {self.min_length} characters"]
        if self.require_upper:
            rules.append("an uppercase letter")
        if self.require_digit:
            rules.append("a digit")
        if self.require_special:
            rules.append("a special character (not a letter or digit)")
        if self.min_strength:
            rules.append(f"{STRENGTH_WORDS[self.min_strength]} or better (hard to guess)")
        rules.append("not containing your e-mail name or the business name")
        return rules


def password_problems(
    password: str, rules: PasswordRules, *, email: str, business_name: str
) -> list[str]:
    """Every rule ``password`` breaks, each as a message for the person typing it."""
    password = normalise(password)
    problems = []
    if len(password) < rules.min_length:
        problems.append(f"Use at least {rules.min_length} characters.")
    if len(password) > MAX_LENGTH:
        problems.append(f"Use at most {MAX_LENGTH} characters.")
    if rules.require_upper and not any(ch.isupper() for ch in password):
        problems.append("Include at least one uppercase letter.")
    if rules.require_digit and not any(ch.isdigit() for ch in password):
        problems.append("Include at least one digit.")
    if rules.require_special and not any(not ch.isalnum() for ch in password):
        problems.append("Include at least one special character, such as ! or #.")
    folded = password.casefold()
    email_name = email.split("@", 1)[0].casefold()
    if len(email_name) >= 3 and email_name in folded:
        problems.append("Do not use your e-mail name in your password.")
    business = _compact(business_name.casefold())
    # Very short names ("A&B") would refuse far too many passwords; like the
    # e-mail name, a business name counts from three letters or digits.
    if len(business) >= 3 and business in _compact(folded):
        problems.append("Do not use the business name in your password.")
    if rules.min_strength and not problems:
        score = zxcvbn(password[:STRENGTH_SAMPLE], user_inputs=[email, business_name])["score"]
        if score < rules.min_strength:
            problems.append(
                f"This password is {STRENGTH_WORDS[score]}: it would be easy to guess. "
                "Try a longer phrase of unrelated words."
            )
    return problems


def _compact(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum())
