"""JSON endpoints of the registry: issuance and forwarding, accounts, transactions, allocation
tables, freezes, suspension and reconciliation; and, with no login, the serial lookup and the
public CSVs."""

from flask import Response, g, request

from poa_manager.api import api_blueprint, perform
from poa_manager.api.pagination import page_of
from poa_manager.database import db, utcnow
from poa_manager.monitoring import services as monitoring_services
from poa_manager.programmes import services as programme_services
from poa_manager.registry import schemas, services

blp = api_blueprint("registry_api", __name__, description="Registry: issuance, accounts, transactions")
public_blp = api_blueprint(
    "registry_public_api",
    __name__,
    url_prefix="/public",
    description="Public serial lookup (no token)",
    public=True,
)
NO_TOKEN = {"security": []}


@blp.route("/issuance-requests/<int:request_id>/issuance", methods=["POST"])
@blp.response(201, schemas.IssuanceSchema)
def approve_issuance(request_id):
    """Approve a verified request: its credits are issued as serial blocks into the pending account
    (never by the person who requested it; a replay returns the same issuance)"""
    issuance_request = monitoring_services.get_request(request_id, actor=g.api_user)
    issuance = services.approve_issuance(issuance_request, actor=g.api_user)
    db.session.commit()
    return issuance


@blp.route("/issuances")
@blp.response(200, schemas.IssuanceSchema(many=True))
@blp.paginate()
def list_issuances(pagination_parameters):
    """Issuances of the programmes you take part in"""
    return page_of(services.list_issuances(actor=g.api_user), pagination_parameters)


@blp.route("/issuances/<int:issuance_id>")
@blp.response(200, schemas.IssuanceSchema)
def get_issuance(issuance_id):
    """One issuance with its blocks"""
    return services.get_issuance(issuance_id, actor=g.api_user)


@blp.route("/issuances/<int:issuance_id>/forward", methods=["POST"])
@blp.response(200, schemas.IssuanceSchema)
def forward_issuance(issuance_id):
    """Forward the pending credits to the holders by the programme's allocation table"""
    return perform(services.get_issuance(issuance_id, actor=g.api_user), services.forward_issuance)


@blp.route("/programmes/<int:programme_id>/allocation-table", methods=["GET"])
@blp.response(200, schemas.ShareSchema(many=True))
def get_allocation_table(programme_id):
    """The programme's credit allocation table"""
    return services.allocation_table(programme_services.get_programme(programme_id, actor=g.api_user))


@blp.route("/programmes/<int:programme_id>/allocation-table", methods=["PUT"])
@blp.arguments(schemas.AllocationTableSchema)
@blp.response(200, schemas.ShareSchema(many=True))
def set_allocation_table(payload, programme_id):
    """Replace the allocation table: shares adding up to 100 % (JCM model projects: ≥ 50 % to Japan)"""
    programme = programme_services.get_programme(programme_id, actor=g.api_user)
    table = services.set_allocation_table(programme, actor=g.api_user, **payload)
    db.session.commit()
    return table


@blp.route("/accounts")
@blp.response(200, schemas.AccountSchema(many=True))
@blp.paginate()
def list_accounts(pagination_parameters):
    """Your organisation's accounts (every account for registry administrators)"""
    return page_of(services.list_accounts(actor=g.api_user), pagination_parameters)


@blp.route("/accounts", methods=["POST"])
@blp.arguments(schemas.OpenAccountSchema)
@blp.response(201, schemas.AccountSchema)
def open_account(payload):
    """Open an organisation's account of a kind (registry administrators; idempotent)"""
    account = services.open_account(actor=g.api_user, **payload)
    db.session.commit()
    return account


@blp.route("/accounts/<int:account_id>")
@blp.response(200, schemas.AccountSchema)
def get_account(account_id):
    """One account with its ledger balance"""
    return services.get_account(account_id, actor=g.api_user)


@blp.route("/accounts/<int:account_id>/controls", methods=["PUT"])
@blp.arguments(schemas.AccountControlsSchema)
@blp.response(200, schemas.AccountSchema)
def set_account_controls(payload, account_id):
    """Set the account's transfer delay (hours) and per-transaction limit"""
    return perform(
        services.get_account(account_id, actor=g.api_user), services.set_account_controls, **payload
    )


@blp.route("/accounts/<int:account_id>/blocks")
@blp.response(200, schemas.BlockSchema(many=True))
@blp.paginate()
def account_blocks(account_id, pagination_parameters):
    """The blocks an account holds"""
    return page_of(
        services.holdings(services.get_account(account_id, actor=g.api_user)), pagination_parameters
    )


@blp.route("/transactions")
@blp.response(200, schemas.TransactionSchema(many=True))
@blp.paginate()
def list_transactions(pagination_parameters):
    """Transactions from or to your accounts"""
    return page_of(services.list_transactions(actor=g.api_user), pagination_parameters)


@blp.route("/transactions", methods=["POST"])
@blp.arguments(schemas.InitiateSchema)
@blp.response(201, schemas.TransactionSchema)
@blp.doc(
    parameters=[{"in": "header", "name": "Idempotency-Key", "schema": {"type": "string", "maxLength": 100}}]
)
def initiate_transaction(payload):
    """Initiate a transfer, retirement or cancellation of a block or part of it; a second person
    approves. Send an Idempotency-Key header: a replay returns the first transaction"""
    block = services.get_block(payload.pop("block_id"))
    key = (request.headers.get("Idempotency-Key") or "").strip()[:100] or None
    transaction = services.initiate_transaction(block, actor=g.api_user, idempotency_key=key, **payload)
    db.session.commit()
    return transaction


@blp.route("/transactions/<int:transaction_id>")
@blp.response(200, schemas.TransactionSchema)
def get_transaction(transaction_id):
    """One transaction"""
    return services.get_transaction(transaction_id, actor=g.api_user)


@blp.route("/transactions/<int:transaction_id>/approve", methods=["POST"])
@blp.response(200, schemas.TransactionSchema)
def approve_transaction(transaction_id):
    """Approve (a second person; completes now or after the account's delay)"""
    return perform(services.get_transaction(transaction_id, actor=g.api_user), services.approve_transaction)


@blp.route("/transactions/<int:transaction_id>/complete", methods=["POST"])
@blp.response(200, schemas.TransactionSchema)
def complete_transaction(transaction_id):
    """Complete an approved transaction whose delay has passed"""
    return perform(services.get_transaction(transaction_id, actor=g.api_user), services.complete_transaction)


@blp.route("/transactions/<int:transaction_id>/reject", methods=["POST"])
@blp.arguments(schemas.TransactionReasonSchema)
@blp.response(200, schemas.TransactionSchema)
def reject_transaction(payload, transaction_id):
    """Reject a proposed transaction: the units are free again"""
    return perform(
        services.get_transaction(transaction_id, actor=g.api_user), services.reject_transaction, **payload
    )


@blp.route("/transactions/<int:transaction_id>/withdraw", methods=["POST"])
@blp.arguments(schemas.TransactionReasonSchema)
@blp.response(200, schemas.TransactionSchema)
def withdraw_transaction(payload, transaction_id):
    """Withdraw your organisation's transaction before it completes"""
    return perform(
        services.get_transaction(transaction_id, actor=g.api_user), services.withdraw_transaction, **payload
    )


@blp.route("/freezes")
@blp.response(200, schemas.FreezeSchema(many=True))
@blp.paginate()
def list_freezes(pagination_parameters):
    """Serial freezes (registry administrators)"""
    return page_of(services.list_freezes(actor=g.api_user), pagination_parameters)


@blp.route("/freezes", methods=["POST"])
@blp.arguments(schemas.FreezeSchema)
@blp.response(201, schemas.FreezeSchema)
def freeze_range(payload):
    """Freeze a serial range: every later transaction on it is refused with `serial_frozen`"""
    programme = programme_services.get_programme(payload.pop("programme_id"), actor=g.api_user)
    freeze = services.freeze_range(programme, actor=g.api_user, **payload)
    db.session.commit()
    return freeze


@blp.route("/freezes/<int:freeze_id>/lift", methods=["POST"])
@blp.response(200, schemas.FreezeSchema)
def lift_freeze(freeze_id):
    """Lift a freeze"""
    return perform(services.get_freeze(freeze_id, actor=g.api_user), services.lift_freeze)


@blp.route("/registry/suspension", methods=["PUT"])
@blp.arguments(schemas.SuspensionSchema)
@blp.response(200, schemas.SuspensionSchema)
def set_suspension(payload):
    """Suspend or resume every transaction (the incident switch; refusals carry `registry_suspended`)"""
    switch = services.set_suspension(actor=g.api_user, **payload)
    db.session.commit()
    return switch


@blp.route("/registry/events")
@blp.response(200, schemas.EventSchema(many=True))
def registry_events():
    """The newest registry events that concern you, with serial ranges and transaction ids"""
    return services.events_for(g.api_user)


@blp.route("/registry/reconciliation")
@blp.response(200, schemas.ReconciliationSchema)
def reconciliation():
    """Recompute holdings from the ledger and compare them with blocks, issuances and statements"""
    return services.reconcile(actor=g.api_user)


# --- public: no token -------------------------------------------------------------------------


@public_blp.route("/serials")
@public_blp.arguments(schemas.LookupArgs, location="query")
@public_blp.response(200, schemas.BlockHistorySchema(many=True))
@public_blp.doc(**NO_TOKEN)
def lookup_serial(args):
    """Look up a serial or range: each block's history and its trace to programme, site,
    monitoring period and verification"""
    return services.lookup_serial(args["q"])


def _csv(kind: str) -> Response:
    return Response(
        services.public_csv(kind),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{kind}.csv"'},
    )


@public_blp.route("/issuances.csv")
@public_blp.response(200, {"type": "string"}, content_type="text/csv")
@public_blp.doc(**NO_TOKEN)
def issuances_csv():
    """Every issuance by serial block (CSV)"""
    return _csv("issuances")


@public_blp.route("/retirements.csv")
@public_blp.response(200, {"type": "string"}, content_type="text/csv")
@public_blp.doc(**NO_TOKEN)
def retirements_csv():
    """Every retirement with beneficiary, purpose and using entity (CSV)"""
    return _csv("retirements")


# --- Article 6.2 ----------------------------------------------------------------------------------


@blp.route("/programmes/<int:programme_id>/authorizations", methods=["GET"])
@blp.response(200, schemas.AuthorizationSchema(many=True))
def list_authorizations(programme_id):
    """The host Party's authorizations of the programme's outcomes"""
    return services.list_authorizations(programme_services.get_programme(programme_id, actor=g.api_user))


@blp.route("/programmes/<int:programme_id>/authorizations", methods=["POST"])
@blp.arguments(schemas.AuthorizationSchema)
@blp.response(201, schemas.AuthorizationSchema)
def record_authorization(payload, programme_id):
    """Record a letter of authorization (the host government)"""
    programme = programme_services.get_programme(programme_id, actor=g.api_user)
    authorization = services.record_authorization(programme, actor=g.api_user, **payload)
    db.session.commit()
    return authorization


@blp.route("/authorizations/<int:authorization_id>/units", methods=["POST"])
@blp.arguments(schemas.AuthorizeUnitsSchema)
@blp.response(200, schemas.BlockSchema(many=True))
def authorize_units(payload, authorization_id):
    """Apply the authorization to unauthorized units of its vintages, in serial order"""
    authorization = services.get_authorization(authorization_id, actor=g.api_user)
    blocks = services.authorize_units(authorization, actor=g.api_user, **payload)
    db.session.commit()
    return blocks


@blp.route("/corresponding-adjustments")
@blp.arguments(schemas.AdjustmentArgs, location="query")
@blp.response(200, schemas.AdjustmentSchema(many=True))
def corresponding_adjustments(args):
    """Corresponding adjustments recorded for a Party at first transfer, optionally by vintage"""
    return services.adjustments(args["party"], year=args["year"])


@blp.route("/aef-reports", methods=["GET"])
@blp.response(200, schemas.AefReportSchema(many=True))
def list_aef_reports():
    """AEF reports you may see: your Party's (host governments), all (registry administrators)"""
    return services.list_aef_reports(actor=g.api_user)


@blp.route("/aef-reports", methods=["POST"])
@blp.arguments(schemas.AefRequestSchema)
@blp.response(201, schemas.AefReportSchema)
def generate_aef_report(payload):
    """Generate a Party's AEF report for a year, frozen once generated (a second call returns it)"""
    report = services.generate_aef_report(actor=g.api_user, **payload)
    db.session.commit()
    return report


@blp.route("/aef-reports/<int:report_id>")
@blp.response(200, schemas.AefReportSchema)
def get_aef_report(report_id):
    """One AEF report: the five tables and the totals"""
    return services.get_aef_report(report_id, actor=g.api_user)


@blp.route("/aef-reports/<int:report_id>.<any(json, csv, xlsx):fmt>")
@blp.response(200, {"type": "string", "format": "binary"})
def aef_report_file(report_id, fmt):
    """The frozen report as JSON, CSV or XLSX"""
    report = services.get_aef_report(report_id, actor=g.api_user)
    body, mimetype = services.report_file(report, fmt)
    name = f"aef-{report.party}-{report.year}.{fmt}"
    return Response(
        body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


# --- statistics behind the charts (docs/charts.md) ------------------------------------------------


@blp.route("/registry/statistics/vintages")
@blp.arguments(schemas.VintageStatisticsArgs, location="query")
@blp.response(200, schemas.VintageTotalsSchema(many=True))
def vintage_statistics(args):
    """Credits issued, transferred, retired and cancelled per vintage, from the ledger, over the
    programmes you take part in (or one of them)"""
    return services.credits_by_vintage(actor=g.api_user, programme_id=args["programme_id"])


@blp.route("/registry/ndc-contribution")
@blp.arguments(schemas.NdcContributionArgs, location="query")
@blp.response(200, schemas.NdcMonthSchema(many=True))
def ndc_contribution(args):
    """A host Party's issued credits, cumulative per month, split by Article 6.2 authorization
    status, with NDC-use retirements (its government, registry administrators, platform admins)"""
    return services.ndc_contribution(args["host_country"], actor=g.api_user, today=utcnow().date())
