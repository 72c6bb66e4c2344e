"""API schemas: webhook endpoints and their deliveries, and CADT records (CADT's camelCase names)."""

from marshmallow import Schema, fields, validate

from poa_manager.interop.models import DeliveryStatus
from poa_manager.registry.services.events import EVENT_KINDS
from poa_manager.schema_fields import JsonBoolean


class WebhookSchema(Schema):
    id = fields.Integer()
    label = fields.String()
    organisation_id = fields.Integer()
    organisation = fields.String(attribute="organisation.name")
    url = fields.String()
    description = fields.String()
    event_kinds = fields.List(fields.String())
    active = JsonBoolean()
    secret_hint = fields.String(metadata={"description": "The start of the signing secret"})
    created_at = fields.DateTime()
    created_by = fields.String(attribute="created_by.email")
    deactivated_at = fields.DateTime(allow_none=True)


class CreatedWebhookSchema(WebhookSchema):
    secret = fields.String(metadata={"description": "The signing secret: shown this once, never again"})


class CreateWebhookRequest(Schema):
    url = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    event_kinds = fields.List(
        fields.String(validate=validate.OneOf(EVENT_KINDS)),
        load_default=lambda: list(EVENT_KINDS),
        metadata={"description": "Registry event kinds to receive; all of them by default"},
    )
    description = fields.String(load_default="", validate=validate.Length(max=200))
    organisation_id = fields.Integer(
        load_default=None, metadata={"description": "Administrators only; your own organisation by default"}
    )


class DeliverySchema(Schema):
    id = fields.Integer()
    event_id = fields.Integer()
    kind = fields.String(attribute="event.kind")
    status = fields.Enum(DeliveryStatus, by_value=True)
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime(allow_none=True)
    last_attempt_at = fields.DateTime(allow_none=True)
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class PingResultSchema(Schema):
    ok = JsonBoolean()
    status_code = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)


class CadtQuery(Schema):
    programme_id = fields.Integer(load_default=None, metadata={"description": "Only this programme"})


# CADT records: field names are CADT's own (interop/cadt.py), hence camelCase.


class CadtLocationSchema(Schema):
    id = fields.String()
    country = fields.String(allow_none=True)
    inCountryRegion = fields.String(allow_none=True)
    geographicIdentifier = fields.String()


class CadtIssuanceSchema(Schema):
    id = fields.String()
    startDate = fields.String(metadata={"description": "ISO 8601 date"})
    endDate = fields.String()
    verificationApproach = fields.String()
    verificationReportDate = fields.String(allow_none=True)
    verificationBody = fields.String(allow_none=True)


class CadtProjectSchema(Schema):
    projectId = fields.String()
    originProjectId = fields.String()
    registryOfOrigin = fields.String()
    currentRegistry = fields.String()
    program = fields.String()
    projectName = fields.String()
    projectLink = fields.String()
    projectDeveloper = fields.String()
    sector = fields.String(allow_none=True)
    projectType = fields.String(allow_none=True)
    projectTags = fields.String()
    coveredByNDC = fields.String()
    ndcInformation = fields.String(allow_none=True)
    projectStatus = fields.String()
    projectStatusDate = fields.String(allow_none=True)
    unitMetric = fields.String()
    methodology = fields.String(allow_none=True)
    validationBody = fields.String(allow_none=True)
    validationDate = fields.String(allow_none=True)
    projectLocations = fields.List(fields.Nested(CadtLocationSchema))
    issuances = fields.List(fields.Nested(CadtIssuanceSchema))


class CadtUnitSchema(Schema):
    issuanceId = fields.String()
    projectLocationId = fields.String()
    unitOwner = fields.String()
    countryJurisdictionOfOwner = fields.String(allow_none=True)
    inCountryJurisdictionOfOwner = fields.String(allow_none=True)
    serialNumberBlock = fields.String()
    serialNumberPattern = fields.String()
    unitBlockStart = fields.String()
    unitBlockEnd = fields.String()
    unitCount = fields.Integer()
    vintageYear = fields.Integer()
    unitType = fields.String()
    unitStatus = fields.String(metadata={"description": "Held, Retired or Cancelled"})
    unitStatusReason = fields.String(allow_none=True)
    unitRegistryLink = fields.String()
    correspondingAdjustmentDeclaration = fields.String(metadata={"description": "Committed or Not Required"})
    correspondingAdjustmentStatus = fields.String(
        metadata={"description": "Not Started, Pending or Completed"}
    )
