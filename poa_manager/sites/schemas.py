"""API schemas for sites, meters, eligibility checks, inclusion and criteria."""

from decimal import Decimal

from marshmallow import Schema, fields, validate

from poa_manager.schema_fields import JsonBoolean
from poa_manager.sites.eligibility import CriterionKind
from poa_manager.sites.models import CheckOutcome, MeterRole, MeterUnit, ReadingType, SiteStatus

SERIAL = validate.Length(min=1, max=60)
# The largest values their columns hold (sites.capacity_kw Numeric(12, 3), meters.multiplier
# Numeric(12, 4)).
MAX_CAPACITY_KW = Decimal("999999999.999")
MAX_MULTIPLIER = Decimal("99999999.9999")
ATTRIBUTES_HELP = (
    'Methodology facts: "applicability" answers its conditions by code ({"AC-1": true}); '
    '"equipment_models" and "oda_not_diverted" feed the technology and funding criteria.'
)


class MeterSchema(Schema):
    serial = fields.String(required=True, validate=SERIAL)
    role = fields.Enum(MeterRole, by_value=True, load_default=MeterRole.generation)
    accuracy_class = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=10))
    calibrated_on = fields.Date(load_default=None, allow_none=True)
    calibration_valid_until = fields.Date(load_default=None, allow_none=True)
    unit = fields.Enum(MeterUnit, by_value=True, load_default=MeterUnit.kWh)
    multiplier = fields.Decimal(
        load_default=Decimal(1),
        as_string=True,
        validate=validate.Range(min=Decimal("0.0001"), max=MAX_MULTIPLIER),
    )
    reading_type = fields.Enum(ReadingType, by_value=True, load_default=ReadingType.interval)
    register_digits = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(1, 12))
    max_permissible_error_percent = fields.Decimal(
        load_default=None, allow_none=True, as_string=True, validate=validate.Range(min=0, max=10)
    )


class SiteFields(Schema):
    """The facts of a site; the same names as the form and the service."""

    name = fields.String(validate=validate.Length(min=1, max=200))
    operator_organisation_id = fields.Integer(allow_none=True, strict=True)
    latitude = fields.Decimal(allow_none=True, places=6, as_string=True, validate=validate.Range(-90, 90))
    longitude = fields.Decimal(allow_none=True, places=6, as_string=True, validate=validate.Range(-180, 180))
    area_code = fields.String(allow_none=True, validate=validate.Regexp(r"^[A-Za-z]{2}(-[A-Za-z0-9]{1,3})?$"))
    timezone = fields.String(
        allow_none=True,
        validate=validate.Length(max=40),
        metadata={"description": "IANA name; readings without a UTC offset are read in it"},
    )
    technology = fields.String(allow_none=True, validate=validate.Length(max=60))
    # The column's Numeric(12, 3) bounds it; documented, so no client is surprised by a refusal.
    capacity_kw = fields.Decimal(
        allow_none=True, places=3, as_string=True, validate=validate.Range(min=0, max=MAX_CAPACITY_KW)
    )
    commissioned_on = fields.Date(allow_none=True)
    equipment_serials = fields.List(fields.String(validate=SERIAL))
    documents = fields.List(
        fields.String(validate=validate.Length(min=1, max=60)),
        metadata={"description": 'Document kinds present, e.g. ["cpa_dd", "eia"]'},
    )
    financial_support_declared = JsonBoolean(allow_none=True)
    funding_sources = fields.String(allow_none=True, validate=validate.Length(max=500))
    attributes = fields.Dict(metadata={"description": ATTRIBUTES_HELP})
    meters = fields.List(fields.Nested(MeterSchema))


class CreateSiteRequest(SiteFields):
    reference = fields.String(required=True, validate=validate.Length(min=1, max=40))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))


class UpdateSiteRequest(SiteFields):
    pass


class SiteSchema(SiteFields):
    id = fields.Integer(dump_only=True)
    programme_id = fields.Integer(dump_only=True)
    reference = fields.String(dump_only=True)
    status = fields.Enum(SiteStatus, by_value=True, dump_only=True)
    checked_against_version_id = fields.Integer(allow_none=True, dump_only=True)
    included_on = fields.Date(allow_none=True, dump_only=True)
    included_by_id = fields.Integer(allow_none=True, dump_only=True)
    inclusion_confirmed_by_id = fields.Integer(allow_none=True, dump_only=True)
    crediting_start = fields.Date(allow_none=True, dump_only=True)
    crediting_end = fields.Date(allow_none=True, dump_only=True)
    renewals_left = fields.Integer(allow_none=True, dump_only=True)
    replication_order = fields.Integer(allow_none=True, dump_only=True)
    support_rate = fields.Decimal(allow_none=True, as_string=True, dump_only=True)
    review_reason = fields.String(allow_none=True, dump_only=True)
    credits_to_replace = fields.Integer(allow_none=True, dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class SiteQueryArgs(Schema):
    status = fields.Enum(SiteStatus, by_value=True, load_default=None)
    search = fields.String(load_default=None, validate=validate.Length(max=100))


class CriterionResultSchema(Schema):
    code = fields.String()
    description = fields.String()
    kind = fields.String()
    outcome = fields.String(metadata={"description": "passed, failed or needs_review"})
    observed = fields.String()
    reason = fields.String()


class EligibilityCheckSchema(Schema):
    id = fields.Integer()
    site_id = fields.Integer()
    programme_version_id = fields.Integer()
    checked_on = fields.Date()
    checked_by_id = fields.Integer(allow_none=True)
    outcome = fields.Enum(CheckOutcome, by_value=True)
    criteria = fields.List(fields.Dict())
    results = fields.List(fields.Nested(CriterionResultSchema))
    created_at = fields.DateTime()


class CheckEligibilityRequest(Schema):
    checked_on = fields.Date(load_default=None, metadata={"description": "Defaults to today"})


class IncludeSitesRequest(Schema):
    site_ids = fields.List(
        fields.Integer(strict=True), required=True, validate=validate.Length(min=1, max=5000)
    )
    included_on = fields.Date(required=True)
    crediting_start = fields.Date(load_default=None, allow_none=True)


class ConfirmInclusionRequest(Schema):
    included_on = fields.Date(required=True)


class SiteReasonRequest(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class ExcludeRequest(SiteReasonRequest):
    credits_to_replace = fields.Integer(load_default=0, strict=True, validate=validate.Range(min=0))


class CriterionSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=20))
    description = fields.String(required=True, validate=validate.Length(min=1, max=500))
    kind = fields.Enum(CriterionKind, by_value=True, required=True)
    params = fields.Dict(load_default=dict)


class CriteriaRequest(Schema):
    criteria = fields.List(fields.Nested(CriterionSchema), required=True)


class ExternalIdentifierSchema(Schema):
    kind = fields.String()
    value = fields.String()


class ExternalRegistrationSchema(Schema):
    id = fields.Integer()
    registry_name = fields.String()
    identifier = fields.String()
    name = fields.String(allow_none=True)
    latitude = fields.Decimal(allow_none=True, as_string=True)
    longitude = fields.Decimal(allow_none=True, as_string=True)
    technology = fields.String(allow_none=True)
    crediting_start = fields.Date(allow_none=True)
    crediting_end = fields.Date(allow_none=True)
    identifiers = fields.List(fields.Nested(ExternalIdentifierSchema))


class ImportCountsSchema(Schema):
    created = fields.Integer()
    updated = fields.Integer()


class SiteImportSchema(Schema):
    imported = fields.Integer()
    checked = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        metadata={"description": "Sites per eligibility outcome, when checked"},
    )
    site_ids = fields.List(fields.Integer())
