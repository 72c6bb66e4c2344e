"""API schemas for readings, uploads, meter records, monitoring reports and issuance requests."""

from marshmallow import Schema, fields, validate

from poa_manager.monitoring.data_quality import GapFill
from poa_manager.monitoring.models import ReportStatus, RequestStatus, UploadSource, UploadStatus
from poa_manager.schema_fields import JsonBoolean
from poa_manager.sites.models import MeterUnit, ReadingType

DECIMAL = {"as_string": True}


class UploadQuery(Schema):
    programme_id = fields.Integer(load_default=None)
    site_id = fields.Integer(load_default=None)


class UploadFileForm(Schema):
    site_id = fields.Integer(load_default=None, metadata={"description": "Limit the file to one site"})
    batch_id = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Re-sending the same batch id with the same file is a no-op"},
    )


class UploadFile(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class RowErrorSchema(Schema):
    row = fields.Integer()
    column = fields.String()
    code = fields.String()
    message = fields.String()
    value = fields.String()


class ProgressSchema(Schema):
    phase = fields.String()
    done = fields.Integer()
    total = fields.Integer(allow_none=True)


class UploadSchema(Schema):
    id = fields.Integer()
    programme_id = fields.Integer()
    site_id = fields.Integer(allow_none=True)
    uploaded_by_id = fields.Integer()
    uploaded_at = fields.DateTime()
    source = fields.Enum(UploadSource, by_value=True)
    filename = fields.String(allow_none=True)
    content_sha256 = fields.String()
    byte_size = fields.Integer()
    batch_id = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    status = fields.Enum(UploadStatus, by_value=True)
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    rows_total = fields.Integer()
    rows_written = fields.Integer()
    rows_already_stored = fields.Integer()
    error_count = fields.Integer()
    errors = fields.List(fields.Nested(RowErrorSchema))
    failure = fields.String(allow_none=True)
    progress = fields.Nested(ProgressSchema, allow_none=True, dump_only=True)


class ApiReading(Schema):
    meter_serial = fields.String(required=True, validate=validate.Length(min=1, max=60))
    reading_start = fields.String(
        load_default="", metadata={"description": "ISO 8601 with offset; blank for cumulative registers"}
    )
    reading_end = fields.String(required=True, metadata={"description": "ISO 8601 with offset"})
    value = fields.Decimal(required=True, **DECIMAL, metadata={"description": "In the meter's unit"})


class ReadingBatch(Schema):
    batch_id = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "The logger's id for this batch: sending it again stores nothing twice"},
    )
    readings = fields.List(
        fields.Nested(ApiReading), required=True, validate=validate.Length(min=1, max=50_000)
    )


class ReadingQuery(Schema):
    meter_id = fields.Integer(load_default=None)
    starts_from = fields.AwareDateTime(load_default=None)
    ends_by = fields.AwareDateTime(load_default=None)
    upload_id = fields.Integer(load_default=None)
    include_superseded = fields.Boolean(load_default=False)


class ReadingSchema(Schema):
    meter_id = fields.Integer()
    meter_serial = fields.String(attribute="meter.serial")
    reading_start = fields.DateTime(attribute="starts_at")
    reading_end = fields.DateTime(attribute="ends_at")
    energy_wh = fields.Integer()
    register_wh = fields.Integer(allow_none=True)
    flags = fields.Integer()
    version = fields.Integer(metadata={"description": "1 as delivered; each correction adds one"})
    upload_id = fields.Integer()
    url = fields.Method("_url", metadata={"description": "This reading in the API"})

    def _url(self, reading) -> str:
        return f"/api/v1/meters/{reading.meter_id}/readings/{reading.reading_end}/{reading.version}"


class ReadingDetailSchema(ReadingSchema):
    history = fields.List(fields.Nested(ReadingSchema), dump_only=True)


class CorrectionSchema(Schema):
    value = fields.Decimal(required=True, **DECIMAL, metadata={"description": "Energy in the meter's unit"})
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class CalibrationSchema(Schema):
    id = fields.Integer(dump_only=True)
    meter_id = fields.Integer(dump_only=True)
    calibrated_on = fields.Date(required=True)
    valid_until = fields.Date(required=True)
    error_found_percent = fields.Decimal(
        load_default=None, allow_none=True, **DECIMAL, validate=validate.Range(min=-100, max=100)
    )
    certificate_reference = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=120)
    )


class ReplacementSchema(Schema):
    id = fields.Integer(dump_only=True)
    old_meter_id = fields.Integer(dump_only=True)
    new_meter_id = fields.Integer(dump_only=True)
    replaced_at = fields.AwareDateTime(required=True)
    old_final_reading = fields.Decimal(required=True, **DECIMAL, validate=validate.Range(min=0))
    new_serial = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=60))
    new_first_reading = fields.Decimal(required=True, **DECIMAL, validate=validate.Range(min=0))
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))
    accuracy_class = fields.String(load_default=None, load_only=True, validate=validate.Length(max=10))
    calibrated_on = fields.Date(load_default=None, load_only=True)
    calibration_valid_until = fields.Date(load_default=None, load_only=True)
    unit = fields.Enum(MeterUnit, by_value=True, load_default=None, load_only=True)
    reading_type = fields.Enum(ReadingType, by_value=True, load_default=None, load_only=True)
    register_digits = fields.Integer(load_default=None, load_only=True, validate=validate.Range(1, 12))


class ReportSettingsSchema(Schema):
    gap_fill = fields.Enum(GapFill, by_value=True, load_default=None)
    completeness_threshold_percent = fields.Decimal(
        load_default=None, **DECIMAL, validate=validate.Range(min=0, max=100)
    )
    apply_found_error_beyond_mpe = JsonBoolean(load_default=None)


class OpenReportSchema(Schema):
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    settings = fields.Nested(ReportSettingsSchema, load_default=dict)


class ReopenSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class LineMeterSchema(Schema):
    meter_id = fields.Integer()
    role = fields.String()
    reading_count = fields.Integer()
    covered_s = fields.Integer()
    energy_wh = fields.Integer()
    lapsed_energy_wh = fields.Integer()
    lapsed_days = fields.List(fields.List(fields.String()))
    adjustment_wh = fields.Decimal(**DECIMAL)
    filled_wh = fields.Integer()
    completeness_percent = fields.Decimal(**DECIMAL)
    rollovers = fields.Integer()


class LineSchema(Schema):
    id = fields.Integer()
    site_id = fields.Integer()
    site_reference = fields.String()
    window_start = fields.Date()
    window_end = fields.Date()
    vintage = fields.Integer()
    reading_count = fields.Integer()
    export_wh = fields.Decimal(**DECIMAL)
    import_wh = fields.Decimal(**DECIMAL)
    net_wh = fields.Decimal(**DECIMAL)
    counted_wh = fields.Decimal(**DECIMAL)
    completeness_percent = fields.Decimal(**DECIMAL)
    flags = fields.List(fields.String())
    problem = fields.String(allow_none=True)
    parameters = fields.Dict(keys=fields.String(), values=fields.String())
    sources = fields.Dict(keys=fields.String(), values=fields.String())
    baseline_tco2e = fields.Decimal(**DECIMAL)
    project_tco2e = fields.Decimal(**DECIMAL)
    leakage_tco2e = fields.Decimal(**DECIMAL)
    emission_reductions_tco2e = fields.Decimal(**DECIMAL)


class LineDetailSchema(LineSchema):
    meters = fields.List(fields.Nested(LineMeterSchema))


class ReportSchema(Schema):
    id = fields.Integer()
    label = fields.String()
    programme_id = fields.Integer()
    number = fields.Integer()
    period_start = fields.Date()
    period_end = fields.Date()
    status = fields.Enum(ReportStatus, by_value=True)
    methodology_code = fields.String(allow_none=True)
    methodology_version = fields.String(allow_none=True)
    programme_version_number = fields.Integer(allow_none=True)
    settings = fields.Dict()
    total_tco2e = fields.Decimal(**DECIMAL)
    computed_at = fields.DateTime(allow_none=True)
    submitted_at = fields.DateTime(allow_none=True)


class DiscrepancySchema(Schema):
    site_reference = fields.String()
    window_start = fields.Date()
    field = fields.String()
    frozen = fields.Decimal(**DECIMAL)
    current = fields.Decimal(**DECIMAL)


class RequestLineSchema(Schema):
    id = fields.Integer()
    monitoring_line_id = fields.Integer()
    site_id = fields.Integer()
    site_reference = fields.String()
    period_start = fields.Date()
    period_end = fields.Date()
    vintage = fields.Integer()
    claimed_tco2e = fields.Decimal(**DECIMAL)


class RequestSchema(Schema):
    id = fields.Integer()
    label = fields.String()
    programme_id = fields.Integer()
    report_id = fields.Integer()
    number = fields.Integer()
    status = fields.Enum(RequestStatus, by_value=True)
    claimed_tco2e = fields.Decimal(**DECIMAL)
    credits_requested = fields.Integer()
    requested_by_id = fields.Integer()
    requested_at = fields.DateTime()
    withdrawn_reason = fields.String(allow_none=True)


class RequestDetailSchema(RequestSchema):
    lines = fields.List(fields.Nested(RequestLineSchema))


class ProgrammeQuery(Schema):
    programme_id = fields.Integer(load_default=None)


# --- chart data series (docs/charts.md) -------------------------------------------------------------


class DailyEnergyArgs(Schema):
    from_ = fields.Date(
        data_key="from", metadata={"description": "First site-local day (default: 364 days before `to`)"}
    )
    to = fields.Date(metadata={"description": "Last site-local day (default: the day of the latest reading)"})


class DayEnergySchema(Schema):
    day = fields.Date()
    energy_kwh = fields.Decimal(
        allow_none=True, **DECIMAL, metadata={"description": "Null when no reading ends that day (a gap)"}
    )
    readings = fields.Integer()
    flagged = fields.Integer(metadata={"description": "Readings carrying a data-quality flag"})


class MeterDailyEnergySchema(Schema):
    meter_id = fields.Integer(attribute="meter.id")
    serial = fields.String(attribute="meter.serial")
    timezone = fields.String(metadata={"description": "The zone whose midnights bound the days"})
    first_day = fields.Date(allow_none=True)
    last_day = fields.Date(allow_none=True)
    days = fields.List(fields.Nested(DayEnergySchema))


class SiteReductionSchema(Schema):
    site_id = fields.Integer()
    site_reference = fields.String()
    emission_reductions_tco2e = fields.Decimal(**DECIMAL)


class PeriodReductionsSchema(Schema):
    report_id = fields.Integer()
    label = fields.String()
    period_start = fields.Date()
    period_end = fields.Date()
    status = fields.String()
    total_tco2e = fields.Decimal(**DECIMAL)
    vintages = fields.Function(
        lambda p: [{"vintage": v, "emission_reductions_tco2e": str(er)} for v, er in p.by_vintage.items()],
        metadata={"description": "[{vintage, emission_reductions_tco2e}] in vintage order"},
    )
