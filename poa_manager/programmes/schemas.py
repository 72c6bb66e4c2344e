"""API schemas for programmes, their design versions and memberships."""

from marshmallow import Schema, fields, validate

from poa_manager.accounts.roles import Role
from poa_manager.accounts.schemas import MembershipSchema
from poa_manager.programmes.models import ProgrammeStatus, VersionStatus
from poa_manager.programmes.rules import CreditingPeriodType, InclusionRoute, Mechanism, SamplingRule
from poa_manager.schema_fields import JsonBoolean

COUNTRY = validate.Regexp(r"^[A-Za-z]{2}$", error="Two letters (ISO 3166-1 alpha-2).")
DECIMAL_TEXT = validate.Regexp(
    r"^\d+(\.\d+)?$", error='A non-negative decimal number as text, e.g. "0.6592".'
)


class SiteSummarySchema(Schema):
    id = fields.Integer()
    reference = fields.String()
    name = fields.String()


class DesignFields(Schema):
    """The design of one version; the same names in requests and responses."""

    methodology_code = fields.String(allow_none=True, validate=validate.Length(max=40))
    methodology_version = fields.String(allow_none=True, validate=validate.Length(max=20))
    boundary = fields.Dict(
        allow_none=True,
        metadata={
            "description": 'Either {"geojson": <Polygon or MultiPolygon>} or {"codes": ["VN-57", ...]}'
        },
    )
    start_date = fields.Date(allow_none=True)
    duration_years = fields.Integer(allow_none=True, strict=True, validate=validate.Range(1, 28))
    crediting_period_type = fields.Enum(CreditingPeriodType, by_value=True)
    crediting_period_years = fields.Integer(strict=True, validate=validate.Range(1, 10))
    max_renewals = fields.Integer(strict=True, validate=validate.Range(0, 2))
    inclusion_route = fields.Enum(InclusionRoute, by_value=True)
    sampling_rule = fields.Enum(SamplingRule, by_value=True)
    grid_emission_factor_overrides = fields.Dict(
        keys=fields.String(validate=validate.Regexp(r"^\d{4}$")),
        values=fields.String(validate=DECIMAL_TEXT),
        metadata={"description": 'Own factors in tCO2/MWh by year, e.g. {"2023": "0.6592"}'},
    )
    support_tiers = fields.List(
        fields.Tuple((fields.Integer(validate=validate.Range(min=1)), fields.String(validate=DECIMAL_TEXT))),
        metadata={"description": "[replication order, rate] pairs; unconfirmed default"},
    )
    monitoring_plan = fields.Dict(keys=fields.String(), values=fields.String())


class ProgrammeVersionSchema(DesignFields):
    id = fields.Integer(dump_only=True)
    number = fields.Integer(dump_only=True)
    status = fields.Enum(VersionStatus, by_value=True, dump_only=True)
    change_summary = fields.String(allow_none=True, dump_only=True)
    eligibility_criteria = fields.List(fields.Dict(), dump_only=True)
    created_by_id = fields.Integer(allow_none=True, dump_only=True)
    submitted_by_id = fields.Integer(allow_none=True, dump_only=True)
    submitted_at = fields.DateTime(allow_none=True, dump_only=True)
    validated_by_id = fields.Integer(allow_none=True, dump_only=True)
    validated_by_organisation_id = fields.Integer(allow_none=True, dump_only=True)
    validated_at = fields.DateTime(allow_none=True, dump_only=True)
    registered_by_id = fields.Integer(allow_none=True, dump_only=True)
    registered_at = fields.DateTime(allow_none=True, dump_only=True)
    returned_reason = fields.String(allow_none=True, dump_only=True)


class ProgrammeSchema(Schema):
    id = fields.Integer(dump_only=True)
    reference = fields.String()
    title = fields.String()
    mechanism = fields.Enum(Mechanism, by_value=True)
    host_country = fields.String()
    partner_country = fields.String(allow_none=True)
    coordinating_entity_id = fields.Integer()
    status = fields.Enum(ProgrammeStatus, by_value=True, dump_only=True)
    inclusion_hold = JsonBoolean(dump_only=True)
    issuance_hold = JsonBoolean(dump_only=True)
    hold_reason = fields.String(allow_none=True, dump_only=True)
    current_version = fields.Nested(ProgrammeVersionSchema, allow_none=True, dump_only=True)
    pending_version = fields.Nested(ProgrammeVersionSchema, allow_none=True, dump_only=True)
    sites = fields.List(fields.Nested(SiteSummarySchema), dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class CreateProgrammeRequest(DesignFields):
    reference = fields.String(required=True, validate=validate.Length(min=1, max=40))
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    mechanism = fields.Enum(Mechanism, by_value=True, required=True)
    host_country = fields.String(required=True, validate=COUNTRY)
    partner_country = fields.String(load_default=None, allow_none=True, validate=COUNTRY)
    coordinating_entity_id = fields.Integer(required=True, strict=True)


class UpdateProgrammeRequest(DesignFields):
    title = fields.String(validate=validate.Length(min=1, max=300))
    host_country = fields.String(validate=COUNTRY)
    partner_country = fields.String(allow_none=True, validate=COUNTRY)


class ReasonRequest(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class RevisionRequest(Schema):
    change_summary = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class HoldsRequest(Schema):
    inclusion_hold = JsonBoolean(required=True)
    issuance_hold = JsonBoolean(required=True)
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class ProgrammeMembershipSchema(MembershipSchema):
    user_email = fields.String(attribute="user.email", dump_only=True)


class GrantRoleRequest(Schema):
    user_id = fields.Integer(required=True, strict=True)
    role = fields.Enum(Role, by_value=True, required=True)
    site_id = fields.Integer(load_default=None, allow_none=True, strict=True)
