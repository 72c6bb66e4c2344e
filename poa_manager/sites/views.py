"""Pages: a programme's sites, adding and checking them, inclusion, reviews, and the criteria editor."""

import json

from flask import Blueprint, Response, flash, redirect, render_template, request, stream_with_context, url_for
from flask_login import current_user, login_required
from wtforms import SelectChoice

from poa_manager.accounts import services as account_services
from poa_manager.accounts.forms import ConfirmForm
from poa_manager.accounts.roles import OrganisationKind
from poa_manager.audit import services as audit_services
from poa_manager.database import count_rows, db, utcnow
from poa_manager.errors import InvalidInput, RuleViolation
from poa_manager.programmes import services as programme_services
from poa_manager.sites import eligibility, geofiles, importer, policies, services
from poa_manager.sites.forms import (
    ConfirmInclusionForm,
    CriteriaForm,
    ExcludeForm,
    ExternalRegistrationsForm,
    ImportSitesForm,
    IncludeSitesForm,
    ReasonForm,
    SiteForm,
)
from poa_manager.sites.models import Site, SiteStatus
from poa_manager.web import describe, export_format, export_response, perform, place_errors

bp = Blueprint("sites", __name__)
PER_PAGE = 50
SITE_COLUMNS = [
    ("Reference", "reference"),
    ("Name", "name"),
    ("Status", "status"),
    ("Technology", "technology"),
    ("Capacity kW", "capacity_kw"),
    ("Latitude", "latitude"),
    ("Longitude", "longitude"),
    ("Area", "area_code"),
    ("Commissioned on", "commissioned_on"),
    ("Included on", "included_on"),
    ("Crediting start", "crediting_start"),
    ("Crediting end", "crediting_end"),
    ("Funding sources", "funding_sources"),
    ("Review reason", "review_reason"),
]


# --- lists and forms ----------------------------------------------------------------------------


@bp.get("/programmes/<int:programme_id>/sites")
@login_required
def index(programme_id: int):
    programme = programme_services.get_programme(programme_id, actor=current_user)
    status = request.args.get("status") or None
    status = SiteStatus(status) if status in set(SiteStatus) else None
    search = (request.args.get("q") or "").strip()[:100] or None
    query = services.list_sites(current_user, programme=programme, status=status, search=search)
    if fmt := export_format():
        return export_response(query, SITE_COLUMNS, f"{programme.reference}-sites", fmt)
    page = db.paginate(query, page=request.args.get("page", 1, type=int), per_page=PER_PAGE, error_out=False)
    # A second COUNT over the programme's sites, only for those who see "Include all N eligible".
    can_include = policies.can_include(current_user, programme) and programme.current_version
    eligible_count = (
        count_rows(services.list_sites(current_user, programme=programme, status=SiteStatus.eligible))
        if can_include
        else 0
    )
    return render_template(
        "sites/index.html",
        eligible_count=eligible_count,
        programme=programme,
        page=page,
        status=status,
        search=search or "",
        statuses=list(SiteStatus),
        include_form=IncludeSitesForm(included_on=utcnow().date()),
        policies=policies,
    )


def _site_form(**kwargs) -> SiteForm:
    form = SiteForm(**kwargs)
    operators = [
        o
        for o in db.session.scalars(account_services.list_organisations(current_user))
        if o.is_active and o.kind in (OrganisationKind.site_operator, OrganisationKind.coordinating_entity)
    ]
    form.operator_organisation_id.choices = [SelectChoice("", "—")] + [
        SelectChoice(o.id, o.name) for o in operators
    ]
    return form


@bp.route("/programmes/<int:programme_id>/sites/new", methods=["GET", "POST"])
@login_required
def create(programme_id: int):
    programme = programme_services.get_programme(programme_id, actor=current_user)
    form = _site_form()
    if form.validate_on_submit():
        try:
            site = services.create_site(
                programme, actor=current_user, reference=form.reference.data, **form.site_values()
            )
        except (InvalidInput, RuleViolation) as error:
            db.session.rollback()
            programme = programme_services.get_programme(programme_id, actor=current_user)
            place_errors(form, error)
        else:
            db.session.commit()
            flash(f"{site.reference} added as a draft. Check its eligibility next.", "success")
            return redirect(url_for("sites.detail", site_id=site.id))
    return render_template("sites/edit.html", form=form, programme=programme, site=None)


@bp.route("/sites/<int:site_id>/edit", methods=["GET", "POST"])
@login_required
def edit(site_id: int):
    site = services.get_site(site_id, actor=current_user)
    if request.method == "GET":
        form = _site_form(obj=site)
        form.equipment_serials.data = "\n".join(site.equipment_serials)
        form.documents.data = ", ".join(site.documents)
        form.attributes.data = json.dumps(site.attributes or {})
        form.financial_support_declared.data = {True: "yes", False: "no"}.get(
            site.financial_support_declared, ""
        )
        for entry, meter in zip(form.meters, site.meters, strict=False):
            entry.form.process(obj=meter)
            entry.form.role.data = meter.role.value
    else:
        form = _site_form()
        form.reference.data = site.reference
    if form.validate_on_submit():
        try:
            services.update_site(site, actor=current_user, **form.site_values())
        except (InvalidInput, RuleViolation) as error:
            db.session.rollback()
            site = services.get_site(site_id, actor=current_user)
            place_errors(form, error)
        else:
            db.session.commit()
            flash(f"{site.reference} saved.", "success")
            return redirect(url_for("sites.detail", site_id=site.id))
    return render_template("sites/edit.html", form=form, programme=site.programme, site=site)


@bp.get("/sites/<int:site_id>")
@login_required
def detail(site_id: int):
    site = services.get_site(site_id, actor=current_user)
    today = utcnow().date()
    return render_template(
        "sites/detail.html",
        site=site,
        programme=site.programme,
        check=services.latest_check(site),
        policies=policies,
        confirm_form=ConfirmForm(),
        include_form=IncludeSitesForm(included_on=today),
        confirm_inclusion_form=ConfirmInclusionForm(included_on=today),
        reason_form=ReasonForm(),
        exclude_form=ExcludeForm(),
        history=audit_services.history_for("site", site.id),
    )


@bp.get("/sites/<int:site_id>/inclusion-record/print")
@login_required
def inclusion_print(site_id: int):
    site = services.get_site(site_id, actor=current_user)
    return render_template(
        "sites/inclusion_print.html",
        site=site,
        programme=site.programme,
        checks=services.eligibility_checks(site),
        conflicts=services.find_conflicts(site),
        history=audit_services.history_for("site", site.id, limit=200),
        printed_at=utcnow(),
    )


# --- actions ------------------------------------------------------------------------------------


def _step(site_id: int, use_case, message: str, **arguments):
    perform(services.get_site(site_id, actor=current_user), use_case, message, **arguments)
    return redirect(url_for("sites.detail", site_id=site_id))


@bp.post("/sites/<int:site_id>/check")
@login_required
def check_eligibility(site_id: int):
    return _step(
        site_id,
        services.check_eligibility,
        "{subject.reference} checked: {subject.status.label}.",
        checked_on=utcnow().date(),
    )


@bp.post("/programmes/<int:programme_id>/sites/include")
@login_required
def include(programme_id: int):
    programme = programme_services.get_programme(programme_id, actor=current_user)
    form = IncludeSitesForm()
    site_ids = [int(value) for value in request.form.getlist("site_ids") if value.isdigit()]
    if request.form.get("all_eligible"):
        eligible = services.list_sites(current_user, programme=programme, status=SiteStatus.eligible)
        site_ids = list(db.session.scalars(eligible.with_only_columns(Site.id)))
    # From a site's page, go back to it; from the list, back to the list.
    back = (
        url_for("sites.detail", site_id=site_ids[0])
        if request.form.get("from_site") and len(site_ids) == 1
        else url_for("sites.index", programme_id=programme.id)
    )
    if not form.validate_on_submit():
        flash("Give the inclusion date.", "error")
        return redirect(back)
    try:
        sites = services.include_sites(
            programme,
            actor=current_user,
            site_ids=site_ids,
            included_on=form.included_on.data,
            crediting_start=form.crediting_start.data,
        )
    except (InvalidInput, RuleViolation) as error:
        db.session.rollback()
        flash(describe(error), "error")
    else:
        db.session.commit()
        waiting = sum(site.status is SiteStatus.awaiting_confirmation for site in sites)
        flash(
            f"{len(sites) - waiting} included, {waiting} waiting for the verifier's confirmation.", "success"
        )
    return redirect(back)


@bp.post("/sites/<int:site_id>/confirm")
@login_required
def confirm_inclusion(site_id: int):
    form = ConfirmInclusionForm()
    if not form.validate_on_submit():
        flash("Give the inclusion date.", "error")
        return redirect(url_for("sites.detail", site_id=site_id))
    return _step(
        site_id,
        services.confirm_inclusion,
        "{subject.reference} included.",
        included_on=form.included_on.data,
    )


def _reasoned(site_id: int, use_case, message: str, form_class=ReasonForm, **extra):
    form = form_class()
    if not form.validate_on_submit():
        flash("Give a reason.", "error")
        return redirect(url_for("sites.detail", site_id=site_id))
    return _step(site_id, use_case, message, reason=form.reason.data, **extra)


@bp.post("/sites/<int:site_id>/return")
@login_required
def return_inclusion(site_id: int):
    return _reasoned(site_id, services.return_inclusion, "{subject.reference} returned to the coordinator.")


@bp.post("/sites/<int:site_id>/review")
@login_required
def put_under_review(site_id: int):
    return _reasoned(
        site_id,
        services.put_under_review,
        "{subject.reference} is under review; the programme's inclusions and issuance are on hold.",
    )


@bp.post("/sites/<int:site_id>/clear-review")
@login_required
def clear_review(site_id: int):
    return _step(
        site_id, services.clear_review, "Review of {subject.reference} cleared.", today=utcnow().date()
    )


@bp.post("/sites/<int:site_id>/exclude")
@login_required
def exclude(site_id: int):
    form = ExcludeForm()
    if not form.validate_on_submit():
        flash("Give a reason and the credits issued because of the site.", "error")
        return redirect(url_for("sites.detail", site_id=site_id))
    return _step(
        site_id,
        services.exclude_site,
        "{subject.reference} is excluded for good.",
        reason=form.reason.data,
        credits_to_replace=form.credits_to_replace.data,
    )


@bp.post("/sites/<int:site_id>/renew")
@login_required
def renew_crediting_period(site_id: int):
    return _step(
        site_id,
        services.renew_crediting_period,
        "{subject.reference}: crediting renewed to {subject.crediting_end}.",
        renewed_on=utcnow().date(),
    )


@bp.post("/sites/<int:site_id>/withdraw")
@login_required
def withdraw(site_id: int):
    return _reasoned(site_id, services.withdraw_site, "{subject.reference} withdrawn.")


# --- criteria editor --------------------------------------------------------------------------


@bp.route("/programmes/<int:programme_id>/criteria", methods=["GET", "POST"])
@login_required
def criteria(programme_id: int):
    programme = programme_services.get_programme(programme_id, actor=current_user)
    version = programme.pending_version or programme.current_version
    stored = version.eligibility_criteria if version else []
    if request.method == "GET":
        rows = [{**c, "params": json.dumps(c.get("params", {}), indent=1)} for c in stored]
        form = CriteriaForm(data={"criteria": rows + [{"params": "{}"}] * 2})
    else:
        form = CriteriaForm()
    problems: dict[str, list[str]] = {}
    if form.validate_on_submit():
        rows, problems = form.criteria_values()
        if not problems:
            try:
                services.update_criteria(programme, actor=current_user, criteria=rows)
            except InvalidInput as error:
                db.session.rollback()
                problems = error.errors
            else:
                db.session.commit()
                flash(
                    f"{len(rows)} eligibility criteria saved on design version {version.number}.", "success"
                )
                return redirect(url_for("sites.criteria", programme_id=programme.id))
        flash("Some criteria are not accepted; see the messages next to them.", "error")
    editable = (
        programme.pending_version is not None
        and programme.pending_version.status.value == "draft"
        and policies.can_prepare_sites(current_user, programme)
    )
    return render_template(
        "sites/criteria.html",
        programme=programme,
        version=version,
        form=form,
        problems=problems,
        editable=editable,
        parameters=eligibility.PARAMETERS,
    ), 200 if not problems else 422


# --- maps and map files (docs/maps.md) -----------------------------------------------------------

GEOJSON = geofiles.MIMETYPES["geojson"]


def _site_url_template() -> str:
    # One url_for, not 100,000: the id is the last path segment of the site page.
    return url_for("sites.detail", site_id=0)[: -len("0")] + "{}"


def _map_response(points: services.MapPoints) -> Response:
    site_url = _site_url_template()
    features = (
        (
            point.latitude,
            point.longitude,
            {
                "reference": point.reference,
                "name": point.name,
                "status": point.status,
                "capacity_kw": None if point.capacity_kw is None else str(point.capacity_kw),
                "url": site_url.format(point.id),
            },
        )
        for point in points.points
    )
    return Response(geofiles.map_geojson(features, unlocated=points.unlocated), mimetype=GEOJSON)


@bp.get("/programmes/<int:programme_id>/sites/map")
@login_required
def programme_map(programme_id: int):
    programme = programme_services.get_programme(programme_id, actor=current_user)
    status = request.args.get("status") or None
    status = SiteStatus(status) if status in set(SiteStatus) else None
    return render_template("sites/map.html", programme=programme, status=status, statuses=list(SiteStatus))


@bp.get("/programmes/<int:programme_id>/sites/map.geojson")
@login_required
def map_data(programme_id: int):
    programme = programme_services.get_programme(programme_id, actor=current_user)
    status = request.args.get("status") or None
    status = SiteStatus(status) if status in set(SiteStatus) else None
    return _map_response(services.map_points(current_user, programme=programme, status=status))


@bp.get("/sites/<int:site_id>/map.geojson")
@login_required
def site_map_data(site_id: int):
    site = services.get_site(site_id, actor=current_user)
    return _map_response(services.map_points(current_user, site_id=site.id))


@bp.get("/programmes/<int:programme_id>/boundary.geojson")
@login_required
def boundary(programme_id: int):
    programme = programme_services.get_programme(programme_id, actor=current_user)
    return Response(json.dumps(services.boundary_geojson(programme)), mimetype=GEOJSON)


@bp.get("/programmes/<int:programme_id>/sites/export.<any(geojson, kml):extension>")
@login_required
def export_map_file(programme_id: int, extension: str):
    programme = programme_services.get_programme(programme_id, actor=current_user)
    records = services.export_records(programme, actor=current_user)
    chunks, mimetype = geofiles.export_file(records, extension, programme.reference, programme.title)
    return Response(
        stream_with_context(chunks),
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{programme.reference}-sites.{extension}"'},
    )


# --- bulk upload --------------------------------------------------------------------------------


@bp.route("/programmes/<int:programme_id>/sites/import", methods=["GET", "POST"])
@login_required
def import_sites(programme_id: int):
    programme = programme_services.get_programme(programme_id, actor=current_user)
    form = ImportSitesForm()
    row_errors, status = [], 200
    if form.validate_on_submit():
        upload = form.file.data
        try:
            result = services.import_sites(
                programme,
                actor=current_user,
                filename=upload.filename or "upload",
                data=upload.read(),
                check_on=form.check_on.data,
            )
        except services.ImportRejected as rejection:
            db.session.rollback()
            row_errors, status = rejection.row_errors, 422
            flash(rejection.message, "error")
            return render_template(
                "sites/import.html",
                programme=programme,
                form=form,
                row_errors=row_errors,
                error_csv=services.error_report_csv(row_errors),
            ), status
        except (InvalidInput, RuleViolation) as error:
            db.session.rollback()
            place_errors(form, error)
        else:
            db.session.commit()
            checked = ", ".join(
                f"{count} {outcome.replace('_', ' ')}" for outcome, count in result.checked.items()
            )
            flash(
                f"{len(result.sites)} sites imported as drafts"
                + (f"; checked: {checked}." if checked else "."),
                "success",
            )
            return redirect(url_for("sites.index", programme_id=programme.id))
    elif request.method == "POST":
        status = 422
    return render_template(
        "sites/import.html", programme=programme, form=form, row_errors=row_errors, error_csv=None
    ), status


@bp.get("/programmes/<int:programme_id>/sites/template.<any(csv, xlsx):extension>")
@login_required
def site_template(programme_id: int, extension: str):
    programme = programme_services.get_programme(programme_id, actor=current_user)
    name = f"{programme.reference}-sites-template.{extension}"
    if extension == "csv":
        body, mimetype = importer.template_csv().encode("utf-8-sig"), "text/csv"
    else:
        body, mimetype = (
            importer.template_xlsx(),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    return Response(
        body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


# --- sites registered elsewhere -------------------------------------------------------------------


@bp.route("/external-registrations", methods=["GET", "POST"])
@login_required
def external_registrations():
    query = services.list_external_registrations(current_user)  # refuses anyone but registry administrators
    form = ExternalRegistrationsForm()
    status = 200
    if form.validate_on_submit():
        upload = form.file.data
        try:
            counts = services.import_external_registrations(
                actor=current_user, filename=upload.filename or "upload", data=upload.read()
            )
        except InvalidInput as error:
            db.session.rollback()
            form.file.errors = list(error.errors.get("file", [error.message]))
            status = 422
        else:
            db.session.commit()
            flash(f"{counts['created']} registrations added, {counts['updated']} updated.", "success")
            return redirect(url_for("sites.external_registrations"))
    if request.method == "GET" and (fmt := export_format()):
        return export_response(query, EXTERNAL_COLUMNS, "external-registrations", fmt)
    page = db.paginate(query, page=request.args.get("page", 1, type=int), per_page=PER_PAGE, error_out=False)
    return render_template("sites/external_registrations.html", form=form, page=page), status


EXTERNAL_COLUMNS = [
    ("Registry", "registry_name"),
    ("Identifier", "identifier"),
    ("Name", "name"),
    ("Latitude", "latitude"),
    ("Longitude", "longitude"),
    ("Technology", "technology"),
    ("Serials", lambda r: ", ".join(i.value for i in r.identifiers)),
    ("Crediting start", "crediting_start"),
    ("Crediting end", "crediting_end"),
]
