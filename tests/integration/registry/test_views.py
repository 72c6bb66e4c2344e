"""The registry pages as each person uses them: issuance approval and forwarding, the allocation
table, four-eyes transfers and retirements with the split rule, the public serial lookup and CSVs,
what stays invisible, freezes and the suspension switch."""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa

from poa_manager.accounts.roles import Role
from poa_manager.database import db, utcnow
from poa_manager.monitoring.models import RequestStatus
from poa_manager.registry import services
from poa_manager.registry.models import (
    AccountKind,
    AllocationShare,
    BlockStatus,
    CreditBlock,
    IssuanceStatus,
    RegistrySwitch,
    SerialFreeze,
    Transaction,
    TransactionKind,
    TransactionStatus,
)
from poa_manager.verification.models import Verification
from tests.factories import PASSWORD, MembershipFactory


def _holding(organisation) -> int:
    return services.account_of(organisation.id, AccountKind.holding).id


def _blocks_of(account_id: int) -> list[CreditBlock]:
    return list(
        db.session.scalars(
            sa.select(CreditBlock)
            .where(CreditBlock.account_id == account_id)
            .order_by(CreditBlock.serial_start)
        )
    )


def _text(response) -> str:
    return response.get_data(as_text=True)


def _testid(html: str, name: str) -> str:
    """The text inside the element carrying data-testid="name" (tags stripped)."""
    match = re.search(rf'data-testid="{name}"[^>]*>(.*?)</(dd|td|th|span|strong|p|code)>', html, re.S)
    assert match, f"no {name} in the page"
    return re.sub(r"<[^>]+>", "", match[1]).strip()


# --- issuance -----------------------------------------------------------------------------------


def test_the_registry_administrator_approves_issuance_from_the_request_page_and_sees_the_blocks(
    world, registry, make_verified, allocation, login_as
):
    request = make_verified([Decimal("100.5"), Decimal("120.5"), Decimal("140.5")])
    db.session.commit()
    assert "approve-issuance" not in _text(
        login_as(world.coordinator).get(f"/issuance-requests/{request.id}")
    )
    admin = login_as(registry.admin)
    overview = _text(admin.get("/registry/"))
    assert "awaiting-issuance" in overview and request.label in overview
    assert 'data-testid="approve-issuance"' in _text(admin.get(f"/issuance-requests/{request.id}"))

    approved = admin.post(f"/registry/issuance-requests/{request.id}/approve")

    assert approved.status_code == 302
    issuance = services.list_issuances(actor=registry.admin)
    issuance = db.session.scalar(issuance)
    assert approved.headers["Location"].endswith(f"/registry/issuances/{issuance.id}")
    assert request.status is RequestStatus.issued
    page = _text(admin.get(f"/registry/issuances/{issuance.id}"))
    assert _testid(page, "credits") == "361"
    assert _testid(page, "issuance-status") == "issued"
    # Four eyes: the coordinator requested, the registry administrator approved.
    assert _testid(page, "requested-by") == world.coordinator.full_name
    assert _testid(page, "approved-by").startswith(registry.admin.full_name)
    for block in issuance.blocks:
        assert services.serial_of(block) in page
    assert [services.serial_of(b)[-19:] for b in issuance.blocks] == [
        "000000001-000000101",
        "000000102-000000221",
        "000000222-000000361",
    ]
    # The table that forwarding will apply: 361 at 50/10/40 % → 181/36/144 (test_issuance.py).
    allocation_rows = re.findall(
        r'<td class="number">(\d+)</td></tr>', page.split('data-testid="allocation"')[1]
    )
    assert allocation_rows[:3] == ["181", "36", "144"]
    assert 'data-testid="forward"' in page
    assert issuance.label in _text(admin.get(f"/issuance-requests/{request.id}"))  # linked back
    assert issuance.label in _text(admin.get("/registry/issuances"))


def test_the_requester_is_refused_approval_even_as_registry_administrator(
    world, registry, make_verified, login_as
):
    request = make_verified([Decimal(50), Decimal(50)])
    MembershipFactory(user=world.coordinator, programme=request.programme, role=Role.registry_administrator)
    db.session.commit()
    client = login_as(world.coordinator)
    refused = client.post(f"/registry/issuance-requests/{request.id}/approve", follow_redirects=True)
    assert "another person approves it" in _text(refused)
    assert request.status is RequestStatus.verified
    assert login_as(world.viewer).post(f"/registry/issuance-requests/{request.id}/approve").status_code == 403


def test_forwarding_through_the_page_follows_the_allocation_table(
    registry, make_verified, allocation, login_as
):
    issuance = services.approve_issuance(make_verified([Decimal(60), Decimal(40)]), actor=registry.admin)
    db.session.commit()
    admin = login_as(registry.admin)
    assert issuance.label in _text(admin.get("/registry/"))  # issued, not yet forwarded

    forwarded = admin.post(f"/registry/issuances/{issuance.id}/forward", follow_redirects=True)

    page = _text(forwarded)
    assert "forwarded by the allocation table" in page
    assert issuance.status is IssuanceStatus.forwarded
    assert _testid(page, "issuance-status") == "forwarded"
    assert 'data-testid="forward"' not in page
    assert registry.japan.name in page and registry.participant.name in page
    assert services.held_quantity(_holding(registry.japan)) == 50
    again = _text(admin.post(f"/registry/issuances/{issuance.id}/forward", follow_redirects=True))
    assert "already forwarded" in again


# --- the allocation table -----------------------------------------------------------------------


def _rows(*rows) -> dict:
    data = {}
    for i, (organisation_id, percent, destination) in enumerate(rows):
        data[f"rows-{i}-organisation_id"] = str(organisation_id)
        data[f"rows-{i}-share_percent"] = percent
        data[f"rows-{i}-destination"] = destination
    for i in range(len(rows), 6):
        data[f"rows-{i}-organisation_id"] = ""
        data[f"rows-{i}-share_percent"] = ""
        data[f"rows-{i}-destination"] = "holding"
    return data


def test_the_coordinator_sets_the_allocation_table_through_the_form(world, registered, registry, login_as):
    db.session.commit()
    client = login_as(world.coordinator)
    assert 'data-testid="allocation-link"' in _text(client.get(f"/programmes/{registered.id}"))
    empty = _text(client.get(f"/programmes/{registered.id}/allocation"))
    assert 'data-testid="no-allocation"' in empty and empty.count('name="rows-') == 18  # 6 rows × 3

    short = client.post(
        f"/programmes/{registered.id}/allocation",
        data=_rows((registry.japan.id, "50", "holding"), (registry.host.id, "10", "holding")),
    )
    assert short.status_code == 200
    assert "The shares add up to 60 %, not 100 %." in _text(short)
    assert db.session.scalar(sa.select(sa.func.count(AllocationShare.id))) == 0

    no_share = client.post(
        f"/programmes/{registered.id}/allocation",
        data=_rows((registry.japan.id, "100", "holding"), (registry.host.id, "", "holding")),
    )
    # The second filled row gets the service's message next to its share field.
    assert re.search(
        r'name="rows-1-share_percent"[^>]*>\s*<small class="field-error">0.01 to 100.', _text(no_share)
    )

    saved = client.post(
        f"/programmes/{registered.id}/allocation",
        data=_rows(
            (registry.japan.id, "50", "holding"),
            (registry.participant.id, "48", "holding"),
            (registry.host.id, "2", "cancellation"),
        ),
    )
    assert saved.status_code == 302
    page = _text(client.get(f"/programmes/{registered.id}/allocation"))
    assert _testid(page, "allocation-total") == "100.00 %"
    assert "cancellation (share of proceeds / overall mitigation)" in page
    assert [(s.organisation_id, s.destination.value) for s in services.allocation_table(registered)] == [
        (registry.japan.id, "holding"),
        (registry.participant.id, "holding"),
        (registry.host.id, "cancellation"),
    ]
    jcm_refused = client.post(
        f"/programmes/{registered.id}/allocation",
        data={
            **_rows((registry.japan.id, "40", "holding"), (registry.participant.id, "60", "holding")),
            "jcm_model_project": "y",
        },
    )
    assert "at least 50" in _text(jcm_refused)

    viewer = login_as(world.viewer)
    assert 'data-testid="allocation-form"' not in _text(viewer.get(f"/programmes/{registered.id}/allocation"))
    assert (
        viewer.post(
            f"/programmes/{registered.id}/allocation", data=_rows((registry.japan.id, "100", "holding"))
        ).status_code
        == 403
    )


# --- transfers and retirements ------------------------------------------------------------------


def test_a_partial_transfer_needs_a_second_person_and_the_holder_keeps_the_first_serials(
    registry, issued, login_as
):
    participant_account = _holding(registry.participant)
    block = _blocks_of(participant_account)[0]
    start, end = block.serial_start, block.serial_end
    db.session.commit()
    admin = login_as(registry.admin)
    opened = admin.post("/registry/accounts", data={"organisation_id": registry.buyer.id, "kind": "holding"})
    assert opened.status_code == 302
    buyer_account = _holding(registry.buyer)
    assert opened.headers["Location"].endswith(f"/registry/accounts/{buyer_account}")

    trader = login_as(registry.trader)
    page = _text(trader.get(f"/registry/accounts/{participant_account}"))
    assert _testid(page, "ledger-balance") == "144" and _testid(page, "held") == "144"
    assert 'data-testid="agree"' in page
    assert f'data-testid="transfer-{block.id}"' in page and registry.buyer.name in page
    keys = re.findall(r'name="idempotency_key" value="([^"]+)"', page)
    assert len(keys) == len(set(keys)) > 2  # a fresh key for every rendered form

    form = {"quantity": "10", "to_account_id": str(buyer_account), "idempotency_key": keys[0]}
    first = trader.post(f"/registry/blocks/{block.id}/transfer", data=form)
    double_click = trader.post(f"/registry/blocks/{block.id}/transfer", data=form)
    assert first.status_code == double_click.status_code == 302
    assert first.headers["Location"] == double_click.headers["Location"]
    transactions = db.session.scalars(sa.select(Transaction)).all()
    assert len(transactions) == 1  # T3: one transaction for the double click
    transaction = transactions[0]
    assert first.headers["Location"].endswith(f"/registry/transactions/{transaction.id}")

    own = _text(trader.get(f"/registry/transactions/{transaction.id}"))
    assert 'data-testid="approve"' not in own and 'data-testid="four-eyes"' in own
    assert _testid(own, "transaction-status") == "proposed"
    self_approval = _text(
        trader.post(f"/registry/transactions/{transaction.id}/approve", follow_redirects=True)
    )
    assert "a second person approves it" in self_approval
    assert transaction.status is TransactionStatus.proposed

    colleague = login_as(registry.trader_colleague)
    assert transaction.label in _text(colleague.get("/registry/"))  # awaiting their approval
    theirs = _text(colleague.get(f"/registry/transactions/{transaction.id}"))
    assert 'data-testid="approve"' in theirs
    assert _testid(theirs, "serial").endswith(f"{end - 9:09d}-{end:09d}")
    done = _text(colleague.post(f"/registry/transactions/{transaction.id}/approve", follow_redirects=True))
    assert _testid(done, "transaction-status") == "completed"
    assert registry.trader_colleague.full_name in _testid(done, "approved")

    # The split rule (domain.md §5.5): the holder keeps the first sub-block, the buyer gets the last.
    kept = _text(trader.get(f"/registry/accounts/{participant_account}"))
    assert f"{start:09d}-{end - 10:09d}" in kept and f"{end - 9:09d}-{end:09d}" not in kept
    assert _testid(kept, "ledger-balance") == "134" and _testid(kept, "held") == "134"
    bought = _text(login_as(registry.buyer_user).get(f"/registry/accounts/{buyer_account}"))
    assert f"{end - 9:09d}-{end:09d}" in bought
    assert _testid(bought, "ledger-balance") == "10" and 'data-testid="agree"' in bought


def test_a_retirement_names_beneficiary_purpose_and_using_entity(registry, issued, login_as):
    block = _blocks_of(_holding(registry.participant))[0]
    db.session.commit()
    trader = login_as(registry.trader)
    incomplete = trader.post(
        f"/registry/blocks/{block.id}/retirement",
        data={"quantity": "5", "beneficiary": "Acme Airlines", "purpose": "CORSIA 2025"},
        follow_redirects=True,
    )
    assert "Using entity: This field is required." in _text(incomplete)
    assert db.session.scalar(sa.select(sa.func.count(Transaction.id))) == 0

    retired = trader.post(
        f"/registry/blocks/{block.id}/retirement",
        data={
            "quantity": "5",
            "beneficiary": "Acme Airlines",
            "purpose": "CORSIA first phase 2025",
            "using_entity": "Acme Airlines Ltd",
            "idempotency_key": "retire-1",
        },
    )
    transaction = db.session.scalar(sa.select(Transaction))
    assert retired.headers["Location"].endswith(f"/registry/transactions/{transaction.id}")
    page = _text(
        login_as(registry.trader_colleague).post(
            f"/registry/transactions/{transaction.id}/approve", follow_redirects=True
        )
    )
    assert _testid(page, "transaction-status") == "completed"
    assert _testid(page, "beneficiary") == "Acme Airlines" and "Acme Airlines Ltd" in page
    assert transaction.block.status is BlockStatus.retired
    assert transaction.block.account.kind is AccountKind.retirement


def test_a_transfer_after_the_delay_is_completed_from_the_page_and_one_can_be_rejected(
    registry, issued, login_as
):
    participant_account = services.get_account(_holding(registry.participant), actor=registry.admin)
    db.session.commit()
    admin = login_as(registry.admin)
    saved = admin.post(
        f"/registry/accounts/{participant_account.id}/controls",
        data={"transfer_delay_hours": "24", "transfer_limit": "50"},
    )
    assert saved.status_code == 302 and participant_account.transfer_delay_hours == 24
    block = _blocks_of(participant_account.id)[0]
    destination = _holding(registry.japan)
    trader = login_as(registry.trader)
    over = trader.post(
        f"/registry/blocks/{block.id}/transfer",
        data={"quantity": "60", "to_account_id": destination},
        follow_redirects=True,
    )
    assert "limit is 50 credits" in _text(over)
    transaction = services.initiate_transaction(
        block, actor=registry.trader, kind=TransactionKind.transfer, quantity=20, to_account_id=destination
    )
    services.approve_transaction(
        transaction, actor=registry.trader_colleague, now=utcnow() - timedelta(hours=25)
    )
    rejected = services.initiate_transaction(
        block, actor=registry.trader, kind=TransactionKind.transfer, quantity=5, to_account_id=destination
    )
    db.session.commit()
    colleague = login_as(registry.trader_colleague)
    due = _text(colleague.get(f"/registry/transactions/{transaction.id}"))
    assert _testid(due, "transaction-status") == "approved" and 'data-testid="complete"' in due
    completed = _text(
        colleague.post(f"/registry/transactions/{transaction.id}/complete", follow_redirects=True)
    )
    assert _testid(completed, "transaction-status") == "completed"
    no_reason = _text(colleague.post(f"/registry/transactions/{rejected.id}/reject", follow_redirects=True))
    assert "Give the reason." in no_reason and rejected.status is TransactionStatus.proposed
    colleague.post(f"/registry/transactions/{rejected.id}/reject", data={"reason": "Wrong buyer"})
    assert rejected.status is TransactionStatus.rejected and rejected.block.reserved_by_id is None
    listed = _text(colleague.get("/registry/transactions?status=rejected"))
    assert rejected.label in listed and transaction.label not in listed


# --- public -------------------------------------------------------------------------------------


def test_anyone_looks_up_a_serial_and_sees_its_whole_history_and_trace(registry, issued, client):
    participant_block = _blocks_of(_holding(registry.participant))[0]
    buyer_account = services.open_account(
        actor=registry.admin, organisation_id=registry.buyer.id, kind=AccountKind.holding
    )
    transfer = services.initiate_transaction(
        participant_block,
        actor=registry.trader,
        kind=TransactionKind.transfer,
        quantity=10,
        to_account_id=buyer_account.id,
    )
    services.approve_transaction(transfer, actor=registry.trader_colleague)
    retirement = services.initiate_transaction(
        transfer.block,
        actor=registry.buyer_user,
        kind=TransactionKind.retirement,
        quantity=4,
        beneficiary="City of Hanoi",
        purpose="Voluntary claim 2025",
        using_entity="Hanoi People's Committee",
    )
    services.approve_transaction(retirement, actor=registry.admin)
    serial = services.serial_of(retirement.block)
    verification = db.session.scalar(
        sa.select(Verification).where(Verification.request_id == issued.request_id)
    )
    db.session.commit()

    found = client.get("/registry/serials", query_string={"q": serial})  # no login

    assert found.status_code == 200
    page = _text(found)
    assert _testid(page, "serial") == serial and _testid(page, "status") == "retired"
    assert _testid(page, "quantity") == "4"
    history = page.split('data-testid="history"')[1]
    assert re.findall(r'data-kind="(\w+)"', history) == ["issuance", "forward", "transfer", "retirement"]
    assert _testid(page, "beneficiary") == "City of Hanoi" and "Hanoi People&#39;s Committee" in page
    trace = page.split('data-testid="trace"')[1].split("</dl>")[0]
    programme = issued.programme
    report = issued.request.report
    for fact in (
        programme.reference,
        programme.title,
        retirement.block.site.reference,
        issued.request.label,
        verification.label,
        f"{report.period_start} – {report.period_end}",
    ):
        assert str(fact) in trace
    assert "/registry/public/issuances.csv" in page and "/registry/public/retirements.csv" in page

    whole_range = serial.rsplit(".", 1)[0] + ".1-361"
    site_blocks = db.session.scalars(
        sa.select(CreditBlock).where(CreditBlock.site_id == retirement.block.site_id)
    ).all()
    found_all = _text(client.get("/registry/serials", query_string={"q": whole_range}))
    assert found_all.count('data-testid="result"') == len(site_blocks) >= 3  # kept, transferred, retired
    nothing = client.get("/registry/serials", query_string={"q": serial.rsplit(".", 1)[0] + ".900-950"})
    assert nothing.status_code == 200 and "No credits carry this serial" in _text(nothing)
    malformed = client.get("/registry/serials", query_string={"q": "JCM.VN.2025"})
    assert malformed.status_code == 422
    assert re.search(r'class="field-error">[^<]*expected 6 parts', _text(malformed))

    issuances = client.get("/registry/public/issuances.csv")
    assert issuances.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(_text(issuances))))
    assert sum(int(r["quantity"]) for r in rows) == 361 and len(rows) == 3
    retirements = list(csv.DictReader(io.StringIO(_text(client.get("/registry/public/retirements.csv")))))
    assert [(r["serial"], r["beneficiary"], r["using_entity"]) for r in retirements] == [
        (serial, "City of Hanoi", "Hanoi People's Committee")
    ]


# --- scoping, freezes, suspension ---------------------------------------------------------------


def test_a_user_of_an_unrelated_organisation_sees_nothing_of_another_organisations_account(
    world, registry, issued, login_as
):
    participant_account = _holding(registry.participant)
    block = _blocks_of(participant_account)[0]
    transaction = services.initiate_transaction(
        block, actor=registry.trader, kind=TransactionKind.cancellation, quantity=1, purpose="Test"
    )
    db.session.commit()
    outsider = login_as(registry.buyer_user)
    assert outsider.get(f"/registry/accounts/{participant_account}").status_code == 404
    assert outsider.get(f"/registry/transactions/{transaction.id}").status_code == 404
    assert (
        outsider.post(
            f"/registry/blocks/{block.id}/transfer",
            data={"quantity": "1", "to_account_id": participant_account},
        ).status_code
        == 404
    )
    overview = _text(outsider.get("/registry/"))
    assert registry.participant.name not in overview and "awaiting-issuance" not in overview
    assert outsider.get("/registry/freezes").status_code == 200
    platform_admin = login_as(world.admin)  # sees every account, administers no programme's registry
    assert registry.participant.name in _text(platform_admin.get("/registry/"))
    assert platform_admin.get(f"/registry/accounts/{participant_account}").status_code == 200
    assert 'data-testid="freeze-form"' not in _text(outsider.get("/registry/freezes"))


def test_a_frozen_range_refuses_transfers_until_lifted(registry, issued, login_as):
    block = _blocks_of(_holding(registry.participant))[0]
    destination = _holding(registry.japan)
    db.session.commit()
    admin = login_as(registry.admin)
    frozen = admin.post(
        "/registry/freezes",
        data={
            "programme_id": issued.programme_id,
            "vintage": block.vintage,
            "serial_start": block.serial_start,
            "serial_end": block.serial_start,
            "reason": "Reported stolen",
        },
    )
    assert frozen.status_code == 302
    freeze = db.session.scalar(sa.select(SerialFreeze))
    assert "Reported stolen" in _text(admin.get("/registry/"))
    backwards = admin.post(
        "/registry/freezes",
        data={
            "programme_id": issued.programme_id,
            "vintage": block.vintage,
            "serial_start": 9,
            "serial_end": 3,
            "reason": "x",
        },
    )
    assert backwards.status_code == 200 and "ends before it starts" in _text(backwards)

    trader = login_as(registry.trader)
    refused = trader.post(
        f"/registry/blocks/{block.id}/transfer",
        data={"quantity": str(block.quantity), "to_account_id": destination},
        follow_redirects=True,
    )
    assert "are frozen: Reported stolen" in _text(refused)
    admin.post(f"/registry/freezes/{freeze.id}/lift")
    assert freeze.lifted_at is not None
    moved = trader.post(
        f"/registry/blocks/{block.id}/transfer", data={"quantity": "1", "to_account_id": destination}
    )
    assert "/registry/transactions/" in moved.headers["Location"]


def test_while_suspended_every_registry_page_says_so_and_transfers_are_refused(
    registry, issued, login_as, client
):
    block = _blocks_of(_holding(registry.participant))[0]
    db.session.commit()
    admin = login_as(registry.admin)
    no_reason = _text(admin.post("/registry/suspension", data={"action": "suspend"}, follow_redirects=True))
    assert "Give the reason" in no_reason and 'data-testid="suspended-banner"' not in no_reason
    admin.post("/registry/suspension", data={"action": "suspend", "reason": "Phishing incident"})
    assert db.session.get(RegistrySwitch, 1).suspended

    trader = login_as(registry.trader)
    for path in ("/registry/", f"/registry/accounts/{block.account_id}", "/registry/transactions"):
        page = _text(trader.get(path))
        assert 'data-testid="suspended-banner"' in page and "Phishing incident" in page, path
    assert 'data-testid="suspended-banner"' in _text(client.get("/registry/serials"))  # public too
    refused = trader.post(
        f"/registry/blocks/{block.id}/transfer",
        data={"quantity": "1", "to_account_id": _holding(registry.japan)},
        follow_redirects=True,
    )
    assert "The registry is suspended: Phishing incident" in _text(refused)
    assert db.session.scalar(sa.select(sa.func.count(Transaction.id))) == 0
    assert trader.post("/registry/suspension", data={"action": "resume", "reason": "me"}).status_code == 403

    admin.post("/registry/suspension", data={"action": "resume", "reason": "Passwords reset"})
    assert 'data-testid="suspended-banner"' not in _text(trader.get("/registry/"))


def _token(html: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)[1]


def test_registry_forms_carry_their_csrf_token(app, registry, issued, client):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        login = _text(client.get("/login"))
        client.post(
            "/login", data={"email": registry.trader.email, "password": PASSWORD, "csrf_token": _token(login)}
        )
        account_id = _holding(registry.participant)
        block = _blocks_of(account_id)[0]
        form = {"quantity": "1", "purpose": "Voluntary", "idempotency_key": "k1"}
        assert client.post(f"/registry/blocks/{block.id}/cancellation", data=form).status_code == 400
        page = _text(client.get(f"/registry/accounts/{account_id}"))
        done = client.post(
            f"/registry/blocks/{block.id}/cancellation", data={**form, "csrf_token": _token(page)}
        )
        assert done.status_code == 302 and "/registry/transactions/" in done.headers["Location"]
        allocation = _text(client.get(f"/programmes/{issued.programme_id}/allocation"))
        saved = client.post(
            f"/programmes/{issued.programme_id}/allocation",
            data={**_rows((registry.participant.id, "100", "holding")), "csrf_token": _token(allocation)},
        )
        assert saved.status_code == 302
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
