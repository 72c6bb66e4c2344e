"""Pages: the programmes a user works on, and who holds which role on each."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from wtforms import SelectChoice

from poa_manager.accounts import services as account_services
from poa_manager.accounts.forms import ConfirmForm
from poa_manager.accounts.roles import Role
from poa_manager.audit import services as audit_services
from poa_manager.database import db
from poa_manager.errors import InvalidInput, RuleViolation
from poa_manager.programmes import services
from poa_manager.programmes.forms import GrantRoleForm

bp = Blueprint("programmes", __name__, url_prefix="/programmes")


@bp.get("/")
@login_required
def index():
    programmes = list(db.session.scalars(services.list_programmes(current_user)))
    return render_template("programmes/index.html", programmes=programmes)


def _grant_form(programme) -> GrantRoleForm:
    form = GrantRoleForm()
    form.user_id.choices = [
        SelectChoice(u.id, f"{u.full_name} <{u.email}> — {u.organisation.name}")
        for u in db.session.scalars(account_services.list_users(current_user))
        if u.is_active
    ]
    form.site_id.choices = [SelectChoice("", "—")] + [
        SelectChoice(site.id, f"{site.reference} {site.name}") for site in programme.sites
    ]
    return form


@bp.route("/<int:programme_id>", methods=["GET", "POST"])
@login_required
def detail(programme_id: int):
    programme = services.get_programme(programme_id, actor=current_user)
    form = _grant_form(programme)
    status = 200
    if form.validate_on_submit():
        try:
            services.grant_role(
                programme,
                actor=current_user,
                user_id=form.user_id.data,
                role=Role(form.role.data),
                site_id=form.site_id.data,
            )
        except (InvalidInput, RuleViolation) as error:
            db.session.rollback()
            programme = services.get_programme(programme_id, actor=current_user)
            flash(error.message, "error")
            status = 422
        else:
            db.session.commit()
            flash("Role granted.", "success")
            return redirect(url_for("programmes.detail", programme_id=programme.id))
    return render_template(
        "programmes/detail.html",
        programme=programme,
        form=form,
        confirm_form=ConfirmForm(),
        members=services.list_members(programme, actor=current_user),
        history=audit_services.history_for("programme", programme.id),
    ), status


@bp.post("/<int:programme_id>/memberships/<int:membership_id>/revoke")
@login_required
def revoke_membership(programme_id: int, membership_id: int):
    programme = services.get_programme(programme_id, actor=current_user)
    membership = services.get_membership(programme, membership_id, actor=current_user)
    services.revoke_membership(membership, actor=current_user)
    db.session.commit()
    flash("Role revoked.", "success")
    return redirect(url_for("programmes.detail", programme_id=programme.id))
