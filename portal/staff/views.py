"""Staff area pages: dashboard, security settings, team, locked accounts, audit log."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from portal.accounts import service as accounts
from portal.accounts import tokens
from portal.accounts.current import origin, owner_required, staff_required
from portal.accounts.forms import ConfirmWithPasswordForm, InviteForm, SecuritySettingsForm
from portal.accounts.models import CLIENT_KIND, INVITE, ClientAccount, StaffUser
from portal.accounts.notifications import absolute_url, send_account_mail
from portal.audit import service as audit
from portal.audit.views import parse_filter as parse_audit_filter
from portal.businesses.models import Business
from portal.clock import utcnow
from portal.extensions import db
from portal.hipaa.service import hipaa_on
from portal.schedule.views import render_dashboard
from portal.staff.guards import pending_step_redirect
from portal.web.forms import EmptyForm

blueprint = Blueprint("staff", __name__, url_prefix="/staff")


@blueprint.before_request
def _require_pending_steps():
    return pending_step_redirect()


def hipaa_allows(form, business_id: int) -> bool:
    """In HIPAA mode the idle timeout may not exceed 15 minutes."""
    if hipaa_on(db.session, business_id) and form.idle_timeout_minutes.data > 15:
        form.idle_timeout_minutes.errors.append(
            _("HIPAA mode is on: staff must be signed out after at most 15 idle minutes.")
        )
        return False
    return True


def _business() -> Business:
    return db.session.get(Business, g.staff.business_id)


@blueprint.get("/")
@staff_required
def dashboard():
    return render_dashboard()


@blueprint.route("/security", methods=["GET", "POST"])
@owner_required
def security():
    business = _business()
    settings = accounts.security_settings(db.session, business.id)
    form = SecuritySettingsForm(obj=settings)
    if form.validate_on_submit() and hipaa_allows(form, business.id):
        values = {field: getattr(form, field).data for field in settings.EDITABLE}
        changes = accounts.save_security_settings(db.session, g.staff, values, utcnow(), origin())
        db.commit()
        flash(_("Saved %(num)d change(s).", num=len(changes)) if changes else _("Nothing changed."))
        return redirect(url_for("staff.security"))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "staff/security.html",
        business=business,
        form=form,
        locked=accounts.locked_accounts(db.session, business.id, utcnow()),
        unlock_form=EmptyForm(),
    ), status


@blueprint.post("/security/unlock/<kind>/<int:account_id>")
@owner_required
def unlock(kind: str, account_id: int):
    model = ClientAccount if kind == CLIENT_KIND else StaffUser if kind == "staff" else None
    account = db.session.get(model, account_id) if model else None
    if account is None or account.business_id != g.staff.business_id:
        abort(404, description=_("There is no such account at this business."))
    if not EmptyForm().validate_on_submit():
        abort(400)
    accounts.unlock_account(db.session, g.staff, account, utcnow(), origin())
    db.commit()
    flash(_("%(email)s is unlocked.", email=account.email))
    return redirect(url_for("staff.security"))


@blueprint.route("/team", methods=["GET", "POST"])
@owner_required
def team():
    business = _business()
    form = InviteForm()
    if form.validate_on_submit():
        now = utcnow()
        try:
            user = accounts.create_staff_user(
                db.session,
                business,
                email=form.email.data,
                password=None,
                role=form.role.data,
                name=form.name.data,
            )
        except accounts.AccountError as error:
            form.email.errors.append(str(error))
        else:
            token = tokens.issue(db.session, user, INVITE, now, tokens.INVITE_LIFETIME)
            audit.record(
                db.session,
                audit.STAFF_INVITED,
                now,
                business_id=business.id,
                actor=g.staff,
                origin=origin(),
                invited=user.email,
                role=user.role,
            )
            # The new member chose no language yet: the business's own.
            with force_locale(business.locale):
                send_account_mail(
                    user,
                    _("You are invited to %(business)s", business=business.name),
                    "accounts/email/invite.txt",
                    business=business,
                    url=absolute_url(url_for("staff_auth.accept_invite", token=token)),
                    days=tokens.INVITE_LIFETIME.days,
                )
            db.commit()
            flash(_("Invitation sent to %(email)s.", email=user.email))
            return redirect(url_for("staff.team"))
    members = db.session.scalars(
        select(StaffUser).where(StaffUser.business_id == business.id).order_by(StaffUser.email)
    ).all()
    status = 422 if request.method == "POST" else 200
    return render_template(
        "staff/team.html",
        business=business,
        form=form,
        members=members,
        confirm_form=ConfirmWithPasswordForm(),
    ), status


@blueprint.post("/team/<int:user_id>/reset-2fa")
@owner_required
def reset_2fa(user_id: int):
    user = db.session.get(StaffUser, user_id)
    if user is None or user.business_id != g.staff.business_id:
        abort(404, description=_("There is no such staff member at this business."))
    form = ConfirmWithPasswordForm()
    if not form.validate_on_submit():
        flash(_("Enter your password to confirm the reset."))
        return redirect(url_for("staff.team")), 303
    try:
        accounts.reset_2fa(db.session, g.staff, user, form.password.data, utcnow(), origin())
    except accounts.AccountError as error:
        db.session.rollback()
        flash(str(error))
        return redirect(url_for("staff.team")), 303
    business = _business()
    # Sent by the owner to someone else: in the business's language, not the owner's choice.
    with force_locale(business.locale):
        send_account_mail(
            user,
            _("Your two-factor sign-in was reset"),
            "accounts/email/2fa_reset.txt",
            business=business,
        )
    db.commit()
    flash(
        _(
            "Two-factor sign-in of %(email)s is reset; their sessions are signed out.",
            email=user.email,
        )
    )
    return redirect(url_for("staff.team")), 303


@blueprint.get("/audit")
@owner_required
def audit_log():
    business = _business()
    chosen = parse_audit_filter()
    events = audit.events_for(db.session, business.id, **chosen.query_args(business))
    labels = db.session.scalars(
        select(StaffUser.email)
        .where(StaffUser.business_id == business.id)
        .order_by(StaffUser.email)
    ).all()
    return render_template(
        "staff/audit.html",
        business=business,
        events=events,
        kinds=audit.KINDS,
        kind_labels=audit.KIND_LABELS,
        actor_labels=audit.ACTOR_KIND_LABELS,
        kind=chosen.kind,
        user=chosen.user,
        users=labels,
        chosen=chosen,
    )
