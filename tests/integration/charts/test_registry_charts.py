"""Registry charts against the ledger: credits per vintage, the host Party's NDC contribution by
authorization status month by month, their API equivalents, and who may see them."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from poa_manager.database import db, utcnow
from poa_manager.registry import services
from poa_manager.registry.models import (
    AccountKind,
    AuthorizationStatus,
    FirstTransferDefinition,
    TransactionKind,
)
from tests.factories import UserFactory


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


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
    "authorized_on": date(2025, 5, 1),
}


def holding(organisation):
    return services.account_of(organisation.id, AccountKind.holding)


def complete(block, quantity, *, initiator, approver, when, **fields):
    transaction = services.initiate_transaction(block, actor=initiator, quantity=quantity, now=when, **fields)
    return services.approve_transaction(transaction, actor=approver, now=when)


@pytest.fixture
def government(registry):
    return UserFactory(organisation=registry.host)


@pytest.fixture
def history(registered, registry, make_verified, allocation, government):
    """361 credits of vintage 2025 issued in March 2025 and forwarded (Japan 50 %, Viet Nam 10 %,
    the participant 40 %); 150 authorized in May; 20 first transferred to Japan in July, which
    retires 15 for its NDC in August; Japan retires 3 and cancels 2 unauthorized ones in September."""
    request = make_verified([Decimal("100.5"), Decimal("120.5"), Decimal("140.5")])
    issuance = services.approve_issuance(request, actor=registry.admin, now=at(2025, 3, 10))
    services.forward_issuance(issuance, actor=registry.admin, now=at(2025, 3, 12))
    authorization = services.record_authorization(registered, actor=government, **AUTHORIZATION)
    authorized = services.authorize_units(authorization, actor=government, quantity=150, now=at(2025, 5, 2))
    mine = next(b for b in authorized if b.account.organisation_id == registry.participant.id)
    first = complete(
        mine,
        20,
        initiator=registry.trader,
        approver=registry.trader_colleague,
        when=at(2025, 7, 1),
        kind=TransactionKind.transfer,
        to_account_id=holding(registry.japan).id,
    )
    assert first.block.authorization_status is AuthorizationStatus.first_transferred
    japan_user = UserFactory(organisation=registry.japan)
    complete(
        first.block,
        15,
        initiator=japan_user,
        approver=registry.admin,
        when=at(2025, 8, 5),
        kind=TransactionKind.retirement,
        beneficiary="Government of Japan",
        purpose="NDC 2030",
        using_entity="JP",
        article6_use="use_ndc",
    )
    unauthorized = next(
        b
        for b in db.session.scalars(services.holdings(holding(registry.japan)))
        if b.authorization_status is AuthorizationStatus.mitigation_outcome and b.quantity >= 5
    )
    complete(
        unauthorized,
        3,
        initiator=japan_user,
        approver=registry.admin,
        when=at(2025, 9, 1),
        kind=TransactionKind.retirement,
        beneficiary="Japan Airlines",
        purpose="Voluntary claim",
        using_entity="Japan Airlines",
    )
    complete(
        unauthorized,
        2,
        initiator=japan_user,
        approver=registry.admin,
        when=at(2025, 9, 2),
        kind=TransactionKind.cancellation,
        purpose="Correction",
    )
    return issuance


def chart_json(client, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200, response.data[:300]
    config = response.get_json()
    labels = config["data"]["labels"]
    assert config["type"] == "bar" and all(len(d["data"]) == len(labels) for d in config["data"]["datasets"])
    return config


def test_credits_per_vintage_are_the_ledger_sums(
    world, registered, registry, history, login_as, client, api_headers_for
):
    config = chart_json(login_as(world.coordinator), "/registry/charts/credits-by-vintage.json")
    assert config["data"]["labels"] == ["2025"]
    by_label = {d["label"]: d["data"] for d in config["data"]["datasets"]}
    # 361 issued; 20 transferred to Japan; 15 used for Japan's NDC + 3 voluntary; 2 cancelled.
    assert by_label == {"Issued": [361], "Transferred": [20], "Retired": [18], "Cancelled": [2]}

    one = chart_json(
        login_as(registry.admin), f"/registry/charts/credits-by-vintage.json?programme_id={registered.id}"
    )
    assert one["data"] == config["data"]
    api = client.get(
        f"/api/v1/registry/statistics/vintages?programme_id={registered.id}",
        headers=api_headers_for(world.coordinator),
    )
    assert api.get_json() == [
        {"vintage": 2025, "issued": 361, "transferred": 20, "retired": 18, "cancelled": 2}
    ]

    # Someone of another programme sees none of it, and asking for this programme is a 404.
    outsider = login_as(world.outsider)
    assert chart_json(outsider, "/registry/charts/credits-by-vintage.json")["data"]["labels"] == []
    assert (
        outsider.get(f"/registry/charts/credits-by-vintage.json?programme_id={registered.id}").status_code
        == 404
    )
    denied = client.get(
        f"/api/v1/registry/statistics/vintages?programme_id={registered.id}",
        headers=api_headers_for(world.outsider),
    )
    assert denied.status_code == 404


def test_the_ndc_split_follows_authorization_and_first_transfer_month_by_month(
    world, registry, government, history, login_as, client, api_headers_for
):
    config = chart_json(login_as(government), "/registry/charts/ndc-contribution.json?host_country=VN")
    labels = config["data"]["labels"]
    assert labels[0] == "2025-03" and labels[-1] == f"{utcnow().year:04d}-{utcnow().month:02d}"
    adjusted, pending, unauthorized, used = (d["data"] for d in config["data"]["datasets"])
    month = {label: i for i, label in enumerate(labels)}
    expected = {
        "2025-03": (0, 0, 361, 0),
        "2025-04": (0, 0, 361, 0),
        "2025-05": (0, 150, 211, 0),
        "2025-07": (20, 130, 211, 0),
        "2025-08": (20, 130, 211, 15),
        "2025-09": (20, 130, 211, 15),  # retiring or cancelling unauthorized units changes no status
    }
    for label, values in expected.items():
        i = month[label]
        assert (adjusted[i], pending[i], unauthorized[i], used[i]) == values, label
    assert all(a + p + u == 361 for a, p, u in zip(adjusted, pending, unauthorized, strict=True))
    assert config["data"]["datasets"][3]["type"] == "line"

    api = client.get(
        "/api/v1/registry/ndc-contribution?host_country=vn", headers=api_headers_for(registry.admin)
    )
    assert api.status_code == 200
    july = next(m for m in api.get_json() if m["month"] == "2025-07")
    assert july == {
        "month": "2025-07",
        "issued": 361,
        "adjusted": 20,
        "authorized_pending": 130,
        "not_authorized": 211,
        "used_ndc": 0,
    }


def test_only_the_host_government_and_administrators_see_the_ndc_figures(
    world, registry, government, history, login_as, client, api_headers_for
):
    for allowed in (government, registry.admin, world.admin):
        assert (
            login_as(allowed).get("/registry/charts/ndc-contribution.json?host_country=VN").status_code == 200
        )
    for refused in (world.coordinator, registry.buyer_user, UserFactory(organisation=registry.japan)):
        assert (
            login_as(refused).get("/registry/charts/ndc-contribution.json?host_country=VN").status_code == 403
        )
        api = client.get(
            "/api/v1/registry/ndc-contribution?host_country=VN", headers=api_headers_for(refused)
        )
        assert api.status_code == 403
    assert (
        login_as(government).get("/registry/charts/ndc-contribution.json?host_country=JP").status_code == 403
    )
    assert (
        login_as(government).get("/registry/charts/ndc-contribution.json?host_country=VNM").status_code == 422
    )
    bad = client.get(
        "/api/v1/registry/ndc-contribution?host_country=1", headers=api_headers_for(registry.admin)
    )
    assert bad.status_code == 422


def test_the_registry_overview_carries_the_charts_each_user_may_see(world, registry, government, login_as):
    page = login_as(government).get("/registry/").get_data(as_text=True)
    assert 'data-testid="credits-by-vintage-chart"' in page
    assert 'data-chart-src="/registry/charts/ndc-contribution.json?host_country=VN"' in page
    assert "host_country=JP" not in page
    coordinator_page = login_as(world.coordinator).get("/registry/").get_data(as_text=True)
    assert 'data-testid="credits-by-vintage-chart"' in coordinator_page
    assert "ndc-contribution" not in coordinator_page
