"""The Article 6.2 pages as the host government, the holders and the public use them: recording an
authorization, applying it to units, the first international transfer with its corresponding
adjustment, a retirement used towards an NDC, and the ITMO identifiers in the serial lookup."""

import re
from datetime import date

import pytest
import sqlalchemy as sa

from poa_manager.accounts.roles import Role
from poa_manager.database import db
from poa_manager.registry import services
from poa_manager.registry.models import (
    AccountKind,
    Article6Action,
    Article6Use,
    Authorization,
    AuthorizationStatus,
    CreditBlock,
    FirstTransferDefinition,
    Transaction,
    TransactionKind,
    TransactionStatus,
)
from tests.factories import MembershipFactory, UserFactory

FORM = {
    "reference": "MONRE/LoA/2025-001",
    "cooperative_approach": "CA0001",
    "purposes": ["ndc", "oimp"],
    "first_transfer_definition": "first_international_transfer",
    "quantity_tco2e": "200",
    "vintage_first": "2025",
    "vintage_last": "2025",
    "using_parties": "jp, sg",
    "using_entities-0-name": "Japan Airlines",
    "using_entities-0-country": "jp",
    "using_entities-1-name": "",
    "using_entities-1-country": "",
    "using_entities-2-name": "",
    "using_entities-2-country": "",
    "sector": "Energy",
    "activity_type": "Solar PV",
    "authorized_on": "2025-12-01",
}
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
    "using_parties": ["JP"],
}


@pytest.fixture
def government(registry, registered):
    """A person of Viet Nam's government; seeing the programme takes a role on it (a viewer)."""
    user = UserFactory(organisation=registry.host)
    MembershipFactory(user=user, programme=registered, role=Role.viewer)
    return user


def _holding(organisation) -> int:
    return services.account_of(organisation.id, AccountKind.holding).id


def _authorized_block(authorization, account_id: int) -> CreditBlock:
    return db.session.scalars(
        sa.select(CreditBlock)
        .where(CreditBlock.authorization_id == authorization.id, CreditBlock.account_id == account_id)
        .order_by(CreditBlock.serial_start)
    ).first()


def _text(response) -> str:
    return response.get_data(as_text=True)


def _testid(html: str, name: str) -> str:
    """The text inside the element carrying data-testid="name" (tags stripped)."""
    match = re.search(rf'data-testid="{name}"[^>]*>(.*?)</(dd|td|th|span|strong|p|code)>', html, re.S)
    assert match, f"no {name} in the page"
    return re.sub(r"<[^>]+>", "", match[1]).strip()


def _field_error(html: str, name: str) -> str:
    """The message placed next to the field `name` (render_field: input, then its error)."""
    match = re.search(rf'name="{name}"[^>]*>\s*<small id="{name}-error" class="field-error">([^<]*)<', html)
    assert match, f"no error next to {name}"
    return match[1]


# --- recording an authorization -----------------------------------------------------------------


def test_the_host_government_records_an_authorization_through_the_form(
    world, registered, registry, government, issued, login_as
):
    db.session.commit()
    client = login_as(government)
    assert 'data-testid="authorizations-link"' in _text(client.get(f"/programmes/{registered.id}"))
    empty = _text(client.get(f"/programmes/{registered.id}/authorizations"))
    assert 'data-testid="no-authorization"' in empty and 'data-testid="authorization-form"' in empty

    refused = client.post(
        f"/programmes/{registered.id}/authorizations",
        data={
            **FORM,
            "cooperative_approach": "A1",
            "purposes": [],
            "vintage_first": "2026",
            "using_parties": "JPN",
        },
    )
    assert refused.status_code == 200
    page = _text(refused)
    assert "Check the authorization." in page
    assert _field_error(page, "cooperative_approach") == "CA followed by four digits, e.g. CA0001."
    assert _field_error(page, "vintage_last").startswith("Vintages from first to last")
    assert _field_error(page, "using_parties") == "Two-letter country codes."
    assert re.search(r'id="purposes-error" class="field-error">One or more of ndc, oimp, other.', page)
    assert db.session.scalar(sa.select(sa.func.count(Authorization.id))) == 0

    recorded = client.post(f"/programmes/{registered.id}/authorizations", data=FORM)

    authorization = db.session.scalar(sa.select(Authorization))
    assert recorded.headers["Location"].endswith(f"/registry/authorizations/{authorization.id}")
    assert authorization.purposes == ["ndc", "oimp"] and authorization.using_parties == ["JP", "SG"]
    assert authorization.using_entities == [{"name": "Japan Airlines", "country": "JP"}]
    assert authorization.recorded_by_id == government.id and authorization.authorized_on == date(2025, 12, 1)
    listed = _text(client.get(f"/programmes/{registered.id}/authorizations"))
    row = listed.split(f'data-authorization="{authorization.id}"')[1].split("</tr>")[0]
    for fact in (
        "MONRE/LoA/2025-001 v1",
        "CA0001",
        "ndc, oimp",
        "first international transfer",
        "200",
        "JP, SG; Japan Airlines (JP)",
        "Energy",
        "Solar PV",
        "2025-12-01",
        government.full_name,
    ):
        assert fact in row, fact
    assert _testid(row, "applied") == "0"
    again = client.post(f"/programmes/{registered.id}/authorizations", data=FORM, follow_redirects=True)
    assert "MONRE/LoA/2025-001 v2 recorded" in _text(again)  # a revised letter: a new version

    # Anyone else on the programme sees the authorizations, not the form, and may not record one.
    coordinator = login_as(world.coordinator)
    theirs = _text(coordinator.get(f"/programmes/{registered.id}/authorizations"))
    assert "MONRE/LoA/2025-001 v1" in theirs and 'data-testid="authorization-form"' not in theirs
    assert coordinator.post(f"/programmes/{registered.id}/authorizations", data=FORM).status_code == 403
    assert db.session.scalar(sa.select(sa.func.count(Authorization.id))) == 2


# --- authorized units, first transfer, corresponding adjustment ---------------------------------


def test_authorized_units_first_transfer_to_japan_with_one_corresponding_adjustment(
    registered, registry, government, issued, login_as
):
    authorization = services.record_authorization(registered, actor=government, **AUTHORIZATION)
    db.session.commit()
    client = login_as(government)
    page = f"/registry/authorizations/{authorization.id}"
    assert 'data-testid="authorize-units"' in _text(client.get(page))
    too_many = _text(client.post(page, data={"quantity": "201"}))
    assert _field_error(too_many, "quantity") == "1 to 200."

    applied = _text(client.post(page, data={"quantity": "150"}, follow_redirects=True))

    assert "150 units authorized under MONRE/LoA/2025-001 v1: CA0001-POAM-VN-" in applied
    assert _testid(applied, "applied") == "150" and services.authorized_so_far(authorization) == 150
    assert 'data-testid="no-adjustment"' in applied  # authorized, not yet first transferred
    trader = login_as(registry.trader)
    assert 'data-testid="authorize-units"' not in _text(trader.get(page))
    assert trader.post(page, data={"quantity": "10"}).status_code == 403

    # The participant (VN) sells authorized units to Japan through the pages: the first transfer.
    participant_account = _holding(registry.participant)
    block = _authorized_block(authorization, participant_account)
    account_page = _text(trader.get(f"/registry/accounts/{participant_account}"))
    row = account_page.split(f'<tr data-block="{block.id}">')[1].split("</tr>")[0]
    assert _testid(row, "authorization-status").startswith("authorized")
    assert _testid(row, "itmo-first") == services.itmo_identifier(block, block.serial_start)
    proposed = trader.post(
        f"/registry/blocks/{block.id}/transfer",
        data={"quantity": "20", "to_account_id": _holding(registry.japan)},
    )
    transaction = db.session.scalar(sa.select(Transaction))
    assert proposed.headers["Location"].endswith(f"/registry/transactions/{transaction.id}")
    done = _text(
        login_as(registry.trader_colleague).post(
            f"/registry/transactions/{transaction.id}/approve", follow_redirects=True
        )
    )
    assert _testid(done, "transaction-status") == "completed"
    moved = transaction.block
    assert moved.authorization_status is AuthorizationStatus.first_transferred

    shown = _text(client.get(page))
    adjustments = shown.split('data-testid="adjustments"')[1]
    assert re.findall(r'data-trigger="(\w+)"', adjustments) == ["first_international_transfer"]
    assert f"{moved.serial_start}-{moved.serial_end}" in adjustments
    assert _testid(adjustments, "adjusted-total") == "20"

    overview = _text(client.get("/registry/"))
    assert 'href="/registry/adjustments?party=VN"' in overview
    assert 'data-testid="adjustments-link"' not in _text(trader.get("/registry/"))
    by_party = _text(client.get("/registry/adjustments", query_string={"party": "VN", "year": 2025}))
    assert re.findall(r'data-vintage="(\d+)"', by_party) == ["2025"]
    assert _testid(by_party, "vintage-total") == "20" and _testid(by_party, "adjusted-total") == "20"
    assert "MONRE/LoA/2025-001 v1" in by_party.split('data-testid="adjustments"')[1]
    other_year = _text(client.get("/registry/adjustments", query_string={"party": "VN", "year": 2024}))
    assert 'data-testid="no-adjustment"' in other_year
    assert client.get("/registry/adjustments", query_string={"party": "VNM"}).status_code == 422

    # Japan passes some on: a plain transfer, no second adjustment.
    japan_user = UserFactory(organisation=registry.japan)
    services.initiate_transaction(
        moved,
        actor=japan_user,
        kind=TransactionKind.transfer,
        quantity=5,
        to_account_id=_holding(registry.participant),
    )
    db.session.commit()
    again = _text(client.get("/registry/adjustments", query_string={"party": "VN"}))
    assert _testid(again, "adjusted-total") == "20"


# --- using authorized units ---------------------------------------------------------------------


def test_a_retirement_of_authorized_units_is_used_towards_an_ndc_and_the_lookup_shows_the_itmos(
    registered, registry, government, issued, login_as, client
):
    authorization = services.record_authorization(registered, actor=government, **AUTHORIZATION)
    services.authorize_units(authorization, actor=government, quantity=120)  # part of the participant's
    participant_account = _holding(registry.participant)
    block = _authorized_block(authorization, participant_account)
    plain = db.session.scalars(
        sa.select(CreditBlock).where(
            CreditBlock.account_id == participant_account, CreditBlock.authorization_id.is_(None)
        )
    ).first()
    db.session.commit()
    trader = login_as(registry.trader)
    page = _text(trader.get(f"/registry/accounts/{participant_account}"))
    retire = page.split(f'data-testid="retire-{block.id}"')[1].split("</form>")[0]
    assert 'name="article6_use"' in retire
    assert re.findall(r'<option[^>]*value="(\w*)"[^>]*>([^<]*)</option>', retire) == [
        ("", "—"),
        ("use_ndc", "Use towards an NDC"),
        ("use_oimp", "Use for OIMP (e.g. CORSIA)"),
    ]
    cancel = page.split(f'data-testid="cancel-{block.id}"')[1].split("</form>")[0]
    assert "OMGE cancellation" in cancel and "Voluntary cancellation" in cancel
    assert 'name="article6_use"' not in page.split(f'data-testid="retire-{plain.id}"')[1].split("</form>")[0]

    proposed = trader.post(
        f"/registry/blocks/{block.id}/retirement",
        data={
            "quantity": "10",
            "beneficiary": "Government of Viet Nam",
            "purpose": "NDC 2030",
            "using_entity": "VN",
            "article6_use": "use_ndc",
            "idempotency_key": "retire-ndc",
        },
    )
    transaction = db.session.scalar(sa.select(Transaction))
    assert proposed.headers["Location"].endswith(f"/registry/transactions/{transaction.id}")
    assert transaction.article6_use is Article6Use.use_ndc
    done = _text(
        login_as(registry.trader_colleague).post(
            f"/registry/transactions/{transaction.id}/approve", follow_redirects=True
        )
    )
    assert transaction.status is TransactionStatus.completed
    assert _testid(done, "article6-use") == "Use towards an NDC"
    last = db.session.scalars(sa.select(Article6Action).order_by(Article6Action.id.desc())).first()
    assert (last.action_type.value, last.quantity) == ("use_ndc", 10)

    # A use the authorization does not cover is refused with the service's reason.
    oimp_only = services.record_authorization(
        registered,
        actor=government,
        **{**AUTHORIZATION, "reference": "MONRE/LoA/2025-002", "purposes": ["oimp"]},
    )
    services.authorize_units(oimp_only, actor=government, quantity=10)
    other = db.session.scalars(
        sa.select(CreditBlock).where(CreditBlock.authorization_id == oimp_only.id)
    ).first()
    db.session.commit()
    holder = login_as(UserFactory(organisation=other.account.organisation))
    refused = holder.post(
        f"/registry/blocks/{other.id}/retirement",
        data={
            "quantity": "1",
            "beneficiary": "x",
            "purpose": "x",
            "using_entity": "x",
            "article6_use": "use_ndc",
        },
        follow_redirects=True,
    )
    assert "The authorization does not cover ndc use." in _text(refused)

    # The public lookup (no login): the authorization, its cooperative approach, the ITMO identifiers
    # and the Article 6 use in the history.
    retired = transaction.block
    found = _text(client.get("/registry/serials", query_string={"q": services.serial_of(retired)}))
    assert _testid(found, "authorization-status") == "first transferred"  # first transfer at use
    assert _testid(found, "authorization") == "MONRE/LoA/2025-001 v1"
    assert _testid(found, "cooperative-approach") == "CA0001"
    assert _testid(found, "itmo-first") == services.itmo_identifier(retired, retired.serial_start)
    assert _testid(found, "itmo-last") == services.itmo_identifier(retired, retired.serial_end)
    assert _testid(found, "itmo-first").startswith("CA0001-POAM-VN-")
    assert _testid(found, "article6-use") == "Use towards an NDC"
    unauthorized = _text(client.get("/registry/serials", query_string={"q": services.serial_of(plain)}))
    assert _testid(unauthorized, "authorization-status") == "mitigation outcome"
    assert 'data-testid="itmo-first"' not in unauthorized


def test_the_authorization_page_lists_its_units_actions_and_the_lookup_shows_them(
    registered, registry, issued, login_as, client
):
    from tests.integration.registry.test_article6 import AUTHORIZATION

    official = UserFactory(organisation=registry.host)
    authorization = services.record_authorization(registered, actor=official, **AUTHORIZATION)
    (block, *_) = services.authorize_units(authorization, actor=official, quantity=30)
    MembershipFactory(user=official, programme=registered, role=Role.viewer)
    page = login_as(official).get(f"/registry/authorizations/{authorization.id}").data.decode()
    assert (
        'data-testid="authorized-blocks"' in page
        and services.itmo_identifier(block, block.serial_start) in page
    )
    assert 'data-action="authorization"' in page
    lookup = client.get("/registry/serials", query_string={"q": block.serial}).data.decode()
    assert 'data-testid="article6-history"' in lookup and 'data-action="authorization"' in lookup


def test_the_government_generates_its_aef_report_on_the_page_and_downloads_it(
    registered, registry, issued, login_as
):
    import csv
    import io

    from poa_manager.database import utcnow
    from tests.integration.registry.test_article6 import AUTHORIZATION

    official = UserFactory(organisation=registry.host)
    authorization = services.record_authorization(
        registered, actor=official, **{**AUTHORIZATION, "first_transfer_definition": "authorization"}
    )
    services.authorize_units(authorization, actor=official, quantity=40)
    browser = login_as(official)
    form = browser.get("/registry/aef").data.decode()
    assert 'value="VN"' in form
    refused = login_as(registry.trader).post("/registry/aef", data={"party": "VN", "year": utcnow().year})
    assert refused.status_code == 403
    made = browser.post("/registry/aef", data={"party": "VN", "year": utcnow().year})
    assert made.status_code == 302
    page = browser.get(made.headers["Location"]).data.decode()
    assert 'data-testid="first-transfers">40<' in page and "T4 Holdings" in page
    report_id = made.headers["Location"].rsplit("/", 1)[1]
    rows = list(csv.reader(io.StringIO(browser.get(f"/registry/aef/{report_id}.csv").data.decode())))
    assert sum(int(r[8]) for r in rows if r[0] == "T3 Actions" and r[12] == "First transfer") == 40
    again = browser.post("/registry/aef", data={"party": "VN", "year": utcnow().year})
    assert again.headers["Location"] == made.headers["Location"]  # frozen: the same report
