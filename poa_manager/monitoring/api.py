"""JSON endpoints for monitoring: readings (files and logger batches), corrections, meter records,
monitoring reports and issuance requests."""

import csv
import io
from pathlib import Path

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest.fields import Upload
from marshmallow import Schema

from poa_manager import tasks
from poa_manager.api import api_blueprint
from poa_manager.api.pagination import page_of
from poa_manager.database import db, utcnow
from poa_manager.monitoring import jobs, readings_file, schemas, services
from poa_manager.monitoring.models import UploadSource
from poa_manager.programmes import services as programme_services
from poa_manager.sites import services as site_services

blp = api_blueprint(
    "monitoring_api", __name__, description="Meter readings, monitoring reports, issuance requests"
)


@blp.before_request
def _allow_readings_files() -> None:
    """Readings files may be larger than other requests; set before the arguments are parsed."""
    if request.endpoint == "monitoring_api.ProgrammeUploads":
        request.max_content_length = current_app.config["READINGS_MAX_UPLOAD_BYTES"]


class UploadRequest(Schema):
    file = Upload(required=True)


def _folder() -> Path:
    return Path(current_app.config["READINGS_UPLOAD_FOLDER"])


def _dispatch(upload):
    upload = jobs.dispatch_upload(
        upload, folder=_folder(), inline_max_bytes=current_app.config["READINGS_INLINE_MAX_BYTES"]
    )
    return _with_progress(upload)


def _with_progress(upload):
    upload.progress = None if upload.status.finished else tasks.progress_of(upload.id)
    return upload


@blp.route("/programmes/<int:programme_id>/reading-uploads")
class ProgrammeUploads(MethodView):
    @blp.response(200, schemas.UploadSchema(many=True))
    @blp.paginate()
    def get(self, programme_id, pagination_parameters):
        """Uploads of the programme's readings you may see, newest first"""
        programme = programme_services.get_programme(programme_id, actor=g.api_user)
        return page_of(services.list_uploads(g.api_user, programme=programme), pagination_parameters)

    @blp.arguments(UploadRequest, location="files")
    @blp.arguments(schemas.UploadFileForm, location="form")
    @blp.response(202, schemas.UploadSchema)
    def post(self, files, form, programme_id):
        """Send a CSV or XLSX readings file (one site or many); small files are checked at once.

        A file with any bad row writes nothing: the upload comes back `rejected` with its row
        errors. Large files are checked by the worker: poll the upload for status and progress.
        """
        programme = programme_services.get_programme(programme_id, actor=g.api_user)
        site = site_services.get_site(form["site_id"], actor=g.api_user) if form.get("site_id") else None
        upload, _new = services.receive_readings(
            programme,
            actor=g.api_user,
            filename=files["file"].filename or "upload.csv",
            stream=files["file"].stream,
            folder=_folder(),
            source=UploadSource.api,
            site=site,
            batch_id=form.get("batch_id"),
        )
        db.session.commit()
        return _dispatch(upload)


@blp.route("/sites/<int:site_id>/readings")
class SiteReadings(MethodView):
    @blp.arguments(schemas.ReadingQuery, location="query")
    @blp.response(200, schemas.ReadingSchema(many=True))
    @blp.paginate()
    def get(self, args, site_id, pagination_parameters):
        """The site's current readings (or every version), newest first"""
        site = site_services.get_site(site_id, actor=g.api_user)
        meter = (
            services.get_meter(args["meter_id"], actor=g.api_user, site=site) if args["meter_id"] else None
        )
        upload = services.get_upload(args["upload_id"], actor=g.api_user) if args["upload_id"] else None
        query = services.list_readings(
            site,
            actor=g.api_user,
            meter=meter,
            starts_from=int(args["starts_from"].timestamp()) if args["starts_from"] else None,
            ends_by=int(args["ends_by"].timestamp()) if args["ends_by"] else None,
            upload=upload,
            include_superseded=args["include_superseded"],
        )
        return page_of(query, pagination_parameters)

    @blp.arguments(schemas.ReadingBatch)
    @blp.response(202, schemas.UploadSchema)
    def post(self, batch, site_id):
        """Push a logger's batch of readings for one site; re-sending a batch stores nothing twice"""
        site = site_services.get_site(site_id, actor=g.api_user)
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(readings_file.TEMPLATE_COLUMNS)
        for reading in batch["readings"]:
            writer.writerow(
                [
                    site.reference,
                    reading["meter_serial"],
                    reading["reading_start"],
                    reading["reading_end"],
                    reading["value"],
                ]
            )
        upload, _new = services.receive_readings(
            site.programme,
            actor=g.api_user,
            filename=f"batch-{batch['batch_id']}.csv",
            stream=io.BytesIO(text.getvalue().encode()),
            folder=_folder(),
            source=UploadSource.api,
            site=site,
            batch_id=batch["batch_id"],
        )
        db.session.commit()
        return _dispatch(upload)


@blp.route("/reading-uploads/<int:upload_id>")
@blp.response(200, schemas.UploadSchema)
def get_upload(upload_id):
    """An upload: status, progress while it runs, counts, and its first row errors"""
    return _with_progress(services.get_upload(upload_id, actor=g.api_user))


READING = "/meters/<int:meter_id>/readings/<int:reading_end>/<int:version>"


@blp.route(READING)
@blp.response(200, schemas.ReadingDetailSchema)
def get_reading(meter_id, reading_end, version):
    """One reading (meter, end of interval in epoch seconds, version) with every version of it"""
    reading = services.get_reading(meter_id, reading_end, version, actor=g.api_user)
    reading.history = services.reading_history(reading)
    return reading


@blp.route(READING + "/corrections", methods=["POST"])
@blp.arguments(schemas.CorrectionSchema)
@blp.response(201, schemas.ReadingSchema)
def correct_reading(payload, meter_id, reading_end, version):
    """Supersede a reading with a corrected value and a reason; the original stays visible"""
    reading = services.get_reading(meter_id, reading_end, version, actor=g.api_user)
    corrected = services.correct_reading(reading, actor=g.api_user, **payload)
    db.session.commit()
    return corrected


@blp.route("/meters/<int:meter_id>/calibrations")
class Calibrations(MethodView):
    @blp.response(200, schemas.CalibrationSchema(many=True))
    def get(self, meter_id):
        """The meter's calibration history"""
        return services.calibration_history(services.get_meter(meter_id, actor=g.api_user))

    @blp.arguments(schemas.CalibrationSchema)
    @blp.response(201, schemas.CalibrationSchema)
    def post(self, payload, meter_id):
        """Record a calibration (and the error it found, for late calibrations)"""
        calibration = services.record_calibration(
            services.get_meter(meter_id, actor=g.api_user), actor=g.api_user, **payload
        )
        db.session.commit()
        return calibration


@blp.route("/meters/<int:meter_id>/replacement", methods=["POST"])
@blp.arguments(schemas.ReplacementSchema)
@blp.response(201, schemas.ReplacementSchema)
def replace_meter(payload, meter_id):
    """Replace a meter: the old one's final reading, the new one's serial and first reading"""
    replacement = services.replace_meter(
        services.get_meter(meter_id, actor=g.api_user), actor=g.api_user, **payload
    )
    db.session.commit()
    return replacement


@blp.route("/programmes/<int:programme_id>/monitoring-reports")
class ProgrammeReports(MethodView):
    @blp.response(200, schemas.ReportSchema(many=True))
    @blp.paginate()
    def get(self, programme_id, pagination_parameters):
        """The programme's monitoring reports, newest first"""
        programme = programme_services.get_programme(programme_id, actor=g.api_user)
        return page_of(services.list_reports(g.api_user, programme=programme), pagination_parameters)

    @blp.arguments(schemas.OpenReportSchema)
    @blp.response(201, schemas.ReportSchema)
    def post(self, payload, programme_id):
        """Close a monitoring period: a draft report computed from every monitored site"""
        programme = programme_services.get_programme(programme_id, actor=g.api_user)
        report = services.open_report(
            programme,
            actor=g.api_user,
            period_start=payload["period_start"],
            period_end=payload["period_end"],
            settings=payload["settings"],
            today=utcnow().date(),
        )
        db.session.commit()
        return report


@blp.route("/monitoring-reports/<int:report_id>")
class Report(MethodView):
    @blp.response(200, schemas.ReportSchema)
    def get(self, report_id):
        """A monitoring report's totals and the settings it was computed with"""
        return services.get_report(report_id, actor=g.api_user)

    @blp.response(204)
    def delete(self, report_id):
        """Discard a draft report"""
        services.discard_report(services.get_report(report_id, actor=g.api_user), actor=g.api_user)
        db.session.commit()


@blp.route("/monitoring-reports/<int:report_id>/lines")
@blp.response(200, schemas.LineDetailSchema(many=True))
@blp.paginate()
def report_lines(report_id, pagination_parameters):
    """The report's site lines with every input, in site order"""
    report = services.get_report(report_id, actor=g.api_user)
    return page_of(services.report_lines(report), pagination_parameters)


@blp.route("/monitoring-reports/<int:report_id>/compute", methods=["POST"])
@blp.response(200, schemas.ReportSchema)
def compute_report(report_id):
    """Recompute a draft from the readings as they are now"""
    report = services.get_report(report_id, actor=g.api_user)
    services.compute_report(report, actor=g.api_user)
    db.session.commit()
    return report


@blp.route("/monitoring-reports/<int:report_id>/submit", methods=["POST"])
@blp.response(200, schemas.ReportSchema)
def submit_report(report_id):
    """Freeze the report; later reading changes show as discrepancies"""
    report = services.get_report(report_id, actor=g.api_user)
    services.submit_report(report, actor=g.api_user)
    db.session.commit()
    return report


@blp.route("/monitoring-reports/<int:report_id>/reopen", methods=["POST"])
@blp.arguments(schemas.ReopenSchema)
@blp.response(200, schemas.ReportSchema)
def reopen_report(payload, report_id):
    """Take a submitted report back to draft (before issuance is requested), with a reason"""
    report = services.get_report(report_id, actor=g.api_user)
    services.reopen_report(report, actor=g.api_user, **payload)
    db.session.commit()
    return report


@blp.route("/monitoring-reports/<int:report_id>/discrepancies")
@blp.response(200, schemas.DiscrepancySchema(many=True))
def report_discrepancies(report_id):
    """Differences between the submitted numbers and what the readings give now"""
    return services.discrepancies(services.get_report(report_id, actor=g.api_user))


@blp.route("/monitoring-reports/<int:report_id>/issuance-request", methods=["POST"])
@blp.response(201, schemas.RequestDetailSchema)
def request_issuance(report_id):
    """Request issuance for a submitted report: every site, its period and its claimed ERs"""
    report = services.get_report(report_id, actor=g.api_user)
    issuance_request = services.request_issuance(report, actor=g.api_user)
    db.session.commit()
    return issuance_request


@blp.route("/programmes/<int:programme_id>/issuance-requests")
@blp.response(200, schemas.RequestSchema(many=True))
@blp.paginate()
def programme_requests(programme_id, pagination_parameters):
    """The programme's issuance requests, newest first"""
    programme = programme_services.get_programme(programme_id, actor=g.api_user)
    return page_of(services.list_requests(g.api_user, programme=programme), pagination_parameters)


@blp.route("/issuance-requests/<int:request_id>")
@blp.response(200, schemas.RequestDetailSchema)
def get_request(request_id):
    """An issuance request with its site lines"""
    return services.get_request(request_id, actor=g.api_user)


@blp.route("/issuance-requests/<int:request_id>/withdraw", methods=["POST"])
@blp.arguments(schemas.ReopenSchema)
@blp.response(200, schemas.RequestSchema)
def withdraw_request(payload, request_id):
    """Withdraw a submitted or returned request, with a reason; it stays as evidence"""
    issuance_request = services.get_request(request_id, actor=g.api_user)
    services.withdraw_request(issuance_request, actor=g.api_user, **payload)
    db.session.commit()
    return issuance_request


# --- data series behind the charts (docs/charts.md) ---------------------------------------------


@blp.route("/meters/<int:meter_id>/daily-energy")
@blp.arguments(schemas.DailyEnergyArgs, location="query")
@blp.response(200, schemas.MeterDailyEnergySchema)
def meter_daily_energy(args, meter_id):
    """A meter's energy per site-local day: kWh (null where no reading ends that day), readings
    and flagged readings; by default the last 365 days up to its latest reading"""
    return services.meter_daily_energy(
        meter_id, actor=g.api_user, first_day=args.get("from_"), last_day=args.get("to")
    )


@blp.route("/monitoring-reports/<int:report_id>/site-emission-reductions")
@blp.response(200, schemas.SiteReductionSchema(many=True))
@blp.paginate()
def report_site_reductions(report_id, pagination_parameters):
    """The report's ER per site (its lines summed over vintage windows), largest first"""
    _report, rows = services.report_site_reductions(report_id, actor=g.api_user)
    pagination_parameters.item_count = len(rows)
    return rows[pagination_parameters.first_item : pagination_parameters.last_item + 1]


@blp.route("/programmes/<int:programme_id>/emission-reductions-by-period")
@blp.response(200, schemas.PeriodReductionsSchema(many=True))
def programme_period_reductions(programme_id):
    """ER of each monitoring report of the programme, per vintage, in period order"""
    return services.programme_period_reductions(programme_id, actor=g.api_user)
