"""Pages: readings of a site and a programme, uploads with their row errors, corrections, meter
records, monitoring reports (printable, with the ER workbook) and issuance requests."""

from datetime import UTC, date
from decimal import Decimal
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from poa_manager import tasks
from poa_manager.audit import services as audit_services
from poa_manager.database import db, utcnow
from poa_manager.errors import InvalidInput, RuleViolation
from poa_manager.monitoring import charts, data_quality, exports, jobs, policies, readings_file, services
from poa_manager.monitoring.forms import (
    CalibrationForm,
    CorrectionForm,
    OpenReportForm,
    ReplacementForm,
    UploadReadingsForm,
)
from poa_manager.monitoring.models import UploadSource
from poa_manager.programmes import services as programme_services
from poa_manager.sites import services as site_services
from poa_manager.web import describe, export_format, export_response, perform, place_errors

bp = Blueprint("monitoring", __name__)
PER_PAGE = 50
_KWH = Decimal(1000)
UPLOAD_COLUMNS = [
    ("Upload", "id"),
    ("Uploaded at", "uploaded_at"),
    ("Source", "source"),
    ("File", "filename"),
    ("Site", "site_id"),
    ("Status", "status"),
    ("Rows", "rows_total"),
    ("Written", "rows_written"),
    ("Already stored", "rows_already_stored"),
    ("Errors", "error_count"),
    ("Reason", "reason"),
    ("Failure", "failure"),
    ("SHA-256", "content_sha256"),
]
READING_COLUMNS = [
    ("Meter", lambda r: r.meter.serial),
    ("Start (UTC)", "starts_at"),
    ("End (UTC)", "ends_at"),
    ("Energy kWh", lambda r: Decimal(r.energy_wh) / _KWH),
    ("Register kWh", lambda r: None if r.register_wh is None else Decimal(r.register_wh) / _KWH),
    ("Version", "version"),
    ("Flags", "flags"),
    ("Upload", "upload_id"),
]
REPORT_COLUMNS = [
    ("Report", "label"),
    ("Period start", "period_start"),
    ("Period end", "period_end"),
    ("Status", "status"),
    ("Total ER tCO2e", "total_tco2e"),
    ("Methodology", "methodology_code"),
    ("Computed at", "computed_at"),
    ("Submitted at", "submitted_at"),
]
REQUEST_COLUMNS = [
    ("Request", "label"),
    ("Report", lambda q: q.report.label),
    ("Claimed tCO2e", "claimed_tco2e"),
    ("Credits requested", "credits_requested"),
    ("Status", "status"),
    ("Requested at", "requested_at"),
    ("Withdrawn reason", "withdrawn_reason"),
]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
READINGS_FORMS = {"monitoring.programme_readings", "monitoring.site_readings"}


@bp.before_request
def _allow_readings_files() -> None:
    """Readings files may be larger than other requests (MAX_CONTENT_LENGTH); set before any
    form reads the body."""
    if request.endpoint in READINGS_FORMS:
        request.max_content_length = current_app.config["READINGS_MAX_UPLOAD_BYTES"]


def _folder() -> Path:
    return Path(current_app.config["READINGS_UPLOAD_FOLDER"])


def _attachment(body: bytes, mimetype: str, name: str) -> Response:
    return Response(
        body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


# --- uploading ----------------------------------------------------------------------------------


def _receive(programme, form: UploadReadingsForm, *, site=None):
    """Keep the file, then check it now (small) or in the worker (large); show the upload."""
    if not form.validate_on_submit():
        return None
    upload_file = form.file.data
    try:
        upload, _new = services.receive_readings(
            programme,
            actor=current_user,
            filename=upload_file.filename or "readings.csv",
            stream=upload_file.stream,
            folder=_folder(),
            source=UploadSource.web,
            site=site,
        )
    except (InvalidInput, RuleViolation) as error:
        db.session.rollback()
        place_errors(form, error)
        return None
    db.session.commit()
    upload = jobs.dispatch_upload(
        upload, folder=_folder(), inline_max_bytes=current_app.config["READINGS_INLINE_MAX_BYTES"]
    )
    return redirect(url_for("monitoring.upload", upload_id=upload.id))


@bp.route("/programmes/<int:programme_id>/readings", methods=["GET", "POST"])
@login_required
def programme_readings(programme_id: int):
    programme = programme_services.get_programme(programme_id, actor=current_user)
    form = UploadReadingsForm()
    if request.method == "POST":
        done = _receive(programme, form)
        if done is not None:
            return done
    query = services.list_uploads(current_user, programme=programme)
    if request.method == "GET" and (fmt := export_format()):
        return export_response(query, UPLOAD_COLUMNS, f"{programme.reference}-reading-uploads", fmt)
    page = db.paginate(query, page=request.args.get("page", 1, type=int), per_page=PER_PAGE, error_out=False)
    status = 422 if request.method == "POST" else 200
    return render_template(
        "monitoring/programme_readings.html",
        programme=programme,
        form=form,
        page=page,
        can_send=policies.can_send_readings(current_user, programme),
    ), status


@bp.route("/sites/<int:site_id>/readings", methods=["GET", "POST"])
@login_required
def site_readings(site_id: int):
    site = site_services.get_site(site_id, actor=current_user)
    form = UploadReadingsForm()
    if request.method == "POST":
        done = _receive(site.programme, form, site=site)
        if done is not None:
            return done
    meter_id = request.args.get("meter", type=int)
    meter = services.get_meter(meter_id, actor=current_user, site=site) if meter_id else None
    # A report line links here with its window (epoch seconds), so its readings are exactly these.
    window_from = request.args.get("from", type=int)
    window_until = request.args.get("until", type=int)
    query = services.list_readings(
        site, actor=current_user, meter=meter, starts_from=window_from, ends_by=window_until
    )
    if request.method == "GET" and (fmt := export_format()):
        return export_response(query, READING_COLUMNS, f"{site.reference}-readings", fmt)
    page = db.paginate(query, page=request.args.get("page", 1, type=int), per_page=PER_PAGE, error_out=False)
    return render_template(
        "monitoring/site_readings.html",
        site=site,
        programme=site.programme,
        form=form,
        page=page,
        meter=meter,
        window=(window_from, window_until) if window_from is not None and window_until is not None else None,
        uploads=db.session.scalars(services.list_uploads(current_user, site=site).limit(10)).all(),
        can_keep=policies.can_keep_meter_records(current_user, site),
        timezone=services.site_timezone(site) or "UTC",
    ), (422 if request.method == "POST" else 200)


@bp.get("/readings/template.<any(csv, xlsx):extension>")
@login_required
def readings_template(extension: str):
    if extension == "csv":
        return _attachment(
            readings_file.template_csv().encode("utf-8-sig"), "text/csv", "readings-template.csv"
        )
    return _attachment(readings_file.template_xlsx(), XLSX, "readings-template.xlsx")


@bp.get("/reading-uploads/<int:upload_id>")
@login_required
def upload(upload_id: int):
    upload = services.get_upload(upload_id, actor=current_user)
    readings = None
    if upload.rows_written and upload.site_id:
        site = site_services.get_site(upload.site_id, actor=current_user)
        query = services.list_readings(site, actor=current_user, upload=upload, include_superseded=True)
        readings = db.paginate(
            query, page=request.args.get("page", 1, type=int), per_page=PER_PAGE, error_out=False
        )
    return render_template(
        "monitoring/upload.html",
        upload=upload,
        programme=upload.programme,
        readings=readings,
        progress=None if upload.status.finished else tasks.progress_of(upload.id),
    )


@bp.get("/reading-uploads/<int:upload_id>/progress.json")
@login_required
def upload_progress(upload_id: int):
    upload = services.get_upload(upload_id, actor=current_user)
    return jsonify(
        status=upload.status.value,
        finished=upload.status.finished,
        progress=None if upload.status.finished else tasks.progress_of(upload.id),
    )


@bp.get("/reading-uploads/<int:upload_id>/errors.csv")
@login_required
def upload_errors(upload_id: int):
    upload = services.get_upload(upload_id, actor=current_user)
    errors = [readings_file.RowError(**e) for e in upload.errors]
    body = readings_file.error_report_csv(errors).encode("utf-8-sig")
    return _attachment(body, "text/csv", f"upload-{upload.id}-errors.csv")


@bp.get("/reading-uploads/<int:upload_id>/original")
@login_required
def upload_original(upload_id: int):
    upload = services.get_upload(upload_id, actor=current_user)
    path = services.stored_file(upload, _folder())
    if not path.exists():
        abort(404)
    mimetype = XLSX if path.suffix == ".xlsx" else "text/csv"
    return _attachment(path.read_bytes(), mimetype, upload.filename or path.name)


# --- one reading, corrections, meter records ----------------------------------------------------


@bp.route("/meters/<int:meter_id>/readings/<int:reading_end>/<int:version>", methods=["GET", "POST"])
@login_required
def reading(meter_id: int, reading_end: int, version: int):
    reading = services.get_reading(meter_id, reading_end, version, actor=current_user)
    form = CorrectionForm()
    refused = False
    if form.validate_on_submit():
        try:
            corrected = services.correct_reading(
                reading, actor=current_user, value=form.value.data, reason=form.reason.data
            )
        except (InvalidInput, RuleViolation) as error:
            db.session.rollback()
            place_errors(form, error)
            refused = True
        else:
            db.session.commit()
            flash(f"Reading corrected: version {corrected.version} supersedes the original.", "success")
            return redirect(url_for("monitoring.reading", **corrected.key))
    site = reading.meter.site
    return render_template(
        "monitoring/reading.html",
        reading=reading,
        site=site,
        programme=site.programme,
        history=services.reading_history(reading),
        form=form,
        can_keep=policies.can_keep_meter_records(current_user, site),
    ), (422 if form.errors or refused else 200)


@bp.route("/meters/<int:meter_id>", methods=["GET", "POST"])
@login_required
def meter(meter_id: int):
    meter = services.get_meter(meter_id, actor=current_user)
    calibration_form = CalibrationForm(prefix="calibration")
    replacement_form = ReplacementForm(prefix="replacement")
    if (
        request.method == "POST"
        and "calibration-calibrated_on" in request.form
        and calibration_form.validate()
    ):
        data = {k: v for k, v in calibration_form.data.items() if k != "csrf_token"}
        if perform(meter, services.record_calibration, f"Calibration of {meter.serial} recorded.", **data):
            return redirect(url_for("monitoring.meter", meter_id=meter.id))
    if request.method == "POST" and "replacement-new_serial" in request.form and replacement_form.validate():
        data = {k: v for k, v in replacement_form.data.items() if k != "csrf_token"}
        data["replaced_at"] = data["replaced_at"].replace(tzinfo=UTC)
        if perform(meter, services.replace_meter, f"Meter {meter.serial} replaced.", **data):
            return redirect(url_for("monitoring.meter", meter_id=meter.id))
    return render_template(
        "monitoring/meter.html",
        meter=meter,
        site=meter.site,
        programme=meter.site.programme,
        calibrations=services.calibration_history(meter),
        replacement=services.replacement_of(meter),
        mpe=data_quality.max_permissible_error_fraction(
            meter.accuracy_class, meter.max_permissible_error_percent
        ),
        calibration_form=calibration_form,
        replacement_form=replacement_form,
        can_keep=policies.can_keep_meter_records(current_user, meter.site),
        history=audit_services.history_for("meter", meter.id),
    ), (422 if request.method == "POST" else 200)


# --- chart data: Chart.js configurations (templates/macros/visuals.html, docs/charts.md) ---------


def _date_arg(name: str) -> date | None:
    text = request.args.get(name)
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{name}: a date, YYYY-MM-DD.", errors={name: ["A date, YYYY-MM-DD."]}) from None


@bp.get("/meters/<int:meter_id>/readings-chart.json")
@login_required
def meter_readings_chart(meter_id: int):
    series = services.meter_daily_energy(
        meter_id, actor=current_user, first_day=_date_arg("from"), last_day=_date_arg("to")
    )
    label = f"{series.meter.serial}: kWh per day ({series.timezone} days)"
    return jsonify(charts.daily_energy_chart(series.days, label=label))


@bp.get("/monitoring-reports/<int:report_id>/sites-chart.json")
@login_required
def report_sites_chart(report_id: int):
    _report, rows = services.report_site_reductions(report_id, actor=current_user)
    return jsonify(charts.site_reductions_chart(rows))


@bp.get("/programmes/<int:programme_id>/monitoring/er-chart.json")
@login_required
def programme_er_chart(programme_id: int):
    periods = services.programme_period_reductions(programme_id, actor=current_user)
    return jsonify(charts.period_reductions_chart(periods))


# --- monitoring reports -------------------------------------------------------------------------


@bp.route("/programmes/<int:programme_id>/monitoring", methods=["GET", "POST"])
@login_required
def programme_monitoring(programme_id: int):
    programme = programme_services.get_programme(programme_id, actor=current_user)
    form = OpenReportForm()
    if form.validate_on_submit():
        try:
            report = services.open_report(
                programme,
                actor=current_user,
                period_start=form.period_start.data,
                period_end=form.period_end.data,
                settings=form.settings(),
                today=utcnow().date(),
            )
        except (InvalidInput, RuleViolation) as error:
            db.session.rollback()
            place_errors(form, error)
        else:
            db.session.commit()
            flash(f"{report.label} computed: {len(report.lines)} site line(s).", "success")
            return redirect(url_for("monitoring.report", report_id=report.id))
    reports = db.session.scalars(services.list_reports(current_user, programme=programme)).all()
    requests = db.session.scalars(services.list_requests(current_user, programme=programme)).all()
    if request.method == "GET" and (fmt := export_format()):
        if request.args.get("list") == "requests":
            return export_response(requests, REQUEST_COLUMNS, f"{programme.reference}-issuance-requests", fmt)
        return export_response(reports, REPORT_COLUMNS, f"{programme.reference}-monitoring-reports", fmt)
    return render_template(
        "monitoring/programme_monitoring.html",
        programme=programme,
        form=form,
        reports=reports,
        requests=requests,
        can_prepare=policies.can_prepare_reports(current_user, programme),
        settings_help=services.SETTINGS_HELP,
    ), (422 if form.errors else 200)


def _report_page(report_id: int, template: str):
    report = services.get_report(report_id, actor=current_user)
    per_page = None if template.endswith("print.html") else PER_PAGE
    lines = (
        db.paginate(
            services.report_lines(report),
            page=request.args.get("page", 1, type=int),
            per_page=per_page,
            error_out=False,
        )
        if per_page
        else None
    )
    issuance_request = services.request_for(report, actor=current_user)
    return render_template(
        template,
        report=report,
        programme=report.programme,
        lines=lines,
        all_lines=report.lines if per_page is None else None,
        discrepancies=services.discrepancies(report),
        issuance_request=issuance_request,
        can_prepare=policies.can_prepare_reports(current_user, report.programme),
        flag_labels={flag.value: flag.label for flag in data_quality.QualityFlag},
        settings_help=services.SETTINGS_HELP,
        line_count=len(report.lines),
    )


@bp.get("/monitoring-reports/<int:report_id>")
@login_required
def report(report_id: int):
    return _report_page(report_id, "monitoring/report.html")


@bp.get("/monitoring-reports/<int:report_id>/print")
@login_required
def report_print(report_id: int):
    return _report_page(report_id, "monitoring/report_print.html")


@bp.get("/monitoring-reports/<int:report_id>/workbook.xlsx")
@login_required
def report_workbook(report_id: int):
    report = services.get_report(report_id, actor=current_user)
    name = f"{report.programme.reference}-{report.label}-ER-calculation.xlsx"
    return _attachment(exports.report_workbook(report), XLSX, name)


def _report_step(report_id: int, use_case, message: str):
    report = services.get_report(report_id, actor=current_user)
    perform(report, use_case, message)
    return redirect(url_for("monitoring.report", report_id=report_id))


@bp.post("/monitoring-reports/<int:report_id>/compute")
@login_required
def compute_report(report_id: int):
    return _report_step(report_id, services.compute_report, "{subject.label} recomputed from the readings.")


@bp.post("/monitoring-reports/<int:report_id>/submit")
@login_required
def submit_report(report_id: int):
    return _report_step(report_id, services.submit_report, "{subject.label} submitted and frozen.")


@bp.post("/monitoring-reports/<int:report_id>/reopen")
@login_required
def reopen_report(report_id: int):
    report = services.get_report(report_id, actor=current_user)
    reason = (request.form.get("reason") or "").strip()[:1000]
    perform(report, services.reopen_report, "{subject.label} is a draft again.", reason=reason)
    return redirect(url_for("monitoring.report", report_id=report_id))


@bp.post("/monitoring-reports/<int:report_id>/discard")
@login_required
def discard_report(report_id: int):
    report = services.get_report(report_id, actor=current_user)
    programme_id = report.programme_id
    if perform(report, services.discard_report, "{subject.label} discarded."):
        return redirect(url_for("monitoring.programme_monitoring", programme_id=programme_id))
    return redirect(url_for("monitoring.report", report_id=report_id))


@bp.post("/monitoring-reports/<int:report_id>/issuance-request")
@login_required
def request_issuance(report_id: int):
    report = services.get_report(report_id, actor=current_user)
    try:
        issuance_request = services.request_issuance(report, actor=current_user)
    except (InvalidInput, RuleViolation) as error:
        db.session.rollback()
        flash(describe(error), "error")
        return redirect(url_for("monitoring.report", report_id=report_id))
    db.session.commit()
    flash(f"{issuance_request.label} requests {issuance_request.credits_requested} credits.", "success")
    return redirect(url_for("monitoring.issuance_request", request_id=issuance_request.id))


@bp.get("/monitoring-lines/<int:line_id>")
@login_required
def line(line_id: int):
    line = services.get_line(line_id, actor=current_user)
    return render_template(
        "monitoring/line.html",
        line=line,
        report=line.report,
        programme=line.report.programme,
        flag_labels={flag.value: flag.label for flag in data_quality.QualityFlag},
    )


@bp.get("/issuance-requests/<int:request_id>")
@login_required
def issuance_request(request_id: int):
    issuance_request = services.get_request(request_id, actor=current_user)
    return render_template(
        "monitoring/request.html",
        issuance_request=issuance_request,
        programme=issuance_request.programme,
        report=issuance_request.report,
        can_withdraw=policies.can_prepare_reports(current_user, issuance_request.programme)
        and issuance_request.status in services.WITHDRAWABLE,
    )


@bp.post("/issuance-requests/<int:request_id>/withdraw")
@login_required
def withdraw_request(request_id: int):
    issuance_request = services.get_request(request_id, actor=current_user)
    perform(
        issuance_request,
        services.withdraw_request,
        "{subject.label} withdrawn.",
        reason=request.form.get("reason", ""),
    )
    return redirect(url_for("monitoring.issuance_request", request_id=request_id))
