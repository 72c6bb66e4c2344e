"""Webhook pages and API: the secret shown once, the delivery log, switching off, scoping (404),
and `flask poa deliver-webhooks`."""

import json
import re

import pytest
import sqlalchemy as sa

from poa_manager.database import db, utcnow
from poa_manager.interop import jobs, services
from poa_manager.interop.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from tests.factories import PASSWORD
from tests.integration.interop.test_webhooks import issue


def endpoint_of(receiver_url: str) -> WebhookEndpoint:
    return db.session.scalar(sa.select(WebhookEndpoint).where(WebhookEndpoint.url == receiver_url))


# --- API -----------------------------------------------------------------------------------------


def test_the_api_shows_the_secret_once_and_scopes_endpoints(
    world, registry, client, api_headers_for, receiver
):
    headers = api_headers_for(registry.trader)
    created = client.post(
        "/api/v1/webhooks",
        json={
            "url": receiver.endpoint_url(),
            "event_kinds": ["issuance", "retirement"],
            "description": "ERP",
        },
        headers=headers,
    )
    assert created.status_code == 201, created.json
    body = created.json
    assert body["secret"].startswith("whsec_") and body["secret_hint"] == body["secret"][:10] + "…"
    assert body["organisation_id"] == registry.participant.id and body["event_kinds"] == [
        "issuance",
        "retirement",
    ]

    shown = client.get(f"/api/v1/webhooks/{body['id']}", headers=headers)
    assert shown.status_code == 200 and "secret" not in shown.json
    listed = client.get("/api/v1/webhooks", headers=headers).json
    assert [e["id"] for e in listed] == [body["id"]] and "secret" not in listed[0]

    stranger = api_headers_for(world.outsider)
    assert client.get(f"/api/v1/webhooks/{body['id']}", headers=stranger).status_code == 404
    assert client.get(f"/api/v1/webhooks/{body['id']}/deliveries", headers=stranger).status_code == 404
    assert client.delete(f"/api/v1/webhooks/{body['id']}", headers=stranger).status_code == 404
    assert client.post(f"/api/v1/webhooks/{body['id']}/ping", headers=stranger).status_code == 404
    assert client.get("/api/v1/webhooks", headers=stranger).json == []
    assert (
        client.get(f"/api/v1/webhooks/{body['id']}", headers=api_headers_for(world.admin)).status_code == 200
    )

    switched_off = client.delete(f"/api/v1/webhooks/{body['id']}", headers=headers)
    assert switched_off.status_code == 200 and switched_off.json["active"] is False


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"url": "ftp://example.org/hook"}, 422),
        ({"url": "https://example.org/hook", "event_kinds": ["minting"]}, 422),
        ({"url": "https://example.org/hook", "event_kinds": []}, 422),
        ({}, 422),
    ],
)
def test_the_api_refuses_bad_endpoints(registry, client, api_headers_for, payload, status):
    response = client.post("/api/v1/webhooks", json=payload, headers=api_headers_for(registry.trader))
    assert response.status_code == status and response.json["code"] == status and response.json["errors"]


def test_only_administrators_register_for_another_organisation_through_the_api(
    world, registry, client, api_headers_for
):
    payload = {"url": "https://example.org/hook", "organisation_id": registry.buyer.id}
    assert (
        client.post("/api/v1/webhooks", json=payload, headers=api_headers_for(registry.trader)).status_code
        == 403
    )
    created = client.post("/api/v1/webhooks", json=payload, headers=api_headers_for(world.admin))
    assert created.status_code == 201 and created.json["organisation"] == registry.buyer.name
    assert client.post("/api/v1/webhooks", json={"url": "https://example.org/hook"}).status_code == 401


def test_the_delivery_log_and_the_test_event_through_the_api(
    app, registry, make_verified, allocation, client, api_headers_for, receiver, monkeypatch
):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE_ADDRESSES", True)
    headers = api_headers_for(registry.trader)
    created = client.post("/api/v1/webhooks", json={"url": receiver.endpoint_url()}, headers=headers).json
    receiver.secrets["/hook"] = created["secret"]
    ping = client.post(f"/api/v1/webhooks/{created['id']}/ping", headers=headers)
    assert ping.status_code == 200 and ping.json == {"ok": True, "status_code": 200, "error": None}
    assert receiver.requests[-1].signature_valid

    issue(registry, make_verified)
    run = jobs.run_webhooks(send=jobs.sender_for(app))
    assert (run.enqueued, run.delivered) == (3, 3)
    log = client.get(f"/api/v1/webhooks/{created['id']}/deliveries", headers=headers)
    assert log.status_code == 200 and json.loads(log.headers["X-Pagination"])["total"] == 3
    assert {(d["status"], d["attempts"], d["last_status_code"]) for d in log.json} == {("delivered", 1, 200)}
    assert sorted(d["kind"] for d in log.json) == ["forward", "forward", "issuance"]


# --- Pages ---------------------------------------------------------------------------------------


def test_registering_on_the_page_shows_the_secret_once(world, registry, login_as, receiver):
    client = login_as(registry.trader)
    page = client.get("/interop/webhooks")
    assert page.status_code == 200 and b"Register an endpoint" in page.data
    created = client.post(
        "/interop/webhooks",
        data={"url": receiver.endpoint_url(), "description": "ERP", "event_kinds": ["issuance", "transfer"]},
    )
    assert created.status_code == 201 and b'data-testid="new-secret"' in created.data
    endpoint = endpoint_of(receiver.endpoint_url())
    assert endpoint.secret.encode() in created.data and endpoint.event_kinds == ["issuance", "transfer"]
    again = client.get("/interop/webhooks")
    assert endpoint.secret.encode() not in again.data and endpoint.secret_hint.encode() in again.data
    detail = client.get(f"/interop/webhooks/{endpoint.id}")
    assert detail.status_code == 200 and endpoint.secret.encode() not in detail.data

    assert login_as(world.outsider).get(f"/interop/webhooks/{endpoint.id}").status_code == 404
    outsider_post = login_as(world.outsider).post(f"/interop/webhooks/{endpoint.id}/deactivate")
    assert outsider_post.status_code == 404
    assert login_as(world.admin).get(f"/interop/webhooks/{endpoint.id}").status_code == 200


def test_the_page_refuses_a_non_http_url(registry, login_as):
    response = login_as(registry.trader).post(
        "/interop/webhooks", data={"url": "gopher://example.org/", "event_kinds": ["issuance"]}
    )
    assert response.status_code == 422 and b"Only http:// and https:// URLs are accepted." in response.data


def test_switching_off_on_the_page(registry, make_verified, allocation, login_as, receiver):
    client = login_as(registry.trader)
    client.post("/interop/webhooks", data={"url": receiver.endpoint_url(), "event_kinds": ["issuance"]})
    endpoint = endpoint_of(receiver.endpoint_url())
    issue(registry, make_verified)
    services.enqueue_new_events(now=utcnow())
    response = client.post(f"/interop/webhooks/{endpoint.id}/deactivate", follow_redirects=True)
    assert response.status_code == 200 and b"is switched off" in response.data
    assert b"endpoint deactivated" in response.data  # the delivery log shows the cancelled delivery
    delivery = db.session.scalar(sa.select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
    db.session.refresh(delivery)
    assert delivery.status is DeliveryStatus.failed


def _csrf_token(response) -> str:
    return re.search(
        r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', response.get_data(as_text=True)
    )[1]


@pytest.mark.usefixtures("csrf_enabled")
def test_page_forms_carry_and_need_their_csrf_token(registry, client, receiver):
    login = client.get("/login")
    client.post(
        "/login",
        data={"email": registry.trader.email, "password": PASSWORD, "csrf_token": _csrf_token(login)},
    )
    form = {"url": receiver.endpoint_url(), "event_kinds": ["issuance"]}
    assert client.post("/interop/webhooks", data=form).status_code == 400
    page = client.get("/interop/webhooks")
    assert client.post("/interop/webhooks", data={**form, "csrf_token": _csrf_token(page)}).status_code == 201
    endpoint = endpoint_of(receiver.endpoint_url())
    assert client.post(f"/interop/webhooks/{endpoint.id}/deactivate").status_code == 400
    detail = client.get(f"/interop/webhooks/{endpoint.id}")
    switched = client.post(
        f"/interop/webhooks/{endpoint.id}/deactivate", data={"csrf_token": _csrf_token(detail)}
    )
    assert switched.status_code == 302


def test_the_cli_enqueues_and_delivers(
    app, registry, make_verified, allocation, runner, receiver, monkeypatch
):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE_ADDRESSES", True)
    _endpoint, secret = services.create_webhook(
        actor=registry.trader, url=receiver.endpoint_url(), event_kinds=["issuance", "forward"]
    )
    receiver.secrets["/hook"] = secret
    issue(registry, make_verified)
    result = runner.invoke(args=["poa", "deliver-webhooks"])
    assert result.exit_code == 0, result.output
    assert "3 deliveries enqueued; 3 attempted: 3 delivered, 0 to retry, 0 failed" in result.output
    assert len(receiver.requests) == 3 and all(r.signature_valid for r in receiver.requests)
    again = runner.invoke(args=["poa", "deliver-webhooks"])
    assert "0 deliveries enqueued; 0 attempted" in again.output
