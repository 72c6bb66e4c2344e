"""The API authenticates by bearer token only, and answers with one JSON error shape."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from poa_manager.accounts import services
from poa_manager.accounts.models import ApiToken, User
from poa_manager.database import utcnow
from tests.factories import UserFactory


def test_api_refuses_requests_without_a_token(client, db):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json == {
        "code": 401,
        "status": "Unauthorized",
        "error": "missing_token",
        "message": "Send a personal API token: 'Authorization: Bearer <token>'.",
    }


def test_api_never_accepts_the_session_cookie(login_as, db):
    client = login_as(UserFactory())
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/me").status_code == 401


@pytest.mark.parametrize("header", ["Bearer poa_wrong", "Basic dXNlcjpwYXNz", "Bearer", "poa_x"])
def test_api_refuses_wrong_tokens(client, db, header):
    response = client.get("/api/v1/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json["error"] in {"invalid_token", "missing_token"}


def test_token_is_shown_once_stored_hashed_and_works_until_revoked(client, db, api_headers_for):
    user = UserFactory()
    created = client.post(
        "/api/v1/tokens",
        json={"name": "logger CPA-0001", "expires_in_days": 30},
        headers=api_headers_for(user),
    )
    assert created.status_code == 201
    plain = created.json["token"]
    assert plain.startswith("poa_") and created.json["prefix"] == plain[:12]

    stored = db.session.get(ApiToken, created.json["id"])
    assert plain not in (stored.token_hash, stored.prefix) and len(stored.token_hash) == 64
    headers = {"Authorization": f"Bearer {plain}"}
    me = client.get("/api/v1/me", headers=headers)
    assert me.status_code == 200 and me.json["email"] == user.email
    listing = client.get("/api/v1/tokens", headers=headers)
    assert all("token" not in item for item in listing.json)

    assert client.delete(f"/api/v1/tokens/{stored.id}", headers=headers).status_code == 200
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_expired_token_and_deactivated_user_are_refused(client, db):
    user = UserFactory()
    token, plain = services.create_api_token(actor=user, name="t", expires_in_days=1, now=utcnow())
    headers = {"Authorization": f"Bearer {plain}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200

    token.expires_at = utcnow() - timedelta(minutes=1)
    assert client.get("/api/v1/me", headers=headers).status_code == 401

    token.expires_at = None
    user.is_active = False
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_users_cannot_see_or_revoke_other_peoples_tokens(client, db, api_headers_for):
    owner, other = UserFactory(), UserFactory()
    token, _plain = services.create_api_token(actor=owner, name="mine", expires_in_days=None, now=utcnow())
    response = client.delete(f"/api/v1/tokens/{token.id}", headers=api_headers_for(other))
    assert response.status_code == 404 and response.json["error"] == "not_found"
    assert token.revoked_at is None


def test_invalid_input_is_a_422_with_field_errors(client, world, api_headers_for):
    response = client.post(
        "/api/v1/users",
        json={"email": "not-an-email", "organisation_id": "7"},
        headers=api_headers_for(world.admin),
    )
    assert response.status_code == 422
    assert response.json["error"] == "invalid_input"
    fields = response.json["errors"]["json"]
    assert set(fields) >= {"email", "full_name", "password", "organisation_id"}


def test_rule_violation_is_a_409_with_its_code(client, world, api_headers_for):
    response = client.post(
        "/api/v1/organisations",
        json={"name": world.programme.coordinating_entity.name, "kind": "verifier"},
        headers=api_headers_for(world.admin),
    )
    assert response.status_code == 409
    assert response.json["error"] == "duplicate_name"


def test_admin_creates_a_user_who_must_change_the_first_password(client, world, api_headers_for):
    response = client.post(
        "/api/v1/users",
        headers=api_headers_for(world.admin),
        json={
            "email": "New.Person@Example.org",
            "full_name": "New Person",
            "organisation_id": world.viewer.organisation_id,
            "password": "amber-violin-orchard-19",
        },
    )
    assert response.status_code == 201
    assert response.json["email"] == "new.person@example.org"
    assert response.json["must_change_password"] is True
    assert "password" not in response.json and "password_hash" not in response.json


def test_weak_password_is_refused_by_the_api(client, world, api_headers_for):
    response = client.post(
        "/api/v1/users",
        headers=api_headers_for(world.admin),
        json={
            "email": "weak@example.org",
            "full_name": "Weak",
            "organisation_id": world.viewer.organisation_id,
            "password": "password1234",
        },
    )
    assert response.status_code == 422
    assert "password" in response.json["errors"]


def test_non_admin_cannot_create_users_or_organisations(client, world, api_headers_for):
    headers = api_headers_for(world.coordinator)
    assert (
        client.post(
            "/api/v1/organisations", json={"name": "X", "kind": "verifier"}, headers=headers
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/api/v1/users",
            headers=headers,
            json={
                "email": "x@example.org",
                "full_name": "X",
                "organisation_id": world.coordinator.organisation_id,
                "password": "amber-violin-orchard-19",
            },
        ).status_code
        == 403
    )


def test_lists_are_scoped_and_paginated(client, db, world, api_headers_for):
    colleague = UserFactory(organisation=world.coordinator.organisation)
    mine = client.get("/api/v1/users", headers=api_headers_for(world.coordinator))
    assert {u["email"] for u in mine.json} == {world.coordinator.email, colleague.email}
    assert (
        client.get(
            f"/api/v1/users/{world.verifier.id}", headers=api_headers_for(world.coordinator)
        ).status_code
        == 404
    )

    page = client.get("/api/v1/users?page=2&page_size=3", headers=api_headers_for(world.admin))
    assert page.status_code == 200 and len(page.json) == 3
    total = db.session.scalar(sa.select(sa.func.count()).select_from(User))
    assert f'"total": {total}' in page.headers["X-Pagination"]


def test_admin_deactivating_a_user_revokes_their_tokens(client, world, api_headers_for):
    victim_headers = api_headers_for(world.viewer)
    response = client.patch(
        f"/api/v1/users/{world.viewer.id}", json={"is_active": False}, headers=api_headers_for(world.admin)
    )
    assert response.status_code == 200 and response.json["is_active"] is False
    assert client.get("/api/v1/me", headers=victim_headers).status_code == 401


def test_admin_cannot_lock_themselves_out(client, world, api_headers_for):
    response = client.patch(
        f"/api/v1/users/{world.admin.id}", json={"is_admin": False}, headers=api_headers_for(world.admin)
    )
    assert response.status_code == 409 and response.json["error"] == "self_lockout"


def test_openapi_document_describes_bearer_auth_and_every_operation(client, db):
    spec = client.get("/api/docs/openapi.json").json
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert {"/api/v1/me", "/api/v1/tokens", "/api/v1/users", "/api/v1/programmes"} <= set(spec["paths"])


def test_api_docs_are_served_from_vendored_files(client, db):
    page = client.get("/api/docs/").data.decode()
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower() and "<script>" not in page
    with client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js") as bundle:
        assert bundle.status_code == 200
