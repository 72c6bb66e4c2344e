"""Pages of the dashboards feature: each role's landing page, cycle times, targets, chart data.

The landing page is "/" (it replaces the old account dashboard); the rest lives under /dashboards.
"""

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from poa_manager.dashboards import charts, cycles, policies, services
from poa_manager.dashboards.forms import TargetsForm
from poa_manager.database import db, utcnow
from poa_manager.errors import DomainError
from poa_manager.programmes import services as programme_services
from poa_manager.web import place_errors

bp = Blueprint("dashboards", __name__)
PREFIX = "/dashboards"
PER_PAGE = 50


def _endpoint_exists(name: str) -> bool:
    return name in current_app.view_functions


@bp.get("/")
@login_required
def home():
    page = services.dashboard(actor=current_user, now=utcnow())
    return render_template(
        "dashboards/home.html",
        page=page,
        ndc_chart=_endpoint_exists("registry.ndc_contribution_chart"),
        cycles=cycles,
    )


def _request_page(found: list):
    """A page of the per-request table (the requests are few next to sites; their dates come from
    one query, and the table shows PER_PAGE of them)."""
    number = max(request.args.get("page", 1, type=int), 1)
    pages = max((len(found) + PER_PAGE - 1) // PER_PAGE, 1)
    return found[(number - 1) * PER_PAGE : number * PER_PAGE], number, pages


def _render_cycles(summary, *, today, programme=None, references=(), batches=()):
    rows, page, pages = _request_page(summary.requests)
    return render_template(
        "dashboards/cycle_times.html",
        summary=summary,
        rows=rows,
        page=page,
        pages=pages,
        programme=programme,
        references=references,
        reference_median=services.reference_median_days(references) if references else None,
        batches=batches,
        cycles=cycles,
        today=today,
    )


@bp.get(f"{PREFIX}/cycle-times")
@login_required
def cycle_times():
    today = utcnow().date()
    return _render_cycles(
        services.portfolio(actor=current_user, today=today),
        today=today,
        references=services.reference_cycles(actor=current_user),
        batches=services.reference_batches(actor=current_user),
    )


@bp.get(f"{PREFIX}/programmes/<int:programme_id>/cycle-times")
@login_required
def programme_cycle_times(programme_id: int):
    programme = programme_services.get_programme(programme_id, actor=current_user)
    today = utcnow().date()
    summary = services.programme_cycles(programme, actor=current_user, today=today)
    return _render_cycles(summary, today=today, programme=programme)


@bp.route(f"{PREFIX}/service-level-targets", methods=["GET", "POST"])
@login_required
def targets():
    table = services.target_table()
    can_edit = policies.can_edit_targets(current_user)
    form = TargetsForm(data={row.step.key: row.target_days for row in table})
    if request.method == "POST" and not can_edit:
        services.set_targets(actor=current_user, changes={})  # the service refuses: 403
    if form.validate_on_submit():
        try:
            services.set_targets(
                actor=current_user, changes={step.key: form[step.key].data for step in cycles.ALL_STEPS}
            )
        except DomainError as error:
            place_errors(form, error)
        else:
            db.session.commit()
            flash("Service-level targets saved.", "success")
            return redirect(url_for("dashboards.targets"))
    status = 422 if request.method == "POST" else 200
    return render_template("dashboards/targets.html", table=table, form=form, can_edit=can_edit), status


# --- chart data: Chart.js configurations (templates/macros/visuals.html) ---------------------------


def _summary_for_chart():
    today = utcnow().date()
    programme_id = request.args.get("programme_id", type=int)
    if programme_id:
        programme = programme_services.get_programme(programme_id, actor=current_user)
        return services.programme_cycles(programme, actor=current_user, today=today)
    return services.portfolio(actor=current_user, today=today)


@bp.get(f"{PREFIX}/charts/cycle-steps.json")
@login_required
def cycle_steps_chart():
    return jsonify(charts.steps_chart(_summary_for_chart().steps))


@bp.get(f"{PREFIX}/charts/cycle-distribution.json")
@login_required
def cycle_distribution_chart():
    summary = _summary_for_chart()
    return jsonify(charts.distribution_chart(summary.distribution, target_days=summary.targets["total"]))


@bp.get(f"{PREFIX}/charts/completeness.json")
@login_required
def completeness_chart():
    rows = services.completeness(current_user, now=utcnow())
    return jsonify(charts.completeness_chart([(row.site.reference, row.percent) for row in rows]))
