"""Pages of the registry: the user's registry overview, issuance approval and forwarding, the
allocation table, accounts with their blocks and transaction forms, transactions, serial freezes,
the suspension switch, Article 6.2 (authorizations, authorized units, corresponding adjustments),
and (with no login) the serial lookup and the public CSVs."""

import secrets

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from poa_manager import methodologies
from poa_manager.accounts.models import Organisation
from poa_manager.accounts.roles import OrganisationKind
from poa_manager.database import db, utcnow
from poa_manager.errors import DomainError, InvalidInput, RuleViolation
from poa_manager.monitoring import services as monitoring_services
from poa_manager.programmes import services as programme_services
from poa_manager.registry import charts, policies, serials, services
from poa_manager.registry.forms import (
    ALLOCATION_ROWS,
    ARTICLE6_USE_LABELS,
    AccountControlsForm,
    AdjustmentSearchForm,
    AefForm,
    AllocationForm,
    AuthorizationForm,
    AuthorizeUnitsForm,
    CancelForm,
    ConfirmForm,
    FreezeForm,
    OpenAccountForm,
    ReasonForm,
    RetireForm,
    SerialSearchForm,
    SuspensionForm,
    TransferForm,
)
from poa_manager.registry.models import (
    AccountKind,
    BlockStatus,
    FirstTransferDefinition,
    Issuance,
    IssuanceStatus,
    SerialFreeze,
    Transaction,
    TransactionKind,
    TransactionStatus,
)
from poa_manager.web import describe, export_format, export_response, perform, place_errors

bp = Blueprint("registry", __name__)
PER_PAGE = 50
INITIATE_FORMS = {
    TransactionKind.transfer: TransferForm,
    TransactionKind.retirement: RetireForm,
    TransactionKind.cancellation: CancelForm,
}


@bp.context_processor
def _template_helpers() -> dict:
    """Templates ask the same predicates the services enforce; every registry page shows the
    suspension banner while the switch is on."""
    return {
        "policies": policies,
        "suspension": services.current_suspension(),
        "serial_of": services.serial_of,
        "itmo_identifier": services.itmo_identifier,
        "article6_use_labels": ARTICLE6_USE_LABELS,
        "new_key": lambda: secrets.token_urlsafe(16),
    }


@bp.app_context_processor
def _registry_on_other_pages() -> dict:
    """The issuance request page (monitoring) offers the approval and links to the issuance."""

    def issuance_of(issuance_request) -> Issuance | None:
        if not current_user.is_authenticated:
            return None
        return services.issuance_of(issuance_request, actor=current_user)

    return {"registry_policies": policies, "registry_issuance_of": issuance_of}


def _organisations() -> list[Organisation]:
    return services.holder_organisations()


def _form_problems(form) -> str:
    return "; ".join(
        f"{getattr(form, name).label.text}: {' '.join(errors)}" for name, errors in form.errors.items()
    )


# Export columns of the list pages (poa_manager/web.py export_response; text is formula-safe).
ACCOUNT_COLUMNS = [
    ("Account", lambda row: row[0].number),
    ("Holder", lambda row: row[0].organisation.name),
    ("Kind", lambda row: row[0].kind),
    ("Ledger balance", lambda row: row[1]),
    ("Held in blocks", lambda row: row[2]),
    ("Transfer delay hours", lambda row: row[0].transfer_delay_hours),
    ("Transfer limit", lambda row: row[0].transfer_limit),
]
ISSUANCE_COLUMNS = [
    ("Issuance", "label"),
    ("Programme", lambda i: i.programme.reference),
    ("Credits", "credits"),
    ("Status", "status"),
    ("Approved at", "approved_at"),
    ("Forwarded at", "forwarded_at"),
]
TRANSACTION_COLUMNS = [
    ("Transaction", "label"),
    ("Kind", "kind"),
    ("Status", "status"),
    ("Programme", lambda t: t.programme.reference),
    ("Quantity", "quantity"),
    ("From", lambda t: t.from_account.number),
    ("To", lambda t: t.to_account.number),
    ("Initiated at", "initiated_at"),
    ("Completed at", "completed_at"),
    ("Beneficiary", "beneficiary"),
    ("Purpose", "purpose"),
    ("Using entity", "using_entity"),
    ("Closed reason", "closed_reason"),
]
FREEZE_COLUMNS = [
    ("Programme", lambda f: f.programme.reference),
    ("Vintage", "vintage"),
    ("Serial start", "serial_start"),
    ("Serial end", "serial_end"),
    ("Reason", "reason"),
    ("Frozen at", "frozen_at"),
    ("Lifted at", "lifted_at"),
]
AUTHORIZATION_COLUMNS = [
    ("Authorization", lambda row: row[0].label),
    ("Cooperative approach", lambda row: row[0].cooperative_approach),
    ("Purposes", lambda row: ", ".join(row[0].purposes)),
    ("First transfer", lambda row: row[0].first_transfer_definition.label),
    ("Authorized tCO2e", lambda row: row[0].quantity_tco2e),
    ("Applied to units", lambda row: row[1]),
    ("Vintage first", lambda row: row[0].vintage_first),
    ("Vintage last", lambda row: row[0].vintage_last),
    ("Using Parties", lambda row: ", ".join(row[0].using_parties)),
    ("Using entities", lambda row: "; ".join(e.get("name", "") for e in row[0].using_entities)),
    ("Sector", lambda row: row[0].sector),
    ("Activity type", lambda row: row[0].activity_type),
    ("Authorized on", lambda row: row[0].authorized_on),
]
ADJUSTMENT_COLUMNS = [
    ("Authorization", lambda c: c.authorization.label),
    ("Cooperative approach", lambda c: c.authorization.cooperative_approach),
    ("Programme", lambda c: c.authorization.programme.reference),
    ("Party", "party"),
    ("Vintage", "vintage"),
    ("Serial start", "serial_start"),
    ("Serial end", "serial_end"),
    ("Quantity", "quantity"),
    ("First transfer at", lambda c: c.trigger.label),
    ("Recorded at", "recorded_at"),
]
AEF_REPORT_COLUMNS = [
    ("Party", "party"),
    ("Year", "year"),
    ("First transfers", lambda r: r.content.get("totals", {}).get("first_transfers")),
    ("NDC use", lambda r: r.content.get("totals", {}).get("use_ndc")),
    ("Generated at", "generated_at"),
    ("Generated by", lambda r: r.generated_by.full_name),
]
EVENT_COLUMNS = [
    ("Occurred at", "occurred_at"),
    ("Event", "kind"),
    ("Serial", lambda e: e.payload.get("serial")),
    ("Credits", lambda e: e.payload.get("quantity") or e.payload.get("credits")),
    ("Transaction", lambda e: e.payload.get("transaction") or e.payload.get("issuance")),
    ("From", lambda e: e.payload.get("from_account")),
    ("To", lambda e: e.payload.get("to_account") or e.payload.get("holder")),
]


def _page(query):
    return db.paginate(query, page=request.args.get("page", 1, type=int), per_page=PER_PAGE, error_out=False)


# --- the overview and the suspension switch -----------------------------------------------------


@bp.get("/registry/")
@login_required
def index():
    accounts = db.session.scalars(services.list_accounts(actor=current_user)).all()
    balances = [(a, services.ledger_balance(a.id), services.held_quantity(a.id)) for a in accounts]
    if fmt := export_format():
        return export_response(balances, ACCOUNT_COLUMNS, "registry-accounts", fmt)
    to_approve = services.awaiting_approval(actor=current_user)
    administers = policies.can_suspend(current_user)
    context = {}
    if administers:
        unforwarded = db.session.scalars(
            services.list_issuances(actor=current_user).where(Issuance.status == IssuanceStatus.issued)
        ).all()
        context = {
            "awaiting": db.session.scalars(services.awaiting_issuance(actor=current_user)).all(),
            "unforwarded": [i for i in unforwarded if policies.can_forward(current_user, i)],
            "freezes": db.session.scalars(
                services.list_freezes(actor=current_user).where(SerialFreeze.lifted_at.is_(None))
            ).all(),
            "switch": services.switch_state(),
            "suspension_form": SuspensionForm(),
            "open_form": _open_account_form(),
        }
    return render_template(
        "registry/index.html",
        balances=balances,
        to_approve=to_approve,
        administers=administers,
        government_party=_government_party(),
        ndc_countries=services.ndc_countries(actor=current_user),
        confirm_form=ConfirmForm(),
        **context,
    )


# --- chart data: Chart.js configurations (templates/macros/visuals.html, docs/charts.md) ---------


@bp.get("/registry/charts/credits-by-vintage.json")
@login_required
def credits_by_vintage_chart():
    totals = services.credits_by_vintage(
        actor=current_user, programme_id=request.args.get("programme_id", type=int)
    )
    return jsonify(charts.vintage_chart(totals))


@bp.get("/registry/charts/ndc-contribution.json")
@login_required
def ndc_contribution_chart():
    series = services.ndc_contribution(
        request.args.get("host_country", ""), actor=current_user, today=utcnow().date()
    )
    return jsonify(charts.ndc_chart(series))


def _government_party() -> str | None:
    """The country a host-government user speaks for (services.is_host_government needs a programme)."""
    organisation = current_user.organisation
    if organisation.kind is not OrganisationKind.host_government:
        return None
    return (organisation.country_code or "").upper() or None


@bp.post("/registry/suspension")
@login_required
def suspension():
    form = SuspensionForm()
    suspended = request.form.get("action") == "suspend"
    if form.validate_on_submit():
        try:
            services.set_suspension(actor=current_user, suspended=suspended, reason=form.reason.data)
        except (InvalidInput, RuleViolation) as error:
            db.session.rollback()
            flash(describe(error), "error")
        else:
            db.session.commit()
            flash(
                "Registry suspended: no transaction is processed." if suspended else "Registry resumed.",
                "warning" if suspended else "success",
            )
    else:
        flash("Give the reason for suspending or resuming.", "error")
    return redirect(url_for("registry.index"))


# --- issuance -----------------------------------------------------------------------------------


@bp.post("/registry/issuance-requests/<int:request_id>/approve")
@login_required
def approve_issuance(request_id: int):
    issuance_request = monitoring_services.get_request(request_id, actor=current_user)
    if not ConfirmForm().validate_on_submit():
        flash("The form expired. Please submit it again.", "error")
        return redirect(url_for("monitoring.issuance_request", request_id=request_id))
    try:
        issuance = services.approve_issuance(issuance_request, actor=current_user)
    except (InvalidInput, RuleViolation) as error:
        db.session.rollback()
        flash(describe(error), "error")
        return redirect(url_for("monitoring.issuance_request", request_id=request_id))
    db.session.commit()
    flash(f"{issuance.label}: {issuance.credits} credits issued into the pending account.", "success")
    return redirect(url_for("registry.issuance", issuance_id=issuance.id))


@bp.get("/registry/issuances")
@login_required
def issuances():
    query = services.list_issuances(actor=current_user)
    if fmt := export_format():
        return export_response(query, ISSUANCE_COLUMNS, "issuances", fmt)
    return render_template("registry/issuances.html", page=_page(query))


@bp.get("/registry/issuances/<int:issuance_id>")
@login_required
def issuance(issuance_id: int):
    issuance = services.get_issuance(issuance_id, actor=current_user)
    table = services.allocation_table(issuance.programme)
    planned = serials.apportion(issuance.credits, [s.share_percent for s in table]) if table else []
    return render_template(
        "registry/issuance.html",
        issuance=issuance,
        programme=issuance.programme,
        table=list(zip(table, planned, strict=True)),
        confirm_form=ConfirmForm(),
    )


@bp.post("/registry/issuances/<int:issuance_id>/forward")
@login_required
def forward(issuance_id: int):
    issuance = services.get_issuance(issuance_id, actor=current_user)
    if ConfirmForm().validate_on_submit():
        perform(issuance, services.forward_issuance, "{subject.label} forwarded by the allocation table.")
    return redirect(url_for("registry.issuance", issuance_id=issuance_id))


# --- the allocation table -----------------------------------------------------------------------


def _allocation_form(table) -> AllocationForm:
    if request.method != "GET":
        form = AllocationForm()
    else:
        rows = [
            {
                "organisation_id": s.organisation_id,
                "share_percent": s.share_percent,
                "destination": s.destination.value,
            }
            for s in table
        ]
        form = AllocationForm(rows=rows)
        while len(form.rows) < max(ALLOCATION_ROWS, len(table) + 2):
            form.rows.append_entry()
    choices = [("", "—")] + [(o.id, o.name) for o in _organisations()]
    for row in form.rows:
        row.form.organisation_id.choices = choices
    return form


def _place_share_errors(form: AllocationForm, used: list[int], error: DomainError) -> None:
    """The service names rows as `shares.<i>.<field>` counting only the filled ones."""
    unplaced = []
    for key, messages in error.errors.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "shares" and parts[1].isdigit() and int(parts[1]) < len(used):
            field = getattr(form.rows[used[int(parts[1])]].form, parts[2], None)
            if field is not None:
                field.errors = list(field.errors) + list(messages)
                continue
        unplaced.append(f"{key}: {' '.join(map(str, messages))}")
    flash(" ".join([error.message, *unplaced]), "error")


@bp.get("/programmes/<int:programme_id>/design/print")
@login_required
def design_print(programme_id: int):
    # Here, not in programmes/views.py: the summary includes the allocation table, which is the
    # registry's, and features depend downward only.
    programme = programme_services.get_programme(programme_id, actor=current_user)
    version = programme.current_version or programme.pending_version
    try:
        methodology = (
            methodologies.get_methodology(version.methodology_code)
            if version and version.methodology_code
            else None
        )
    except LookupError:
        methodology = None
    return render_template(
        "programmes/design_print.html",
        programme=programme,
        version=version,
        methodology=methodology,
        allocation=services.allocation_table(programme),
        members=programme_services.list_members(programme, actor=current_user),
        printed_at=utcnow(),
    )


@bp.route("/programmes/<int:programme_id>/allocation", methods=["GET", "POST"])
@login_required
def allocation(programme_id: int):
    programme = programme_services.get_programme(programme_id, actor=current_user)
    table = services.allocation_table(programme)
    form = _allocation_form(table)
    if form.validate_on_submit():
        used = [i for i, row in enumerate(form.rows) if not row.form.is_empty]
        shares = [
            {
                "organisation_id": form.rows[i].form.organisation_id.data,
                "share_percent": form.rows[i].form.share_percent.data,
                "destination": form.rows[i].form.destination.data,
            }
            for i in used
        ]
        try:
            saved = services.set_allocation_table(
                programme, actor=current_user, shares=shares, jcm_model_project=form.jcm_model_project.data
            )
        except (InvalidInput, RuleViolation) as error:
            db.session.rollback()
            _place_share_errors(form, used, error)
        else:
            db.session.commit()
            flash(f"Allocation table of {programme.reference} saved: {len(saved)} shares.", "success")
            return redirect(url_for("registry.allocation", programme_id=programme_id))
    elif form.errors:
        flash("Check the highlighted rows.", "error")
    return render_template(
        "registry/allocation.html",
        programme=programme,
        table=table,
        total=sum((s.share_percent for s in table), 0),
        form=form,
        can_set=policies.can_set_allocation(current_user, programme),
        minimum_japan=services.JCM_MODEL_PROJECT_MIN_JAPAN_PERCENT,
    )


# --- accounts -----------------------------------------------------------------------------------


def _open_account_form() -> OpenAccountForm:
    form = OpenAccountForm()
    form.organisation_id.choices = [(o.id, o.name) for o in _organisations()]
    return form


def _transfer_form(account) -> TransferForm:
    form = TransferForm()
    form.to_account_id.choices = [
        (a.id, f"{a.organisation.name} ({a.number})")
        for a in services.holding_accounts()
        if a.id != account.id
    ]
    return form


@bp.get("/registry/accounts/<int:account_id>")
@login_required
def account(account_id: int):
    account = services.get_account(account_id, actor=current_user)
    blocks = db.session.scalars(services.holdings(account)).all()
    can_initiate = policies.can_initiate(current_user, account)
    return render_template(
        "registry/account.html",
        account=account,
        blocks=blocks,
        balance=services.ledger_balance(account.id),
        held=services.held_quantity(account.id),
        movable=[b for b in blocks if b.status is BlockStatus.active and b.reserved_by_id is None]
        if can_initiate
        else [],
        transfer_form=_transfer_form(account),
        retire_form=RetireForm(),
        cancel_form=CancelForm(),
        controls_form=AccountControlsForm(
            transfer_delay_hours=account.transfer_delay_hours, transfer_limit=account.transfer_limit
        ),
        open_form=_open_account_form(),
        manages=policies.can_manage_accounts(current_user),
    )


@bp.post("/registry/accounts/<int:account_id>/controls")
@login_required
def account_controls(account_id: int):
    account = services.get_account(account_id, actor=current_user)
    form = AccountControlsForm()
    if form.validate_on_submit():
        perform(
            account,
            services.set_account_controls,
            "Controls of {subject.number} saved.",
            transfer_delay_hours=form.transfer_delay_hours.data,
            transfer_limit=form.transfer_limit.data,
        )
    else:
        flash(_form_problems(form), "error")
    return redirect(url_for("registry.account", account_id=account_id))


@bp.post("/registry/accounts")
@login_required
def open_account():
    form = _open_account_form()
    if not form.validate_on_submit():
        flash(_form_problems(form), "error")
        return redirect(request.referrer or url_for("registry.index"))
    try:
        account = services.open_account(
            actor=current_user, organisation_id=form.organisation_id.data, kind=AccountKind(form.kind.data)
        )
    except (InvalidInput, RuleViolation) as error:
        db.session.rollback()
        flash(describe(error), "error")
        return redirect(url_for("registry.index"))
    db.session.commit()
    flash(f"{account.number} ({account.label}) is open.", "success")
    return redirect(url_for("registry.account", account_id=account.id))


@bp.post("/registry/blocks/<int:block_id>/<any(transfer, retirement, cancellation):kind>")
@login_required
def initiate(block_id: int, kind: str):
    block = services.get_block(block_id)
    account_id = services.get_account(block.account_id, actor=current_user).id  # 404 unless visible
    kind = TransactionKind(kind)
    form = INITIATE_FORMS[kind]()
    if kind is TransactionKind.transfer:
        form.to_account_id.choices = [(a.id, a.number) for a in services.holding_accounts()]
    if not form.validate_on_submit():
        flash(_form_problems(form), "error")
        return redirect(url_for("registry.account", account_id=account_id))
    details = {
        name: getattr(form, name).data
        for name in ("to_account_id", "beneficiary", "purpose", "using_entity", "article6_use")
        if hasattr(form, name)
    }
    try:
        transaction = services.initiate_transaction(
            block,
            actor=current_user,
            kind=kind,
            quantity=form.quantity.data,
            idempotency_key=form.idempotency_key.data or None,
            **details,
        )
    except (InvalidInput, RuleViolation) as error:
        db.session.rollback()
        flash(describe(error), "error")
        return redirect(url_for("registry.account", account_id=account_id))
    db.session.commit()
    flash(
        f"{transaction.label} proposed: {kind.value} of {transaction.quantity} credits "
        f"({services.serial_of(transaction.block)}). A second person approves it.",
        "success",
    )
    return redirect(url_for("registry.transaction", transaction_id=transaction.id))


# --- transactions -------------------------------------------------------------------------------


@bp.get("/registry/transactions")
@login_required
def transactions():
    status = request.args.get("status") or None
    chosen = TransactionStatus(status) if status in TransactionStatus.__members__ else None
    query = services.list_transactions(actor=current_user)
    if chosen is not None:
        query = query.where(Transaction.status == chosen)
    if fmt := export_format():
        return export_response(query, TRANSACTION_COLUMNS, "transactions", fmt)
    return render_template(
        "registry/transactions.html", page=_page(query), statuses=TransactionStatus, chosen=chosen
    )


@bp.get("/registry/transactions/<int:transaction_id>")
@login_required
def transaction(transaction_id: int):
    transaction = services.get_transaction(transaction_id, actor=current_user)
    return render_template(
        "registry/transaction.html",
        transaction=transaction,
        confirm_form=ConfirmForm(),
        reason_form=ReasonForm(),
        now=utcnow(),
    )


def _transaction_step(transaction_id: int, use_case, message: str, *, with_reason: bool = False):
    transaction = services.get_transaction(transaction_id, actor=current_user)
    form = ReasonForm() if with_reason else ConfirmForm()
    if form.validate_on_submit():
        arguments = {"reason": form.reason.data} if with_reason else {}
        perform(transaction, use_case, message, **arguments)
    else:
        flash("Give the reason." if with_reason else "The form expired. Please submit it again.", "error")
    return redirect(url_for("registry.transaction", transaction_id=transaction_id))


@bp.post("/registry/transactions/<int:transaction_id>/approve")
@login_required
def approve_transaction(transaction_id: int):
    return _transaction_step(
        transaction_id, services.approve_transaction, "{subject.label} approved; now {subject.status.value}."
    )


@bp.post("/registry/transactions/<int:transaction_id>/reject")
@login_required
def reject_transaction(transaction_id: int):
    return _transaction_step(
        transaction_id, services.reject_transaction, "{subject.label} rejected.", with_reason=True
    )


@bp.post("/registry/transactions/<int:transaction_id>/withdraw")
@login_required
def withdraw_transaction(transaction_id: int):
    return _transaction_step(
        transaction_id, services.withdraw_transaction, "{subject.label} withdrawn.", with_reason=True
    )


@bp.post("/registry/transactions/<int:transaction_id>/complete")
@login_required
def complete_transaction(transaction_id: int):
    return _transaction_step(transaction_id, services.complete_transaction, "{subject.label} completed.")


# --- serial freezes -----------------------------------------------------------------------------


def _freeze_form() -> FreezeForm:
    form = FreezeForm()
    programmes = db.session.scalars(programme_services.list_programmes(current_user)).all()
    form.programme_id.choices = [
        (p.id, f"{p.reference} — {p.title}") for p in programmes if policies.can_freeze(current_user, p.id)
    ]
    return form


@bp.route("/registry/freezes", methods=["GET", "POST"])
@login_required
def freezes():
    if request.method == "GET" and (fmt := export_format()):
        query = services.list_freezes(actor=current_user)
        return export_response(query, FREEZE_COLUMNS, "serial-freezes", fmt)
    form = _freeze_form()
    if form.validate_on_submit():
        programme = programme_services.get_programme(form.programme_id.data, actor=current_user)
        try:
            freeze = services.freeze_range(
                programme,
                actor=current_user,
                vintage=form.vintage.data,
                serial_start=form.serial_start.data,
                serial_end=form.serial_end.data,
                reason=form.reason.data,
            )
        except (InvalidInput, RuleViolation) as error:
            db.session.rollback()
            place_errors(form, error)
        else:
            db.session.commit()
            flash(f"Serials {freeze.range} of {programme.reference} {freeze.vintage} frozen.", "warning")
            return redirect(url_for("registry.freezes"))
    return render_template(
        "registry/freezes.html",
        page=_page(services.list_freezes(actor=current_user)),
        form=form,
        confirm_form=ConfirmForm(),
    )


@bp.post("/registry/freezes/<int:freeze_id>/lift")
@login_required
def lift_freeze(freeze_id: int):
    freeze = services.get_freeze(freeze_id, actor=current_user)
    if ConfirmForm().validate_on_submit():
        perform(freeze, services.lift_freeze, "Freeze of serials {subject.range} lifted.")
    return redirect(url_for("registry.freezes"))


# --- Article 6.2 ----------------------------------------------------------------------------------


@bp.route("/programmes/<int:programme_id>/authorizations", methods=["GET", "POST"])
@login_required
def authorizations(programme_id: int):
    programme = programme_services.get_programme(programme_id, actor=current_user)
    form = AuthorizationForm()
    if form.validate_on_submit():
        try:
            authorization = services.record_authorization(
                programme,
                actor=current_user,
                reference=form.reference.data,
                cooperative_approach=form.cooperative_approach.data,
                purposes=form.purposes.data,
                first_transfer_definition=FirstTransferDefinition(form.first_transfer_definition.data),
                quantity_tco2e=form.quantity_tco2e.data,
                vintage_first=form.vintage_first.data,
                vintage_last=form.vintage_last.data,
                using_parties=form.parties,
                using_entities=form.entities,
                sector=form.sector.data,
                activity_type=form.activity_type.data,
                authorized_on=form.authorized_on.data,
            )
        except (InvalidInput, RuleViolation) as error:
            db.session.rollback()
            place_errors(form, error)
        else:
            db.session.commit()
            flash(
                f"Authorization {authorization.label} recorded: {authorization.quantity_tco2e} tCO2e of "
                f"{programme.reference}. Apply it to units below.",
                "success",
            )
            return redirect(url_for("registry.authorization", authorization_id=authorization.id))
    elif form.errors:
        flash("Check the highlighted fields.", "error")
    authorizations = [(a, services.authorized_so_far(a)) for a in services.list_authorizations(programme)]
    if request.method == "GET" and (fmt := export_format()):
        name = f"{programme.reference}-authorizations"
        return export_response(authorizations, AUTHORIZATION_COLUMNS, name, fmt)
    return render_template(
        "registry/authorizations.html",
        programme=programme,
        authorizations=authorizations,
        form=form,
        can_record=services.is_host_government(current_user, programme),
    )


def _itmo_range(block) -> str:
    first = services.itmo_identifier(block, block.serial_start)
    return f"{first} to {services.itmo_identifier(block, block.serial_end)}"


@bp.route("/registry/authorizations/<int:authorization_id>", methods=["GET", "POST"])
@login_required
def authorization(authorization_id: int):
    authorization = services.get_authorization(authorization_id, actor=current_user)
    form = AuthorizeUnitsForm()
    if form.validate_on_submit():
        try:
            blocks = services.authorize_units(authorization, actor=current_user, quantity=form.quantity.data)
        except (InvalidInput, RuleViolation) as error:
            db.session.rollback()
            place_errors(form, error)
        else:
            db.session.commit()
            shown = "; ".join(_itmo_range(b) for b in blocks[:5]) + ("; …" if len(blocks) > 5 else "")
            flash(
                f"{sum(b.quantity for b in blocks)} units authorized under {authorization.label}: {shown}.",
                "success",
            )
            return redirect(url_for("registry.authorization", authorization_id=authorization_id))
    elif form.errors:
        flash("Check the highlighted fields.", "error")
    applied = services.authorized_so_far(authorization)
    return render_template(
        "registry/authorization.html",
        authorization=authorization,
        applied=applied,
        remaining=authorization.quantity_tco2e - applied,
        adjustments=services.adjustments(authorization.authorizing_party, authorization_id=authorization.id),
        blocks=services.authorized_blocks(authorization),
        actions=services.article6_actions(authorization=authorization),
        form=form,
        can_apply=services.is_host_government(current_user, authorization.programme),
    )


@bp.get("/registry/adjustments")
@login_required
def adjustments():
    form = AdjustmentSearchForm(request.args)
    results, totals, status = None, {}, 200
    if "party" in request.args:
        if form.validate():
            results = services.adjustments(form.party.data, year=form.year.data)
            if fmt := export_format():
                return export_response(results, ADJUSTMENT_COLUMNS, f"adjustments-{form.party.data}", fmt)
            for adjustment in results:
                totals[adjustment.vintage] = totals.get(adjustment.vintage, 0) + adjustment.quantity
        else:
            status = 422
    return (
        render_template(
            "registry/adjustments.html",
            form=form,
            results=results,
            totals=sorted(totals.items()),
            total=sum(totals.values()),
        ),
        status,
    )


# --- public: no login ---------------------------------------------------------------------------


@bp.get("/registry/serials")
def lookup():
    form = SerialSearchForm(request.args)
    results, status = None, 200
    if "q" in request.args:
        if not form.validate():
            status = 422
        else:
            try:
                results = services.lookup_serial(form.q.data)
            except InvalidInput as error:
                form.q.errors = list(error.errors.get("q", [error.message]))
                status = 422
    return render_template("registry/lookup.html", form=form, results=results), status


def _csv(kind: str) -> Response:
    return Response(
        services.public_csv(kind),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{kind}.csv"'},
    )


@bp.get("/registry/public/issuances.csv")
def issuances_csv():
    return _csv("issuances")


@bp.get("/registry/public/retirements.csv")
def retirements_csv():
    return _csv("retirements")


# --- AEF reports --------------------------------------------------------------------------------


@bp.route("/registry/aef", methods=["GET", "POST"])
@login_required
def aef_reports():
    party = (current_user.organisation.country_code or "").upper()
    form = AefForm(party=party, year=utcnow().year - 1)
    if form.validate_on_submit():
        try:
            report = services.generate_aef_report(
                actor=current_user, party=form.party.data.upper(), year=form.year.data
            )
        except (InvalidInput, RuleViolation) as error:
            db.session.rollback()
            place_errors(form, error)
        else:
            db.session.commit()
            return redirect(url_for("registry.aef_report", report_id=report.id))
    reports = services.list_aef_reports(actor=current_user)
    if request.method == "GET" and (fmt := export_format()):
        return export_response(reports, AEF_REPORT_COLUMNS, "aef-reports", fmt)
    return render_template(
        "registry/aef_reports.html",
        form=form,
        reports=reports,
        may_report=services.can_report(current_user, form.party.data.upper() if form.party.data else party),
    )


@bp.get("/registry/aef/<int:report_id>")
@login_required
def aef_report(report_id: int):
    report = services.get_aef_report(report_id, actor=current_user)
    return render_template("registry/aef_report.html", report=report, content=report.content)


@bp.get("/registry/aef/<int:report_id>.<any(json, csv, xlsx):fmt>")
@login_required
def aef_report_file(report_id: int, fmt: str):
    report = services.get_aef_report(report_id, actor=current_user)
    body, mimetype = services.report_file(report, fmt)
    name = f"aef-{report.party}-{report.year}.{fmt}"
    return Response(
        body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@bp.get("/registry/events")
@login_required
def events():
    found = services.events_for(current_user)
    if fmt := export_format():
        return export_response(found, EVENT_COLUMNS, "registry-events", fmt)
    return render_template("registry/events.html", events=found)
