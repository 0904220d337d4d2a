"""The owner's form for the sites allowed to embed the portal."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length

from portal.embedding.service import InvalidOrigins, parse_origins
from portal.web.lazy_text import lazy_text as _l


class EmbeddingForm(FlaskForm):
    embed_origins = TextAreaField(
        _l("Sites allowed to embed the booking pages"),
        validators=[Length(max=10_000, message=_l("That list is too long."))],
    )

    def validate_embed_origins(self, field) -> None:
        """Every line must be one site; each problem gets its own message."""
        try:
            self.origins = parse_origins(field.data or "")
        except InvalidOrigins as invalid:
            field.errors.extend(invalid.problems)
