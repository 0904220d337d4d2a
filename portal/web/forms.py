"""Forms shared across features."""

from flask_wtf import FlaskForm


class EmptyForm(FlaskForm):
    """A state-changing button: no fields, but CSRF-protected."""


def strip_blanks(value: str | None) -> str:
    """A form filter: text without surrounding blanks; a field the browser did not send is empty."""
    return (value or "").strip()
