"""The registry through the REST API: issuance, forwarding, an idempotent transfer with four eyes,
retirement, freezes, suspension, reconciliation, and the public lookup with no token."""

from decimal import Decimal

from poa_manager.registry import services
from poa_manager.registry.models import AccountKind

V = "/api/v1"


def test_the_registry_through_the_api(client, world, registry, make_verified, allocation, api_headers_for):
    admin, trader = api_headers_for(registry.admin), api_headers_for(registry.trader)
    colleague, coordinator = api_headers_for(registry.trader_colleague), api_headers_for(world.coordinator)
    request = make_verified([Decimal("100.5"), Decimal("120.5"), Decimal("140.5")])

    assert client.post(f"{V}/issuance-requests/{request.id}/issuance", headers=coordinator).status_code == 403
    issued = client.post(f"{V}/issuance-requests/{request.id}/issuance", headers=admin)
    assert issued.status_code == 201, issued.json
    issuance = issued.json
    assert issuance["credits"] == 361 and [b["quantity"] for b in issuance["blocks"]] == [101, 120, 140]
    assert issuance["blocks"][0]["serial"].endswith(".2025.000000001-000000101")
    forwarded = client.post(f"{V}/issuances/{issuance['id']}/forward", headers=admin).json
    assert forwarded["status"] == "forwarded"

    table = client.get(f"{V}/programmes/{request.programme_id}/allocation-table", headers=coordinator).json
    assert [s["share_percent"] for s in table] == ["50.00", "10.00", "40.00"]

    accounts = client.get(f"{V}/accounts", headers=trader).json
    (holding,) = [a for a in accounts if a["kind"] == "holding"]
    assert holding["ledger_balance"] == 144
    block = client.get(f"{V}/accounts/{holding['id']}/blocks", headers=trader).json[0]
    buyer = services.account_of(registry.buyer.id, AccountKind.holding)
    body = {"block_id": block["id"], "kind": "transfer", "quantity": 10, "to_account_id": buyer.id}
    key = {"Idempotency-Key": "order-2025-0001"}
    first = client.post(f"{V}/transactions", json=body, headers={**trader, **key})
    again = client.post(f"{V}/transactions", json=body, headers={**trader, **key})
    assert first.status_code == 201 and again.json["id"] == first.json["id"]
    tx = first.json["id"]
    refused = client.post(f"{V}/transactions/{tx}/approve", headers=trader)
    assert refused.status_code == 409 and refused.json["error"] == "self_approval"
    done = client.post(f"{V}/transactions/{tx}/approve", headers=colleague).json
    assert done["status"] == "completed" and done["block"]["serial_end"] == block["serial_end"]

    retire = {
        "block_id": block["id"],
        "kind": "retirement",
        "quantity": 4,
        "beneficiary": "Hanoi Metro",
        "purpose": "2025 claim",
        "using_entity": "Hanoi Metro JSC",
    }
    retirement = client.post(f"{V}/transactions", json=retire, headers=trader).json
    client.post(f"{V}/transactions/{retirement['id']}/approve", headers=colleague)
    serial = retirement["block"]["serial"]

    freeze = {
        "programme_id": request.programme_id,
        "vintage": 2025,
        "serial_start": block["serial_start"],
        "serial_end": block["serial_start"],
        "reason": "Reported stolen",
    }
    assert client.post(f"{V}/freezes", json=freeze, headers=trader).status_code == 403
    frozen = client.post(f"{V}/freezes", json=freeze, headers=admin)
    assert frozen.status_code == 201
    body["quantity"] = block["quantity"] - 14  # everything left, including the frozen first serial
    blocked = client.post(f"{V}/transactions", json=body, headers=trader)
    assert blocked.status_code == 409 and blocked.json["error"] == "serial_frozen"
    client.post(f"{V}/freezes/{frozen.json['id']}/lift", headers=admin)

    suspension = {"suspended": True, "reason": "Incident"}
    assert client.put(f"{V}/registry/suspension", json=suspension, headers=admin).json["suspended"] is True
    body["quantity"] = 1
    assert client.post(f"{V}/transactions", json=body, headers=trader).json["error"] == "registry_suspended"
    client.put(f"{V}/registry/suspension", json={"suspended": False, "reason": "Closed"}, headers=admin)

    report = client.get(f"{V}/registry/reconciliation", headers=admin).json
    assert report["clean"] and report["credits_issued"] == 361
    assert client.get(f"{V}/registry/reconciliation", headers=trader).status_code == 403

    # The public: no token needed for the lookup or the CSVs.
    found = client.get(f"{V}/public/serials", query_string={"q": serial}).json
    assert [e["kind"] for e in found[0]["history"]] == ["issuance", "forward", "retirement"]
    assert found[0]["block"]["status"] == "retired" and found[0]["trace"]["request"] == "IR-001"
    assert client.get(f"{V}/public/serials", query_string={"q": "nonsense"}).status_code == 422
    retirements = client.get(f"{V}/public/retirements.csv").data.decode()
    assert "Hanoi Metro JSC" in retirements and serial.rsplit(".", 1)[0] in retirements
    assert client.get(f"{V}/accounts").status_code == 401  # the rest still needs a token


def test_article6_and_the_aef_report_through_the_api(client, registered, registry, issued, api_headers_for):
    from poa_manager.accounts.roles import Role
    from tests.factories import MembershipFactory, UserFactory

    official = UserFactory(organisation=registry.host)
    MembershipFactory(user=official, programme=registered, role=Role.viewer)  # as the demo's government
    government = api_headers_for(official)
    authorization = {
        "reference": "LoA-2025-7",
        "cooperative_approach": "CA0001",
        "purposes": ["ndc"],
        "first_transfer_definition": "authorization",
        "quantity_tco2e": 50,
        "vintage_first": 2025,
        "vintage_last": 2025,
        "sector": "Energy",
        "activity_type": "Solar PV",
        "authorized_on": "2025-12-01",
        "using_parties": ["JP"],
    }
    url = f"{V}/programmes/{registered.id}/authorizations"
    assert client.post(url, json=authorization, headers=api_headers_for(registry.admin)).status_code == 403
    created = client.post(url, json=authorization, headers=government)
    assert created.status_code == 201, created.json
    units = client.post(
        f"{V}/authorizations/{created.json['id']}/units", json={"quantity": 50}, headers=government
    )
    assert units.status_code == 200 and sum(b["quantity"] for b in units.json) == 50
    assert all(b["authorization_status"] == "first_transferred" for b in units.json)  # at authorization
    assert units.json[0]["itmo_first"].startswith("CA0001-POAM-VN-")
    adjustments = client.get(
        f"{V}/corresponding-adjustments", query_string={"party": "VN"}, headers=government
    )
    assert sum(a["quantity"] for a in adjustments.json) == 50

    from poa_manager.database import utcnow

    report = client.post(f"{V}/aef-reports", json={"party": "VN", "year": utcnow().year}, headers=government)
    assert report.status_code == 201 and report.json["totals"]["first_transfers"] == 50
    csv_file = client.get(f"{V}/aef-reports/{report.json['id']}.csv", headers=government)
    assert csv_file.status_code == 200 and b"T4 Holdings" in csv_file.data
    assert (
        client.get(
            f"{V}/aef-reports/{report.json['id']}", headers=api_headers_for(registry.trader)
        ).status_code
        == 403
    )
