"""Pages: programme list, creation and design, validation and registration, holds and roles."""

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from wtforms import SelectChoice

from poa_manager import methodologies
from poa_manager.accounts import services as account_services
from poa_manager.accounts.forms import ConfirmForm
from poa_manager.accounts.models import Organisation
from poa_manager.accounts.roles import Role
from poa_manager.audit import services as audit_services
from poa_manager.database import db, utcnow
from poa_manager.errors import InvalidInput, RuleViolation
from poa_manager.programmes import policies, rules, services
from poa_manager.programmes.forms import (
    GrantRoleForm,
    HoldsForm,
    ProgrammeForm,
    ReasonForm,
    RevisionForm,
    format_boundary,
    format_pairs,
)
from poa_manager.programmes.models import Programme
from poa_manager.programmes.rules import Mechanism
from poa_manager.web import export_format, export_response, perform, place_errors

bp = Blueprint("programmes", __name__, url_prefix="/programmes")


@bp.get("/")
@login_required
def index():
    query = services.list_programmes(current_user)
    if fmt := export_format():
        return export_response(query, PROGRAMME_COLUMNS, "programmes", fmt)
    page = db.paginate(query, page=request.args.get("page", 1, type=int), per_page=PER_PAGE, error_out=False)
    return render_template(
        "programmes/index.html",
        page=page,
        programmes=page.items,
        site_counts=_site_counts([p.id for p in page.items]),
        can_create=bool(_coordinating_entities()),
    )


PER_PAGE = 50
PROGRAMME_COLUMNS = [
    ("Reference", "reference"),
    ("Title", "title"),
    ("Mechanism", lambda p: p.mechanism.label),
    ("Host country", "host_country"),
    ("Partner country", "partner_country"),
    ("Coordinating entity", lambda p: p.coordinating_entity.name),
    ("Status", "status"),
    ("Inclusion hold", "inclusion_hold"),
    ("Issuance hold", "issuance_hold"),
    ("Hold reason", "hold_reason"),
]


def _site_counts(programme_ids: list[int]) -> dict[int, int]:
    # One grouped count for the page: `programme.sites | length` would load every site (100,000s).
    query = (
        sa.select(Programme.id, sa.func.count())
        .join(Programme.sites)
        .where(Programme.id.in_(programme_ids))
        .group_by(Programme.id)
    )
    return dict(db.session.execute(query).all())


def _coordinating_entities() -> list[Organisation]:
    organisations = db.session.scalars(account_services.list_organisations(current_user))
    return [o for o in organisations if o.is_active and policies.can_create_programme(current_user, o)]


def _programme_form(programme=None, **kwargs) -> ProgrammeForm:
    form = ProgrammeForm(**kwargs)
    form.methodology_code.choices = [SelectChoice("", "— choose later —")] + [
        SelectChoice(m.code, f"{m.code} — {m.title}") for m in methodologies.available_methodologies()
    ]
    entities = [programme.coordinating_entity] if programme else _coordinating_entities()
    form.coordinating_entity_id.choices = [SelectChoice(o.id, o.name) for o in entities]
    return form


@bp.route("/new", methods=["GET", "POST"])
@login_required
def create():
    mechanism = (
        Mechanism(request.args.get("mechanism", Mechanism.cdm_poa.value))
        if request.args.get("mechanism") in set(Mechanism)
        else Mechanism.cdm_poa
    )
    form = _programme_form(
        **(_design_form_values(services.design_defaults(mechanism)) | {"mechanism": mechanism.value})
    )
    if form.validate_on_submit():
        try:
            programme = services.create_programme(
                actor=current_user,
                reference=form.reference.data,
                title=form.title.data,
                mechanism=Mechanism(form.mechanism.data),
                host_country=form.host_country.data,
                partner_country=form.partner_country.data or None,
                coordinating_entity_id=form.coordinating_entity_id.data,
                **form.design_values(),
            )
        except (InvalidInput, RuleViolation) as error:
            db.session.rollback()
            place_errors(form, error)
        else:
            db.session.commit()
            flash(
                f"Programme {programme.reference} created as a draft. Define its eligibility criteria next.",
                "success",
            )
            return redirect(url_for("programmes.detail", programme_id=programme.id))
    return render_template(
        "programmes/edit.html",
        form=form,
        programme=None,
        unconfirmed=rules.UNCONFIRMED_DEFAULTS,
        mechanisms=list(Mechanism),
    )


def _design_form_values(design: dict) -> dict:
    values = dict(design)
    values["boundary"] = format_boundary(design.get("boundary"))
    values["grid_emission_factor_overrides"] = format_pairs(design.get("grid_emission_factor_overrides"))
    values["support_tiers"] = format_pairs(design.get("support_tiers"))
    values["monitoring_plan"] = format_pairs(design.get("monitoring_plan"))
    for key in ("crediting_period_type", "inclusion_route", "sampling_rule"):
        if key in values and values[key] is not None:
            values[key] = values[key].value
    return values


@bp.route("/<int:programme_id>/edit", methods=["GET", "POST"])
@login_required
def edit(programme_id: int):
    programme = services.get_programme(programme_id, actor=current_user)
    version = programme.pending_version
    if version is None:
        flash("The registered design cannot change: start a revision first.", "error")
        return redirect(url_for("programmes.detail", programme_id=programme.id))
    initial = {
        "reference": programme.reference,
        "title": programme.title,
        "mechanism": programme.mechanism.value,
        "host_country": programme.host_country,
        "partner_country": programme.partner_country,
        "coordinating_entity_id": programme.coordinating_entity_id,
    }
    initial |= _design_form_values({field: getattr(version, field) for field in services.DESIGN_FIELDS})
    form = _programme_form(programme, data=None if request.method == "POST" else initial)
    if request.method == "POST":
        form.reference.data, form.mechanism.data = programme.reference, programme.mechanism.value
    if form.validate_on_submit():
        try:
            services.update_programme(
                programme,
                actor=current_user,
                title=form.title.data,
                host_country=form.host_country.data,
                partner_country=form.partner_country.data or None,
                **form.design_values(),
            )
        except (InvalidInput, RuleViolation) as error:
            db.session.rollback()
            programme = services.get_programme(programme_id, actor=current_user)
            place_errors(form, error)
        else:
            db.session.commit()
            flash(f"Design version {version.number} saved.", "success")
            return redirect(url_for("programmes.detail", programme_id=programme.id))
    return render_template(
        "programmes/edit.html",
        form=form,
        programme=programme,
        unconfirmed=rules.UNCONFIRMED_DEFAULTS,
        mechanisms=list(Mechanism),
    )


def _grant_form(programme) -> GrantRoleForm:
    form = GrantRoleForm(prefix="grant")
    form.user_id.choices = [
        SelectChoice(u.id, f"{u.full_name} <{u.email}> — {u.organisation.name}")
        for u in db.session.scalars(account_services.list_users(current_user))
        if u.is_active
    ]
    return form


def _render_detail(programme, *, grant_form=None, reason_form=None, revision_form=None, status=200):
    holds_form = HoldsForm(
        prefix="holds",
        inclusion_hold=str(int(programme.inclusion_hold)),
        issuance_hold=str(int(programme.issuance_hold)),
        reason=programme.hold_reason,
    )
    return render_template(
        "programmes/detail.html",
        programme=programme,
        confirm_form=ConfirmForm(),
        grant_form=grant_form or _grant_form(programme),
        reason_form=reason_form or ReasonForm(prefix="return"),
        revision_form=revision_form or RevisionForm(prefix="revision"),
        holds_form=holds_form,
        members=services.list_members(programme, actor=current_user),
        site_count=services.count_sites(programme),
        policies=policies,
        history=audit_services.history_for("programme", programme.id),
        methodology=_methodology_or_none(programme),
    ), status


def _methodology_or_none(programme):
    version = programme.pending_version or programme.current_version
    try:
        return methodologies.get_methodology(version.methodology_code) if version.methodology_code else None
    except LookupError:
        return None


@bp.get("/<int:programme_id>")
@login_required
def detail(programme_id: int):
    return _render_detail(services.get_programme(programme_id, actor=current_user))


def _lifecycle_step(programme_id: int, use_case, message: str, **arguments):
    perform(services.get_programme(programme_id, actor=current_user), use_case, message, **arguments)
    return redirect(url_for("programmes.detail", programme_id=programme_id))


@bp.post("/<int:programme_id>/submit")
@login_required
def submit_for_validation(programme_id: int):
    return _lifecycle_step(
        programme_id,
        services.submit_for_validation,
        "Submitted for validation. The programme's verifier can now validate it.",
        now=utcnow(),
    )


@bp.post("/<int:programme_id>/validate")
@login_required
def validate(programme_id: int):
    return _lifecycle_step(programme_id, services.validate, "Design validated.", now=utcnow())


@bp.post("/<int:programme_id>/register")
@login_required
def register(programme_id: int):
    return _lifecycle_step(
        programme_id, services.register, "Design registered and now in force.", now=utcnow()
    )


@bp.post("/<int:programme_id>/return")
@login_required
def return_for_changes(programme_id: int):
    form = ReasonForm(prefix="return")
    if not form.validate_on_submit():
        flash("Say what must change.", "error")
        return redirect(url_for("programmes.detail", programme_id=programme_id))
    return _lifecycle_step(
        programme_id, services.return_for_changes, "Returned to the coordinator.", reason=form.reason.data
    )


@bp.post("/<int:programme_id>/revise")
@login_required
def start_revision(programme_id: int):
    form = RevisionForm(prefix="revision")
    if not form.validate_on_submit():
        flash("Say what the revision changes.", "error")
        return redirect(url_for("programmes.detail", programme_id=programme_id))
    return _lifecycle_step(
        programme_id,
        services.start_revision,
        "Revision started as a new draft version.",
        change_summary=form.change_summary.data,
    )


@bp.post("/<int:programme_id>/holds")
@login_required
def set_holds(programme_id: int):
    form = HoldsForm(prefix="holds")
    form.validate_on_submit()
    return _lifecycle_step(
        programme_id,
        services.set_holds,
        "Holds updated.",
        inclusion_hold=form.inclusion_hold.data == "1",
        issuance_hold=form.issuance_hold.data == "1",
        reason=form.reason.data,
    )


@bp.post("/<int:programme_id>/members")
@login_required
def grant_role(programme_id: int):
    programme = services.get_programme(programme_id, actor=current_user)
    form = _grant_form(programme)
    if form.validate_on_submit():
        try:
            services.grant_role(
                programme,
                actor=current_user,
                user_id=form.user_id.data,
                role=Role(form.role.data),
                site_id=services.site_id_for_reference(programme, form.site_reference.data),
            )
        except (InvalidInput, RuleViolation) as error:
            db.session.rollback()
            flash(error.message, "error")
            return _render_detail(
                services.get_programme(programme_id, actor=current_user), grant_form=form, status=422
            )
        db.session.commit()
        flash("Role granted.", "success")
    return redirect(url_for("programmes.detail", programme_id=programme_id))


@bp.post("/<int:programme_id>/memberships/<int:membership_id>/revoke")
@login_required
def revoke_membership(programme_id: int, membership_id: int):
    programme = services.get_programme(programme_id, actor=current_user)
    membership = services.get_membership(programme, membership_id, actor=current_user)
    services.revoke_membership(membership, actor=current_user)
    db.session.commit()
    flash("Role revoked.", "success")
    return redirect(url_for("programmes.detail", programme_id=programme.id))
