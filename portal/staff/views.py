"""Staff area pages: dashboard, security settings, team, locked accounts, audit log."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _

from portal.accounts import passkeys
from portal.accounts import service as accounts
from portal.accounts.current import origin, owner_required, staff_required
from portal.accounts.forms import ConfirmWithPasswordForm, InviteForm
from portal.accounts.models import (
    CLIENT_KIND,
    PASSKEYS_OPTIONAL,
    STAFF_KIND,
    ClientAccount,
    StaffUser,
)
from portal.audit import service as audit
from portal.audit.filters import parse_filter as parse_audit_filter
from portal.audit.sentences import readable as readable_events
from portal.clock import utcnow
from portal.db import writes
from portal.extensions import db
from portal.hipaa.service import hipaa_on
from portal.messages.service import failed_count
from portal.schedule import service as schedule
from portal.schedule.chart import weekly_chart
from portal.schedule.forms import DeclineForm
from portal.staff import mailing, notification_prefs
from portal.staff import service as team_service
from portal.staff.forms import StaffSecurityForm
from portal.staff.guards import pending_step_redirect
from portal.staff.navigation import staff_area
from portal.staff.notification_forms import NotificationsForm
from portal.staff.pages import (
    form_page,
    owned_or_404,
    refusals_flashed,
    refusals_shown_on,
    require_button,
    staff_business,
)
from portal.web.forms import EmptyForm
from portal.web.lazy_text import lazy_text as _l
from portal.web.messages import saved_message

blueprint = Blueprint("staff", __name__, url_prefix="/staff")
blueprint.before_request(pending_step_redirect)
blueprint.add_app_template_global(staff_area)

NO_ACCOUNT = _l("There is no such account at this business.")
NO_STAFF_MEMBER = _l("There is no such staff member at this business.")
#: The accounts an owner may unlock, by the kind named in the URL.
LOCKABLE = {CLIENT_KIND: ClientAccount, STAFF_KIND: StaffUser}


@blueprint.get("/")
@staff_required
def dashboard():
    business = staff_business()
    board = schedule.dashboard(db.session, business, utcnow())
    return render_template(
        "schedule/dashboard.html",
        business=business,
        user=g.staff,
        board=board,
        chart=weekly_chart(board.weeks),
        form=DeclineForm(),
        failed_messages=failed_count(db.session, business.id),
    )


@blueprint.route("/security", methods=["GET", "POST"])
@writes
@owner_required
def security():
    business = staff_business()
    settings = accounts.security_settings(db.session, business.id)
    form = StaffSecurityForm(
        obj=settings,
        hipaa=hipaa_on(db.session, business.id),
        passkeys_possible=passkeys.RelyingParty.from_base_url(current_app.config["BASE_URL"])
        is not None,
    )
    if form.validate_on_submit():
        changes = accounts.save_security_settings(
            db.session, g.staff, form.values(), utcnow(), origin()
        )
        flash(saved_message(changes))
        if "passkey_policy" in changes and form.passkey_policy.data != PASSKEYS_OPTIONAL:
            flash(_passkey_policy_note(g.staff))
        return redirect(url_for("staff.security"))
    return form_page(
        "staff/security.html",
        business=business,
        form=form,
        locked=accounts.locked_accounts(db.session, business.id, utcnow()),
        unlock_form=EmptyForm(),
    )


def _passkey_policy_note(owner: StaffUser) -> str:
    """What requiring passkeys (for owners or all staff: the owner too) means next."""
    if not owner.has_passkey:
        return _(
            "Passkeys are now required, and you have none yet: add one now on the Passkeys "
            "page. Until you have one, the staff area opens only there and on this Security "
            "page, where you can set the rule back."
        )
    return _(
        "Staff who must use a passkey and have none are asked to add one before anything else "
        "in the staff area."
    )


@blueprint.post("/security/unlock/<kind>/<int:account_id>")
@writes
@owner_required
def unlock(kind: str, account_id: int):
    if kind not in LOCKABLE:
        abort(404, description=NO_ACCOUNT)
    account = owned_or_404(LOCKABLE[kind], account_id, NO_ACCOUNT)
    require_button()
    accounts.unlock_account(db.session, g.staff, account, utcnow(), origin())
    flash(_("%(email)s is unlocked.", email=account.email))
    return redirect(url_for("staff.security"))


@blueprint.route("/team", methods=["GET", "POST"])
@writes
@owner_required
def team():
    business = staff_business()
    form = InviteForm()
    if form.validate_on_submit():
        with refusals_shown_on(form, accounts.AccountError, field="email"):
            user, token = team_service.invite(
                db.session,
                business,
                g.staff,
                email=form.email.data,
                name=form.name.data,
                role=form.role.data,
                now=utcnow(),
                origin=origin(),
            )
            mailing.send_invitation(business, user, token)
            flash(_("Invitation sent to %(email)s.", email=user.email))
            return redirect(url_for("staff.team"))
    return form_page(
        "staff/team.html",
        business=business,
        form=form,
        members=team_service.team_of(db.session, business.id),
        confirm_form=ConfirmWithPasswordForm(),
    )


@blueprint.post("/team/<int:user_id>/reset-2fa")
@writes
@owner_required
def reset_2fa(user_id: int):
    user = owned_or_404(StaffUser, user_id, NO_STAFF_MEMBER)
    form = ConfirmWithPasswordForm()
    if not form.validate_on_submit():
        flash(_("Enter your password to confirm the reset."))
    else:
        with refusals_flashed(accounts.AccountError):
            accounts.reset_2fa(db.session, g.staff, user, form.password.data, utcnow(), origin())
            mailing.send_2fa_reset(staff_business(), user)
            flash(
                _(
                    "Two-factor sign-in of %(email)s is reset; their sessions are signed out.",
                    email=user.email,
                )
            )
    return redirect(url_for("staff.team")), 303


@blueprint.post("/team/<int:user_id>/reset-passkeys")
@writes
@owner_required
def reset_passkeys(user_id: int):
    user = owned_or_404(StaffUser, user_id, NO_STAFF_MEMBER)
    form = ConfirmWithPasswordForm()
    if not form.validate_on_submit():
        flash(_("Enter your password to confirm the reset."))
    else:
        with refusals_flashed(passkeys.PasskeyError):
            passkeys.reset_passkeys(
                db.session, g.staff, user, form.password.data, utcnow(), origin()
            )
            mailing.send_passkeys_reset(staff_business(), user)
            flash(
                _(
                    "The passkeys of %(email)s are removed; their sessions are signed out.",
                    email=user.email,
                )
            )
    return redirect(url_for("staff.team")), 303


@blueprint.get("/audit")
@owner_required
def audit_log():
    business = staff_business()
    chosen = parse_audit_filter()
    return render_template(
        "staff/audit.html",
        business=business,
        lines=readable_events(
            db.session,
            business,
            audit.events_for(db.session, business.id, **chosen.query_args(business)),
            hipaa=hipaa_on(db.session, business.id),
        ),
        kinds=audit.KINDS,
        kind_labels=audit.KIND_LABELS,
        actor_labels=audit.ACTOR_KIND_LABELS,
        kind=chosen.kind,
        user=chosen.user,
        users=[member.email for member in team_service.team_of(db.session, business.id)],
        chosen=chosen,
    )


@blueprint.route("/notifications", methods=["GET", "POST"])
@writes
@staff_required
def notifications():
    user = _signed_in_member()
    form = NotificationsForm.for_member(user)
    if form.validate_on_submit():
        with refusals_shown_on(form, notification_prefs.PreferenceError):
            changes = notification_prefs.save_preferences(
                db.session, user, form.scope.data, form.events.data, utcnow(), origin()
            )
            flash(saved_message(changes))
            return redirect(url_for("staff.notifications"), 303)
    return form_page(
        "staff/notifications.html",
        business=staff_business(),
        form=form,
        providers=notification_prefs.linked_providers(db.session, user),
    )


def _signed_in_member() -> StaffUser:
    """The signed-in staff member; platform support has no booking news of its own."""
    if not isinstance(g.staff, StaffUser):
        abort(403, description=_("Only the business's own staff have notification settings."))
    return g.staff
