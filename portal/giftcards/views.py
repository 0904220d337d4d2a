"""The owner's gift card pages: switch the feature, issue cards, see balances and history."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _

from portal.accounts.current import origin, owner_required, staff_required
from portal.clock import utcnow
from portal.db import writes
from portal.extensions import db
from portal.features import GIFT_CARDS, REGISTRY, is_on
from portal.giftcards import service as giftcards
from portal.giftcards.forms import IssueForm, RefundRuleForm, SwitchForm, VoidForm
from portal.staff.guards import pending_step_redirect
from portal.staff.pages import staff_business
from portal.web.lazy_text import lazy_text as _l
from portal.web.messages import saved_message

blueprint = Blueprint("giftcards", __name__, url_prefix="/staff/gift-cards")
blueprint.before_request(pending_step_redirect)

NO_CARD = _l("There is no such gift card at this business.")


@blueprint.get("/")
@staff_required
def list_cards():
    return _render()


@blueprint.post("/switch")
@writes
@owner_required
def switch():
    form = SwitchForm()
    if not form.validate_on_submit():
        return _render(switch_form=form, status=422)
    try:
        changed = giftcards.switch_gift_cards(
            db.session,
            staff_business(),
            g.staff,
            form.turning_on,
            utcnow(),
            origin(),
            confirmed=form.confirm.data,
        )
    except giftcards.ConfirmationNeeded as needed:
        return _confirm_off_page(needed.cards, str(needed))
    except giftcards.GiftCardError as refused:
        return _render(switch_form=form, status=409, error=str(refused))
    flash(
        saved_message(
            changed, _("Gift cards are on.") if form.turning_on else _("Gift cards are off.")
        )
    )
    return redirect(url_for("giftcards.list_cards"), code=303)


@blueprint.post("/issue")
@writes
@owner_required
def issue():
    form = IssueForm()
    if not form.validate_on_submit():
        return _render(issue_form=form, status=422)
    try:
        card = giftcards.issue_card(
            db.session,
            staff_business(),
            g.staff,
            form.value_cents,
            form.expires_on.data,
            utcnow(),
            origin(),
            code=form.code.data or "",
            note=form.note.data or "",
        )
    except giftcards.GiftCardError as refused:
        return _render(issue_form=form, status=409, error=str(refused))
    flash(_("Gift card %(code)s issued.", code=giftcards.display_code(card.code)))
    return redirect(url_for("giftcards.show_card", card_id=card.id), code=303)


@blueprint.get("/switch-off")
@owner_required
def confirm_off():
    business = staff_business()
    return _confirm_off_page(
        giftcards.cards_with_balance(db.session, business, utcnow()), status=200
    )


@blueprint.post("/refunds")
@writes
@owner_required
def refund_rule():
    form = RefundRuleForm()
    if not form.validate_on_submit():
        return _render(refund_form=form, status=422)
    changed = giftcards.set_refund_rule(
        db.session, staff_business(), g.staff, form.refund_on_cancel.data, utcnow(), origin()
    )
    flash(saved_message(changed, _("The refund rule is saved.")))
    return redirect(url_for("giftcards.list_cards"), code=303)


@blueprint.get("/<int:card_id>")
@staff_required
def show_card(card_id: int):
    return _card_page(_card_or_404(card_id))


@blueprint.post("/<int:card_id>/void")
@writes
@owner_required
def void(card_id: int):
    card, form = _card_or_404(card_id), VoidForm()
    if not form.validate_on_submit():
        return _card_page(card, void_form=form, status=422)
    try:
        giftcards.void_card(
            db.session, staff_business(), card, g.staff, form.reason.data, utcnow(), origin()
        )
    except giftcards.AlreadyVoid as refused:
        return _card_page(card, status=409, error=str(refused))
    except giftcards.GiftCardError as refused:
        return _card_page(card, void_form=form, status=422, error=str(refused))
    flash(_("Gift card %(code)s is void.", code=giftcards.display_code(card.code)))
    return redirect(url_for("giftcards.show_card", card_id=card.id), code=303)


def _card_or_404(card_id: int):
    return giftcards.find_card(db.session, g.staff.business_id, card_id) or abort(404, NO_CARD)


def _card_page(card, *, void_form=None, status=200, error=None):
    return render_template(
        "giftcards/card.html",
        business=staff_business(),
        card=card,
        history=giftcards.card_history(db.session, card),
        display_code=giftcards.display_code,
        void_form=void_form or VoidForm(formdata=None),
        error=error,
    ), status


def _confirm_off_page(cards, error=None, status=409):
    """The cards that hold a balance and what switching off means for them."""
    if not cards:
        return redirect(url_for("giftcards.list_cards"), code=303)
    return render_template(
        "giftcards/confirm_off.html",
        business=staff_business(),
        cards=cards,
        display_code=giftcards.display_code,
        form=SwitchForm(formdata=None, state="off"),
        error=error,
    ), status


def _render(*, switch_form=None, issue_form=None, refund_form=None, status=200, error=None):
    """The gift card list, with the forms as submitted and a refusal (409) if there was one."""
    business = staff_business()
    enabled = is_on(db.session, business.id, GIFT_CARDS)
    return render_template(
        "giftcards/list.html",
        business=business,
        enabled=enabled,
        features=list(REGISTRY.values()),
        cards=giftcards.list_cards(db.session, business.id),
        display_code=giftcards.display_code,
        switch_form=switch_form or SwitchForm(formdata=None, state="on" if enabled else "off"),
        issue_form=issue_form or IssueForm(formdata=None),
        refund_form=refund_form
        or RefundRuleForm(
            formdata=None,
            refund_on_cancel=giftcards.gift_card_settings(db.session, business.id).refund_on_cancel,
        ),
        error=error,
    ), status
