"""Forms shared across features."""

from flask_wtf import FlaskForm


class EmptyForm(FlaskForm):
    """A state-changing button: no fields, but CSRF-protected."""
