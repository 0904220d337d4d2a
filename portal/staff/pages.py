"""What the staff area's views share: the signed-in user's business and rows, form pages.

The views stay a few lines long: they look up what the URL names here, call
one domain function, and let ``refusals_shown_on`` (or ``refusals_flashed``)
turn the domain's refusal into a message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial

from flask import abort, flash, g, render_template
from flask_wtf import FlaskForm

from portal.businesses.models import Business
from portal.db import MAX_ID
from portal.extensions import db
from portal.web.forms import EmptyForm, form_status


def staff_business() -> Business:
    """The business of the signed-in staff user."""
    return db.session.get(Business, g.staff.business_id)


def owned_or_404(model, row_id: int, message: str):
    """The row of the signed-in user's business with this id, or a 404 saying ``message``."""
    row = db.session.get(model, row_id) if 0 < row_id <= MAX_ID else None
    if row is None or row.business_id != g.staff.business_id:
        abort(404, description=message)
    return row


def require_button(form: FlaskForm | None = None) -> FlaskForm:
    """The submitted button's form (CSRF checked), or a 400."""
    form = form if form is not None else EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    return form


def form_page(template: str, *, form: FlaskForm, **context):
    """Render the page of ``form``: 422 when the submitted form was refused."""
    return render_template(template, form=form, **context), form_status(form)


def refusals_shown_on(
    form: FlaskForm, *errors: type[Exception], field: str | None = None
) -> AbstractContextManager[None]:
    """Run a domain change; if it raises one of ``errors``, undo it and show why on ``form``.

    The message goes under the field the error names (its ``field``, else
    ``field``) or above the form. The view goes on after the ``with`` block,
    usually to ``form_page`` (422).
    """
    return _undone_on(errors, partial(_show_on, form, field))


def refusals_flashed(*errors: type[Exception], category: str = "message"):
    """Run a domain change; if it raises one of ``errors``, undo it and flash why."""
    return _undone_on(errors, lambda error: flash(str(error), category))


@contextmanager
def _undone_on(
    errors: tuple[type[Exception], ...], refused: Callable[[Exception], object]
) -> Iterator[None]:
    """The change runs in a savepoint, so a refusal leaves nothing for the request's commit."""
    try:
        with db.session.begin_nested():
            yield
    except errors as error:
        refused(error)


def _show_on(form: FlaskForm, field: str | None, error: Exception) -> None:
    name = getattr(error, "field", None) or field
    target = getattr(form, name, None) if name else None
    if target is not None:
        target.errors = [*target.errors, str(error)]  # a tuple until the field is validated
    else:
        form.form_errors.append(str(error))
