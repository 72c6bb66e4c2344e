"""Article 6.2: the host government's authorization, authorized units, first transfer with the
corresponding adjustment (once), plain transfers after it, uses, and ITMO identifiers."""

from datetime import date

import pytest
import sqlalchemy as sa

from poa_manager.database import db
from poa_manager.errors import InvalidInput, NotAllowed
from poa_manager.registry import services
from poa_manager.registry.models import (
    AccountKind,
    Article6Action,
    AuthorizationStatus,
    CorrespondingAdjustment,
    FirstTransferDefinition,
    RegistryEvent,
    TransactionKind,
)
from tests.factories import UserFactory

AUTHORIZATION = {
    "reference": "MONRE/LoA/2025-001",
    "cooperative_approach": "CA0001",
    "purposes": ["ndc", "oimp"],
    "first_transfer_definition": FirstTransferDefinition.first_international_transfer,
    "quantity_tco2e": 200,
    "vintage_first": 2025,
    "vintage_last": 2025,
    "sector": "Energy",
    "activity_type": "Solar PV",
    "authorized_on": date(2025, 12, 1),
    "using_parties": ["jp"],
    "using_entities": [{"name": "Japan Airlines", "country": "jp"}],
}


@pytest.fixture
def government(registry):
    return UserFactory(organisation=registry.host)


def holding(organisation):
    return services.account_of(organisation.id, AccountKind.holding)


def move(registry, block, quantity, to, *, initiator, approver, kind=TransactionKind.transfer, **extra):
    transaction = services.initiate_transaction(
        block, actor=initiator, kind=kind, quantity=quantity, to_account_id=holding(to).id, **extra
    )
    return services.approve_transaction(transaction, actor=approver)


def test_only_the_host_government_authorizes_and_the_fields_are_checked(
    registered, registry, government, issued
):
    with pytest.raises(NotAllowed):
        services.record_authorization(registered, actor=registry.admin, **AUTHORIZATION)
    with pytest.raises(InvalidInput) as refused:
        services.record_authorization(
            registered, actor=government, **{**AUTHORIZATION, "cooperative_approach": "A1", "purposes": ["x"]}
        )
    assert set(refused.value.errors) == {"cooperative_approach", "purposes"}
    authorization = services.record_authorization(registered, actor=government, **AUTHORIZATION)
    assert authorization.authorizing_party == "VN" and authorization.using_parties == ["JP"]
    again = services.record_authorization(registered, actor=government, **AUTHORIZATION)
    assert again.version == 2  # a revised letter is a new version, the first stays on record


def test_first_international_transfer_records_one_corresponding_adjustment(
    registered, registry, government, issued
):
    authorization = services.record_authorization(registered, actor=government, **AUTHORIZATION)
    authorized = services.authorize_units(authorization, actor=government, quantity=150)
    assert sum(b.quantity for b in authorized) == 150
    assert {b.authorization_status for b in authorized} == {AuthorizationStatus.authorized}
    assert services.authorized_so_far(authorization) == 150
    with pytest.raises(InvalidInput):
        services.authorize_units(authorization, actor=government, quantity=51)  # 200 authorized in all

    # The participant (VN) sells authorized units to a Japanese buyer: the first international transfer.
    block = next(b for b in authorized if b.account.organisation_id == registry.participant.id)
    japan_buyer = UserFactory(organisation=registry.japan)
    first = move(
        registry, block, 20, registry.japan, initiator=registry.trader, approver=registry.trader_colleague
    )
    moved = first.block
    assert moved.authorization_status is AuthorizationStatus.first_transferred
    itmo = services.itmo_identifier(moved)
    assert itmo == f"CA0001-POAM-VN-{moved.serial_start:09d}-{moved.serial_end:09d}-2025"
    adjustments = services.adjustments("VN")
    assert [(a.quantity, a.trigger) for a in adjustments] == [
        (20, FirstTransferDefinition.first_international_transfer)
    ]

    # Later transfers are plain transfers: no second adjustment.
    move(
        registry,
        moved,
        5,
        registry.buyer,
        initiator=japan_buyer,
        approver=UserFactory(organisation=registry.japan),
    )
    assert db.session.scalar(sa.select(sa.func.count(CorrespondingAdjustment.id))) == 1
    actions = [
        a.action_type.value for a in db.session.scalars(sa.select(Article6Action).order_by(Article6Action.id))
    ]
    assert actions.count("first_transfer") == 1 and actions[-1] == "transfer"

    # Japan uses the rest towards its NDC: a retirement with the Article 6 use.
    retired = services.initiate_transaction(
        moved,
        actor=japan_buyer,
        kind=TransactionKind.retirement,
        quantity=15,
        beneficiary="Government of Japan",
        purpose="NDC 2030",
        using_entity="JP",
        article6_use="use_ndc",
    )
    services.approve_transaction(retired, actor=registry.admin)
    last = db.session.scalars(sa.select(Article6Action).order_by(Article6Action.id.desc())).first()
    assert last.action_type.value == "use_ndc" and last.quantity == 15
    kinds = [e.kind for e in db.session.scalars(sa.select(RegistryEvent).order_by(RegistryEvent.id))]
    assert {"issuance", "forward", "authorization", "first_transfer", "transfer", "retirement"} <= set(kinds)
    assert services.reconcile().clean


def test_a_use_must_fit_the_authorized_purposes(registered, registry, government, issued):
    authorization = services.record_authorization(
        registered, actor=government, **{**AUTHORIZATION, "purposes": ["oimp"]}
    )
    (block, *_rest) = services.authorize_units(authorization, actor=government, quantity=10)
    initiator = UserFactory(organisation=block.account.organisation)
    with pytest.raises(InvalidInput) as refused:
        services.initiate_transaction(
            block,
            actor=initiator,
            kind=TransactionKind.retirement,
            quantity=1,
            beneficiary="x",
            purpose="x",
            using_entity="x",
            article6_use="use_ndc",
        )
    assert "does not cover ndc" in refused.value.message


def test_under_the_issuance_definition_units_first_transfer_at_issuance(
    registered, registry, government, make_verified
):
    from decimal import Decimal

    authorization = services.record_authorization(
        registered,
        actor=government,
        **{
            **AUTHORIZATION,
            "first_transfer_definition": FirstTransferDefinition.issuance,
            "quantity_tco2e": 30,
        },
    )
    issuance = services.approve_issuance(make_verified([Decimal(40), Decimal(50)]), actor=registry.admin)
    statuses = sorted((b.authorization_status.value, b.quantity) for b in issuance.blocks)
    assert sum(q for s, q in statuses if s == "first_transferred") == 30
    assert sum(a.quantity for a in services.adjustments("VN")) == 30
    assert services.authorized_so_far(authorization) == 30


def test_the_aef_report_totals_equal_the_ledger_and_it_stays_frozen(registered, registry, government, issued):
    from poa_manager.database import utcnow
    from poa_manager.registry.models import LedgerEntry, LedgerKind, Transaction

    authorization = services.record_authorization(registered, actor=government, **AUTHORIZATION)
    authorized = services.authorize_units(authorization, actor=government, quantity=150)
    block = next(b for b in authorized if b.account.organisation_id == registry.participant.id)
    first = move(
        registry, block, 20, registry.japan, initiator=registry.trader, approver=registry.trader_colleague
    )
    japan_user = UserFactory(organisation=registry.japan)
    use = services.initiate_transaction(
        first.block,
        actor=japan_user,
        kind=TransactionKind.retirement,
        quantity=8,
        beneficiary="Government of Japan",
        purpose="NDC 2030",
        using_entity="JP",
        article6_use="use_ndc",
    )
    services.approve_transaction(use, actor=registry.admin)
    year = utcnow().year
    with pytest.raises(NotAllowed):
        services.generate_aef_report(actor=registry.trader, party="VN", year=year)
    report = services.generate_aef_report(actor=government, party="VN", year=year)
    totals = report.content["totals"]

    # T9: the report's totals against the ledger and the adjustment records.
    used_ndc = db.session.scalar(
        sa.select(sa.func.sum(LedgerEntry.quantity))
        .join(Transaction, Transaction.id == LedgerEntry.transaction_id)
        .where(LedgerEntry.kind == LedgerKind.retirement, Transaction.article6_use == "use_ndc")
    )
    adjusted = sum(a.quantity for a in services.adjustments("VN"))
    held = report.content["tables"]["T4 Holdings"]
    print(
        f"T9: AEF {year} for VN — first transfers {totals['first_transfers']} = adjustments {adjusted}, "
        f"NDC use {totals['use_ndc']} = ledger {used_ndc}; export totals match the ledger for 1 vintage"
    )
    assert totals["first_transfers"] == adjusted == 20
    assert totals["use_ndc"] == used_ndc == 8
    assert sum(row["Quantity (tCO2e)"] for row in held) == 150
    assert len(report.content["tables"]["T2 Authorizations"]) == 1

    # Frozen: more movements later do not change the generated report.
    more = services.authorize_units(authorization, actor=government, quantity=10)
    assert more
    again = services.generate_aef_report(actor=registry.admin, party="VN", year=year)
    assert again.id == report.id and again.content["totals"] == totals
    body, mimetype = services.report_file(report, "csv")
    assert mimetype == "text/csv" and b"T3 Actions" in body and b"CA0001-POAM-VN-" in body
    assert services.report_file(report, "xlsx")[0][:2] == b"PK"
