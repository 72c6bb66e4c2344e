"""Pages: the verifier's workspace, assignment, sampling plan and draw, sample and findings,
whole-population checks, results with the adjustment, and the verification statement."""

from datetime import date
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from poa_manager.database import db
from poa_manager.errors import DomainError, InvalidInput, RuleViolation
from poa_manager.monitoring import services as monitoring_services
from poa_manager.monitoring.models import IssuanceRequestLine
from poa_manager.sites import geofiles
from poa_manager.verification import exports, impartiality, policies, services
from poa_manager.verification.forms import (
    AssignForm,
    ExtendForm,
    FindingForm,
    PlanForm,
    PopulationForm,
    ReasonForm,
    StatementForm,
    TeamForm,
)
from poa_manager.verification.models import (
    Allocation,
    CheckMethod,
    FindingOutcome,
    Opinion,
    ParameterKind,
    PopulationDecision,
    VerificationStatus,
)
from poa_manager.web import describe, export_format, export_response, perform, place_errors

bp = Blueprint("verification", __name__)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.context_processor
def _template_helpers() -> dict:
    """Templates ask the same predicates the services enforce."""
    return {"policies": policies, "today": date.today()}


def _attachment(body: bytes, mimetype: str, name: str) -> Response:
    return Response(
        body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


def _verification(verification_id: int):
    return services.get_verification(verification_id, actor=current_user)


@bp.get("/verifications")
@login_required
def index():
    status = request.args.get("status") or None
    chosen = VerificationStatus(status) if status in VerificationStatus.__members__ else None
    query = services.list_verifications(current_user, status=chosen)
    if fmt := export_format():
        return export_response(query, VERIFICATION_COLUMNS, "verifications", fmt)
    page = db.paginate(query, page=request.args.get("page", 1, type=int), per_page=PER_PAGE, error_out=False)
    return render_template(
        "verification/index.html",
        page=page,
        verifications=page.items,
        statuses=VerificationStatus,
        chosen=chosen,
    )


PER_PAGE = 50
VERIFICATION_COLUMNS = [
    ("Verification", "label"),
    ("Programme", lambda v: v.programme.reference),
    ("Request", lambda v: v.request.label),
    ("Verifier", lambda v: v.verifier_organisation.name),
    ("Status", "status"),
    ("Assigned at", "assigned_at"),
    ("Due on", "due_on"),
    ("Claimed tCO2e", lambda v: v.request.claimed_tco2e),
    ("Verified tCO2e", "verified_tco2e"),
    ("Cancelled reason", "cancelled_reason"),
]


def _team_choices(form: TeamForm, organisation_ids: list[int]) -> None:
    people = [(u, o) for o in organisation_ids for u in services.members_of(o)]
    form.team_user_ids.choices = [(u.id, f"{u.full_name} <{u.email}>") for u, _ in people]
    form.lead_user_id.choices = [(None, "first of the team")] + [(u.id, u.full_name) for u, _ in people]


@bp.route("/issuance-requests/<int:request_id>/verification", methods=["GET", "POST"])
@login_required
def for_request(request_id: int):
    """The request's verification, or the form to assign one."""
    issuance_request = monitoring_services.get_request(request_id, actor=current_user)
    existing = services.verification_of(issuance_request, actor=current_user)
    if existing is not None:
        return redirect(url_for("verification.detail", verification_id=existing.id))
    programme = issuance_request.programme
    if not policies.can_assign(current_user, programme):
        flash(f"No verifier is assigned to {issuance_request.label} yet.", "info")
        return redirect(url_for("monitoring.issuance_request", request_id=request_id))
    organisations = services.verifier_organisations()
    form = AssignForm()
    form.organisation_id.choices = [(o.id, o.name) for o in organisations]
    _team_choices(form, [o.id for o in organisations])
    if form.validate_on_submit():
        try:
            verification = services.assign_verifier(
                issuance_request,
                actor=current_user,
                organisation_id=form.organisation_id.data,
                team_user_ids=form.team_user_ids.data,
                lead_user_id=form.lead_user_id.data,
                due_on=form.due_on.data,
            )
        except (InvalidInput, RuleViolation) as error:
            db.session.rollback()
            place_errors(form, error)
        else:
            db.session.commit()
            flash(
                f"{verification.verifier_organisation.name} assigned to {issuance_request.label}.", "success"
            )
            return redirect(url_for("verification.detail", verification_id=verification.id))
    rule = services.impartiality_rule(programme)
    return render_template(
        "verification/assign.html",
        form=form,
        issuance_request=issuance_request,
        programme=programme,
        rule=rule,
        rule_confirmed=impartiality.is_confirmed(programme.mechanism, rule),
        prior_work=services.prior_work(programme),
    )


@bp.get("/verifications/<int:verification_id>")
@login_required
def detail(verification_id: int):
    verification = _verification(verification_id)
    team_form = TeamForm(
        team_user_ids=[m.user_id for m in verification.team],
        lead_user_id=next((m.user_id for m in verification.team if m.is_lead), None),
    )
    _team_choices(team_form, [verification.verifier_organisation_id])
    programme = verification.programme
    return render_template(
        "verification/detail.html",
        verification=verification,
        programme=programme,
        results=exports.results_payload(verification),
        team_form=team_form,
        reason_form=ReasonForm(),
        statement_form=StatementForm(),
        four_eyes=services.four_eyes_problem(current_user, verification),
        rule_confirmed=impartiality.is_confirmed(programme.mechanism, verification.impartiality_rule),
        prior_work=services.prior_work(programme),
    )


@bp.post("/verifications/<int:verification_id>/team")
@login_required
def set_team(verification_id: int):
    verification = _verification(verification_id)
    form = TeamForm()
    _team_choices(form, [verification.verifier_organisation_id])
    if form.validate_on_submit():
        perform(
            verification,
            services.set_team,
            "Team of {subject.label} updated.",
            team_user_ids=form.team_user_ids.data,
            lead_user_id=form.lead_user_id.data,
        )
    else:
        flash("Choose at least one person.", "error")
    return redirect(url_for("verification.detail", verification_id=verification_id))


@bp.post("/verifications/<int:verification_id>/cancel")
@login_required
def cancel(verification_id: int):
    verification = _verification(verification_id)
    form = ReasonForm()
    if form.validate_on_submit():
        perform(
            verification, services.cancel_verification, "{subject.label} cancelled.", reason=form.reason.data
        )
    else:
        flash("Say why the assignment is cancelled.", "error")
    return redirect(url_for("verification.detail", verification_id=verification_id))


def _plan_from(form: PlanForm) -> services.PlanInput:
    return services.PlanInput(
        parameter_kind=ParameterKind(form.parameter_kind.data),
        confidence=form.confidence.data,
        relative_precision=form.relative_precision.data,
        expected_cv=form.expected_cv.data,
        expected_proportion=form.expected_proportion.data,
        non_response=form.non_response.data or Decimal(0),
        stratify_by=form.stratify_by.data or None,
        allocation=Allocation(form.allocation.data),
        notes=form.notes.data or None,
    )


def _plan_form(verification, **kwargs) -> PlanForm:
    plan = services.plan_of(verification)
    form = PlanForm(
        parameter_kind=plan.parameter_kind.value,
        confidence=plan.confidence,
        relative_precision=plan.relative_precision,
        expected_cv=plan.expected_cv,
        expected_proportion=plan.expected_proportion,
        non_response=plan.non_response,
        stratify_by=plan.stratify_by or "",
        allocation=plan.allocation.value,
        notes=plan.notes,
        **kwargs,
    )
    form.stratify_by.choices = [("", "not stratified")] + list(
        services.stratify_options(verification).items()
    )
    return form


@bp.route("/verifications/<int:verification_id>/plan", methods=["GET", "POST"])
@login_required
def plan(verification_id: int):
    verification = _verification(verification_id)
    form = _plan_form(verification)
    preview, preview_error = None, None
    if form.validate_on_submit():
        try:
            seed = int(form.seed.data) if form.seed.data else None
        except ValueError:
            form.seed.errors = ["A whole number."]
        else:
            plan_input = _plan_from(form)
            if request.form.get("action") == "draw":
                try:
                    services.draw(verification, actor=current_user, plan=plan_input, seed=seed)
                except (InvalidInput, RuleViolation) as error:
                    db.session.rollback()
                    place_errors(form, error)
                else:
                    db.session.commit()
                    flash(f"Sample drawn with seed {verification.seed}.", "success")
                    return redirect(url_for("verification.sample", verification_id=verification_id))
            else:
                try:
                    preview = services.preview_plan(verification, plan=plan_input)
                except (InvalidInput, RuleViolation) as error:
                    place_errors(form, error)
    elif request.method == "GET" and verification.seed is None:
        try:
            preview = services.preview_plan(verification, plan=services.plan_of(verification))
        except DomainError as error:
            preview_error = describe(error)
    return render_template(
        "verification/plan.html",
        verification=verification,
        programme=verification.programme,
        form=form,
        preview=preview.as_dict() if preview else verification.sample_size_detail or None,
        preview_error=preview_error,
        extend_form=ExtendForm(),
        capacity_classes=services.CAPACITY_CLASSES_KW,
        can_work=policies.can_work_on(current_user, verification),
    )


def _decimal(name: str) -> Decimal | None:
    try:
        value = request.args.get(name)
        return Decimal(value) if value not in (None, "") else None
    except InvalidOperation:
        raise InvalidInput(f"{name} is not a number.", errors={name: ["Not a number."]}) from None


@bp.get("/verifications/<int:verification_id>/plan/preview.json")
@login_required
def plan_preview(verification_id: int):
    """The live sample-size calculation of the plan form (static/js/app.js)."""
    verification = _verification(verification_id)
    try:
        kind = ParameterKind(request.args.get("parameter_kind", "mean"))
        allocation = Allocation(request.args.get("allocation", "proportional"))
        plan_input = services.PlanInput(
            parameter_kind=kind,
            confidence=_decimal("confidence") or Decimal(0),
            relative_precision=_decimal("relative_precision") or Decimal(0),
            expected_cv=_decimal("expected_cv"),
            expected_proportion=_decimal("expected_proportion"),
            non_response=_decimal("non_response") or Decimal(0),
            stratify_by=request.args.get("stratify_by") or None,
            allocation=allocation,
        )
        return jsonify(services.preview_plan(verification, plan=plan_input).as_dict())
    except ValueError:
        return jsonify({"error": "Unknown parameter kind or allocation."}), 400
    except (InvalidInput, RuleViolation) as error:
        return jsonify({"error": describe(error)}), 400


@bp.post("/verifications/<int:verification_id>/extend")
@login_required
def extend(verification_id: int):
    verification = _verification(verification_id)
    form = ExtendForm()
    if form.validate_on_submit():
        perform(
            verification,
            services.extend_sample,
            f"{form.additional.data} more sites drawn from the same seed.",
            additional=form.additional.data,
        )
    else:
        flash("Give how many more sites to draw.", "error")
    return redirect(url_for("verification.sample", verification_id=verification_id))


@bp.get("/verifications/<int:verification_id>/sample")
@login_required
def sample(verification_id: int):
    verification = _verification(verification_id)
    entries = db.session.scalars(services.frame_entries(verification)).all()
    return render_template(
        "verification/sample.html",
        verification=verification,
        programme=verification.programme,
        sampled=sorted((e for e in entries if e.is_sampled), key=lambda e: (e.stratum, e.draw_order)),
        problems=[e for e in entries if e.problems and not e.is_sampled],
        population=len(entries),
        population_form=PopulationForm(),
        extend_form=ExtendForm(),
        results=exports.results_payload(verification),
        can_work=policies.can_work_on(current_user, verification),
    )


@bp.get("/verifications/<int:verification_id>/sample/map.geojson")
@login_required
def sample_map_data(verification_id: int):
    """The frame on a map (docs/maps.md): coloured by state, sampled sites linking to their finding."""
    verification = _verification(verification_id)
    found = services.sample_points(verification)
    # One url_for each, not one per site: the site id is the last path segment.
    finding_url = url_for("verification.finding", verification_id=verification.id, site_id=0)[:-1] + "{}"
    site_url = url_for("sites.detail", site_id=0)[:-1] + "{}"
    features = (
        (
            point.latitude,
            point.longitude,
            {
                "reference": point.reference,
                "name": point.name,
                "state": point.state,
                "sampled": "yes" if point.sampled else "no",
                "stratum": point.stratum,
                "url": (finding_url if point.sampled else site_url).format(point.site_id),
            },
        )
        for point in found.points
    )
    body = geofiles.map_geojson(features, unlocated=found.unlocated)
    return Response(body, mimetype=geofiles.MIMETYPES["geojson"])


@bp.route("/verifications/<int:verification_id>/sample/<int:site_id>", methods=["GET", "POST"])
@login_required
def finding(verification_id: int, site_id: int):
    verification = _verification(verification_id)
    entry = services.get_entry(verification, site_id)
    form = FindingForm(
        verified_tco2e=entry.verified_tco2e if entry.has_finding else entry.claimed_tco2e,
        outcome=(entry.outcome or FindingOutcome.conforming).value,
        method=(entry.method or CheckMethod.remote).value,
        evidence=entry.evidence,
    )
    if form.validate_on_submit():
        try:
            services.record_finding(
                verification,
                actor=current_user,
                site_id=site_id,
                verified_tco2e=form.verified_tco2e.data,
                outcome=FindingOutcome(form.outcome.data),
                method=CheckMethod(form.method.data),
                evidence=form.evidence.data,
            )
        except (InvalidInput, RuleViolation) as error:
            db.session.rollback()
            place_errors(form, error)
        else:
            db.session.commit()
            flash(f"Finding for {entry.site_reference} recorded.", "success")
            return redirect(url_for("verification.sample", verification_id=verification_id))
    request_lines = db.session.scalars(
        sa.select(IssuanceRequestLine)
        .where(
            IssuanceRequestLine.request_id == verification.request_id, IssuanceRequestLine.site_id == site_id
        )
        .order_by(IssuanceRequestLine.period_start)
    ).all()
    return render_template(
        "verification/finding.html",
        verification=verification,
        programme=verification.programme,
        entry=entry,
        site=entry.site,
        request_lines=request_lines,
        form=form,
        can_work=policies.can_work_on(current_user, verification),
    )


@bp.post("/verifications/<int:verification_id>/population/<int:site_id>")
@login_required
def population(verification_id: int, site_id: int):
    verification = _verification(verification_id)
    form = PopulationForm()
    if form.validate_on_submit():
        perform(
            verification,
            services.decide_population_problem,
            "Decision recorded.",
            site_id=site_id,
            decision=PopulationDecision(form.decision.data),
            note=form.note.data,
        )
    else:
        flash("Explain the decision.", "error")
    return redirect(url_for("verification.sample", verification_id=verification_id) + "#population")


@bp.post("/verifications/<int:verification_id>/statement")
@login_required
def draft_statement(verification_id: int):
    verification = _verification(verification_id)
    form = StatementForm()
    if form.validate_on_submit():
        perform(
            verification,
            services.draft_statement,
            "Statement drafted: a second person of the organisation approves it.",
            opinion=Opinion(form.opinion.data),
            summary=form.summary.data,
        )
    else:
        flash("Choose an opinion and summarise the findings.", "error")
    return redirect(url_for("verification.detail", verification_id=verification_id) + "#statement")


@bp.post("/verifications/<int:verification_id>/statement/approve")
@login_required
def approve_statement(verification_id: int):
    verification = _verification(verification_id)
    perform(verification, services.approve_statement, "Verification statement of {subject.label} issued.")
    return redirect(url_for("verification.detail", verification_id=verification_id) + "#statement")


@bp.post("/verifications/<int:verification_id>/statement/return")
@login_required
def return_statement(verification_id: int):
    verification = _verification(verification_id)
    form = ReasonForm()
    if form.validate_on_submit():
        perform(verification, services.return_draft, "Draft sent back to the team.", reason=form.reason.data)
    else:
        flash("Say what to change.", "error")
    return redirect(url_for("verification.detail", verification_id=verification_id))


@bp.get("/verifications/<int:verification_id>/statement/print")
@login_required
def statement_print(verification_id: int):
    verification = _verification(verification_id)
    return render_template(
        "verification/statement_print.html",
        verification=verification,
        programme=verification.programme,
        results=verification.results,
    )


@bp.get("/verifications/<int:verification_id>/sample.<any(csv, xlsx):extension>")
@login_required
def sample_export(verification_id: int, extension: str):
    verification = _verification(verification_id)
    name = f"{verification.label}-sample.{extension}"
    if extension == "csv":
        return _attachment(exports.sample_csv(verification), "text/csv", name)
    return _attachment(exports.sample_workbook(verification), XLSX, name)


@bp.get("/verifications/<int:verification_id>/frame.csv")
@login_required
def frame_export(verification_id: int):
    verification = _verification(verification_id)
    return _attachment(exports.frame_csv(verification), "text/csv", f"{verification.label}-frame.csv")
