"""API schemas of the registry: issuances, blocks with their serials, accounts, transactions,
allocation tables, freezes, the suspension switch, reconciliation and the public lookup."""

from marshmallow import Schema, fields, validate

from poa_manager.registry import services
from poa_manager.registry.models import (
    AccountKind,
    AllocationDestination,
    Article6Use,
    AuthorizationPurpose,
    AuthorizationStatus,
    BlockStatus,
    FirstTransferDefinition,
    IssuanceStatus,
    LedgerKind,
    TransactionKind,
    TransactionStatus,
)
from poa_manager.schema_fields import JsonBoolean


class BlockSchema(Schema):
    id = fields.Integer()
    serial = fields.String(metadata={"description": "Mechanism.country.programme.site.vintage.start-end"})
    programme = fields.String(attribute="programme.reference")
    site = fields.String(attribute="site.reference")
    vintage = fields.Integer()
    serial_start = fields.Integer()
    serial_end = fields.Integer()
    quantity = fields.Integer()
    status = fields.Enum(BlockStatus, by_value=True)
    authorization_status = fields.Enum(AuthorizationStatus, by_value=True)
    account_id = fields.Integer()
    holder = fields.String(attribute="account.organisation.name")
    reserved_by_id = fields.Integer(allow_none=True)
    itmo_first = fields.Function(lambda b: services.itmo_identifier(b, b.serial_start))
    itmo_last = fields.Function(lambda b: services.itmo_identifier(b, b.serial_end))


class IssuanceSchema(Schema):
    id = fields.Integer()
    label = fields.String()
    request_id = fields.Integer()
    programme = fields.String(attribute="programme.reference")
    credits = fields.Integer()
    status = fields.Enum(IssuanceStatus, by_value=True)
    requested_by_id = fields.Integer()
    approved_by_id = fields.Integer()
    approved_at = fields.DateTime()
    forwarded_by_id = fields.Integer(allow_none=True)
    forwarded_at = fields.DateTime(allow_none=True)
    blocks = fields.List(fields.Nested(BlockSchema))


class AccountSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    organisation_id = fields.Integer()
    holder = fields.String(attribute="organisation.name")
    kind = fields.Enum(AccountKind, by_value=True)
    transfer_delay_hours = fields.Integer()
    transfer_limit = fields.Integer(allow_none=True)
    ledger_balance = fields.Function(
        lambda account: services.ledger_balance(account.id),
        metadata={"description": "Units in minus units out, from the ledger"},
    )


class OpenAccountSchema(Schema):
    organisation_id = fields.Integer(required=True)
    kind = fields.Enum(AccountKind, by_value=True, required=True)


class AccountControlsSchema(Schema):
    transfer_delay_hours = fields.Integer(required=True, validate=validate.Range(min=0, max=720))
    transfer_limit = fields.Integer(load_default=None, validate=validate.Range(min=1))


class TransactionSchema(Schema):
    id = fields.Integer()
    label = fields.String()
    kind = fields.Enum(TransactionKind, by_value=True)
    status = fields.Enum(TransactionStatus, by_value=True)
    block = fields.Nested(BlockSchema)
    quantity = fields.Integer()
    from_account_id = fields.Integer()
    to_account_id = fields.Integer()
    initiated_by_id = fields.Integer()
    initiated_at = fields.DateTime()
    approved_by_id = fields.Integer(allow_none=True)
    approved_at = fields.DateTime(allow_none=True)
    executable_after = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    closed_reason = fields.String(allow_none=True)
    beneficiary = fields.String(allow_none=True)
    purpose = fields.String(allow_none=True)
    using_entity = fields.String(allow_none=True)
    article6_use = fields.Enum(Article6Use, by_value=True, allow_none=True)


class InitiateSchema(Schema):
    """Move `quantity` units of a block (the last ones: the holder keeps the first sub-block)."""

    block_id = fields.Integer(required=True)
    kind = fields.Enum(TransactionKind, by_value=True, required=True)
    quantity = fields.Integer(required=True, validate=validate.Range(min=1))
    to_account_id = fields.Integer(
        load_default=None, metadata={"description": "Transfers: a holding account"}
    )
    beneficiary = fields.String(load_default=None, validate=validate.Length(max=200))
    purpose = fields.String(load_default=None, validate=validate.Length(max=500))
    using_entity = fields.String(load_default=None, validate=validate.Length(max=200))
    article6_use = fields.Enum(
        Article6Use, by_value=True, load_default=None, metadata={"description": "Authorized units only"}
    )


class TransactionReasonSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class ShareSchema(Schema):
    organisation_id = fields.Integer(required=True)
    share_percent = fields.Decimal(
        required=True, places=2, as_string=True, validate=validate.Range(min=0, max=100)
    )
    destination = fields.Enum(
        AllocationDestination, by_value=True, load_default=AllocationDestination.holding
    )
    organisation = fields.String(attribute="organisation.name", dump_only=True)


class AllocationTableSchema(Schema):
    shares = fields.List(fields.Nested(ShareSchema), required=True, validate=validate.Length(min=1, max=20))
    jcm_model_project = JsonBoolean(load_default=False)


class FreezeSchema(Schema):
    id = fields.Integer(dump_only=True)
    programme_id = fields.Integer(required=True)
    vintage = fields.Integer(required=True, validate=validate.Range(min=1990, max=2100))
    serial_start = fields.Integer(required=True, validate=validate.Range(min=1))
    serial_end = fields.Integer(required=True, validate=validate.Range(min=1))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    frozen_by_id = fields.Integer(dump_only=True)
    frozen_at = fields.DateTime(dump_only=True)
    lifted_at = fields.DateTime(dump_only=True, allow_none=True)


class SuspensionSchema(Schema):
    suspended = JsonBoolean(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))
    changed_at = fields.DateTime(dump_only=True, allow_none=True)


class ReconciliationSchema(Schema):
    clean = JsonBoolean()
    accounts = fields.Integer()
    blocks = fields.Integer()
    ledger_entries = fields.Integer()
    issuances = fields.Integer()
    credits_issued = fields.Integer()
    discrepancies = fields.List(fields.String())


class LedgerEntrySchema(Schema):
    id = fields.Integer()
    kind = fields.Enum(LedgerKind, by_value=True)
    serial_start = fields.Integer()
    serial_end = fields.Integer()
    quantity = fields.Integer()
    from_holder = fields.String(attribute="from_account.organisation.name", allow_none=True)
    to_holder = fields.String(attribute="to_account.organisation.name")
    to_account_kind = fields.Enum(AccountKind, by_value=True, attribute="to_account.kind")
    transaction_id = fields.Integer(allow_none=True)
    issuance_id = fields.Integer(allow_none=True)
    recorded_at = fields.DateTime()


class TraceSchema(Schema):
    programme = fields.String(attribute="request.programme.reference")
    programme_title = fields.String(attribute="request.programme.title")
    request = fields.String(attribute="request.label")
    monitoring_period_start = fields.Date(attribute="report.period_start")
    monitoring_period_end = fields.Date(attribute="report.period_end")
    verification = fields.String(attribute="verification.label", allow_none=True)
    verified_at = fields.DateTime(attribute="verification.approved_at", allow_none=True)
    issuance = fields.String(attribute="issuance.label")


class BlockHistorySchema(Schema):
    serial = fields.String()
    block = fields.Nested(BlockSchema)
    history = fields.List(fields.Nested(LedgerEntrySchema), attribute="entries")
    trace = fields.Function(lambda h: TraceSchema().dump(h))


class LookupArgs(Schema):
    q = fields.String(
        required=True, metadata={"description": "A serial, a serial range or one serial number"}
    )


class EntitySchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    country = fields.String(load_default="", validate=validate.Length(max=2))


class AuthorizationSchema(Schema):
    """A letter of authorization (domain.md §5.1; AEF table 2)."""

    id = fields.Integer(dump_only=True)
    programme_id = fields.Integer(dump_only=True)
    authorizing_party = fields.String(dump_only=True)
    reference = fields.String(required=True, validate=validate.Length(min=1, max=100))
    version = fields.Integer(dump_only=True)
    cooperative_approach = fields.String(required=True, metadata={"description": "CA + 4 digits"})
    purposes = fields.List(
        fields.String(validate=validate.OneOf([p.value for p in AuthorizationPurpose])),
        required=True,
        validate=validate.Length(min=1),
    )
    first_transfer_definition = fields.Enum(FirstTransferDefinition, by_value=True, required=True)
    quantity_tco2e = fields.Integer(required=True, validate=validate.Range(min=1))
    vintage_first = fields.Integer(required=True, validate=validate.Range(min=1990, max=2100))
    vintage_last = fields.Integer(required=True, validate=validate.Range(min=1990, max=2100))
    using_parties = fields.List(fields.String(validate=validate.Length(equal=2)), load_default=list)
    using_entities = fields.List(fields.Nested(EntitySchema), load_default=list)
    sector = fields.String(required=True, validate=validate.Length(min=1, max=100))
    activity_type = fields.String(required=True, validate=validate.Length(min=1, max=100))
    authorized_on = fields.Date(required=True)
    authorized_so_far = fields.Function(lambda a: services.authorized_so_far(a), dump_only=True)


class AuthorizeUnitsSchema(Schema):
    quantity = fields.Integer(required=True, validate=validate.Range(min=1))


class AdjustmentSchema(Schema):
    id = fields.Integer()
    authorization_id = fields.Integer()
    party = fields.String()
    vintage = fields.Integer()
    serial_start = fields.Integer()
    serial_end = fields.Integer()
    quantity = fields.Integer()
    trigger = fields.Enum(FirstTransferDefinition, by_value=True)
    recorded_at = fields.DateTime()


class AdjustmentArgs(Schema):
    party = fields.String(required=True, validate=validate.Length(equal=2))
    year = fields.Integer(load_default=None)


class AefRequestSchema(Schema):
    # Letters only: aef.build_report refuses anything else, which was a 500 (schemathesis, issue 8).
    party = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z]{2}$"))
    year = fields.Integer(required=True, validate=validate.Range(min=1990, max=2100))


class AefReportSchema(Schema):
    id = fields.Integer()
    party = fields.String()
    year = fields.Integer()
    generated_at = fields.DateTime()
    generated_by_id = fields.Integer()
    totals = fields.Dict(attribute="content.totals")
    tables = fields.Dict(attribute="content.tables")


class EventSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    programme_id = fields.Integer(allow_none=True)
    occurred_at = fields.DateTime()
    payload = fields.Dict(metadata={"description": "Serial, range, quantity, transaction and accounts"})


# --- statistics behind the charts (docs/charts.md) --------------------------------------------------


class VintageStatisticsArgs(Schema):
    programme_id = fields.Integer(load_default=None, metadata={"description": "One programme only"})


class VintageTotalsSchema(Schema):
    vintage = fields.Integer()
    issued = fields.Integer()
    transferred = fields.Integer()
    retired = fields.Integer()
    cancelled = fields.Integer()


class NdcContributionArgs(Schema):
    host_country = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Za-z]{2}$"),
        metadata={"description": "ISO alpha-2, e.g. VN"},
    )


class NdcMonthSchema(Schema):
    month = fields.String(metadata={"description": "YYYY-MM; totals are cumulative at its end (UTC)"})
    issued = fields.Integer()
    adjusted = fields.Integer(metadata={"description": "First transferred: corresponding adjustment applied"})
    authorized_pending = fields.Integer(metadata={"description": "Authorized, not yet first transferred"})
    not_authorized = fields.Integer(metadata={"description": "Mitigation contribution, not authorized"})
    used_ndc = fields.Integer(metadata={"description": "Retired for use towards an NDC"})
