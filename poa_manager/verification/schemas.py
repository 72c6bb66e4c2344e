"""API schemas for verifications: assignment, team, sampling plan and draw, findings, statement."""

from marshmallow import Schema, fields, validate

from poa_manager.schema_fields import JsonBoolean
from poa_manager.verification.models import (
    Allocation,
    CheckMethod,
    FindingOutcome,
    Opinion,
    ParameterKind,
    PopulationDecision,
    VerificationStatus,
)

DECIMAL = {"as_string": True}
SHARE = {"places": 3, "validate": validate.Range(min=0, max=1, max_inclusive=False)}


class AssignSchema(Schema):
    organisation_id = fields.Integer(required=True, metadata={"description": "A verifier organisation"})
    team_user_ids = fields.List(fields.Integer(), required=True, validate=validate.Length(min=1))
    lead_user_id = fields.Integer(load_default=None)
    due_on = fields.Date(load_default=None)


class TeamSchema(Schema):
    team_user_ids = fields.List(fields.Integer(), required=True, validate=validate.Length(min=1))
    lead_user_id = fields.Integer(load_default=None)


class ReasonSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class TeamMemberSchema(Schema):
    user_id = fields.Integer()
    email = fields.String(attribute="user.email")
    full_name = fields.String(attribute="user.full_name")
    is_lead = JsonBoolean()


class PlanSchema(Schema):
    """A sampling plan (domain.md §2.2–2.3); confidence and precision as shares, e.g. 0.90 and 0.10."""

    parameter_kind = fields.Enum(ParameterKind, by_value=True, load_default=ParameterKind.mean)
    confidence = fields.Decimal(required=True, **SHARE)
    relative_precision = fields.Decimal(required=True, **SHARE)
    expected_cv = fields.Decimal(
        load_default=None, places=3, validate=validate.Range(min=0, min_inclusive=False, max=100)
    )
    expected_proportion = fields.Decimal(load_default=None, **SHARE)
    non_response = fields.Decimal(load_default=0, **SHARE)
    stratify_by = fields.String(load_default=None, validate=validate.Length(max=80))
    allocation = fields.Enum(Allocation, by_value=True, load_default=Allocation.proportional)
    notes = fields.String(load_default=None, validate=validate.Length(max=2000))


class DrawSchema(PlanSchema):
    seed = fields.Integer(
        load_default=None,
        validate=validate.Range(min=0, max=2**63 - 1),
        metadata={"description": "Leave out to let the platform pick one; it is stored either way"},
    )


class ExtendSchema(Schema):
    additional = fields.Integer(required=True, validate=validate.Range(min=1))


class VerificationSchema(Schema):
    id = fields.Integer()
    label = fields.String()
    programme_id = fields.Integer()
    request_id = fields.Integer()
    request_label = fields.String(attribute="request.label")
    verifier_organisation_id = fields.Integer()
    verifier_organisation = fields.String(attribute="verifier_organisation.name")
    status = fields.Enum(VerificationStatus, by_value=True)
    impartiality_rule = fields.String()
    assigned_at = fields.DateTime()
    due_on = fields.Date(allow_none=True)
    team = fields.List(fields.Nested(TeamMemberSchema))
    parameter_kind = fields.Enum(ParameterKind, by_value=True)
    confidence = fields.Decimal(**DECIMAL)
    relative_precision = fields.Decimal(**DECIMAL)
    expected_cv = fields.Decimal(allow_none=True, **DECIMAL)
    expected_proportion = fields.Decimal(allow_none=True, **DECIMAL)
    non_response = fields.Decimal(**DECIMAL)
    stratify_by = fields.String(allow_none=True)
    allocation = fields.Enum(Allocation, by_value=True)
    sample_size = fields.Integer(allow_none=True)
    sample_size_detail = fields.Dict()
    strata = fields.Dict()
    seed = fields.String(allow_none=True, metadata={"description": "As a string: it may exceed 2⁵³"})
    frame_sha256 = fields.String(allow_none=True)
    drawn_at = fields.DateTime(allow_none=True)
    opinion = fields.Enum(Opinion, by_value=True, allow_none=True)
    verified_tco2e = fields.Decimal(allow_none=True, **DECIMAL)
    credits_verified = fields.Integer(allow_none=True)
    summary = fields.String(allow_none=True)
    results = fields.Dict()
    drafted_by_id = fields.Integer(allow_none=True)
    drafted_at = fields.DateTime(allow_none=True)
    approved_by_id = fields.Integer(allow_none=True)
    approved_at = fields.DateTime(allow_none=True)


class FrameQuery(Schema):
    sampled = fields.Boolean(load_default=False, metadata={"description": "Only the sampled sites"})


class FrameEntrySchema(Schema):
    site_id = fields.Integer()
    site_reference = fields.String()
    stratum = fields.String()
    claimed_tco2e = fields.Decimal(**DECIMAL)
    sampled = JsonBoolean(attribute="is_sampled")
    draw_round = fields.Integer(allow_none=True)
    draw_order = fields.Integer(allow_none=True)
    problems = fields.List(fields.String())
    population_decision = fields.Enum(PopulationDecision, by_value=True, allow_none=True)
    population_note = fields.String(allow_none=True)
    verified_tco2e = fields.Decimal(allow_none=True, **DECIMAL)
    outcome = fields.Enum(FindingOutcome, by_value=True, allow_none=True)
    method = fields.Enum(CheckMethod, by_value=True, allow_none=True)
    evidence = fields.String(allow_none=True)
    recorded_by_id = fields.Integer(allow_none=True)
    recorded_at = fields.DateTime(allow_none=True)


class FindingSchema(Schema):
    verified_tco2e = fields.Decimal(required=True, validate=validate.Range(min=0))
    outcome = fields.Enum(FindingOutcome, by_value=True, required=True)
    method = fields.Enum(CheckMethod, by_value=True, required=True)
    evidence = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class PopulationDecisionSchema(Schema):
    decision = fields.Enum(PopulationDecision, by_value=True, required=True)
    note = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class StatementSchema(Schema):
    opinion = fields.Enum(Opinion, by_value=True, required=True)
    summary = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class ResultsSchema(Schema):
    """The figures as computed now from the findings; the statement keeps them as issued."""

    population = fields.Integer()
    sampled = fields.Integer()
    with_findings = fields.Integer()
    errors = fields.Integer()
    non_conformities = fields.Integer()
    claimed_tco2e = fields.String()
    excluded_tco2e = fields.String()
    basis_tco2e = fields.String()
    ratio = fields.String(allow_none=True)
    lower = fields.String(allow_none=True)
    upper = fields.String(allow_none=True)
    standard_error = fields.Float(allow_none=True)
    achieved_precision = fields.Float(allow_none=True)
    target_precision = fields.String(allow_none=True)
    confidence = fields.String(allow_none=True)
    meets_target = JsonBoolean(allow_none=True)
    applied_ratio = fields.String(allow_none=True)
    verified_tco2e = fields.String(allow_none=True)
    adjustment_tco2e = fields.String(allow_none=True)
    credits_verified = fields.Integer(allow_none=True)
    suggested_extension = fields.Integer(allow_none=True)
    draw_reproduces = JsonBoolean()
    missing = fields.List(fields.String())


class PreviewSchema(Schema):
    population = fields.Integer()
    n = fields.Integer()
    exact = fields.Float()
    formula = fields.String()
    kind = fields.String()
    parameter = fields.Float()
    confidence = fields.String()
    relative_precision = fields.String()
    z = fields.Float()
    non_response = fields.Float()
    total = fields.Integer()
    notes = fields.List(fields.String())
    strata = fields.List(fields.Dict())
