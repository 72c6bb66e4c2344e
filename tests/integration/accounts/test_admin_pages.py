"""Which role may open which admin page, and what the admin pages do."""

import pytest

from poa_manager.accounts.models import Organisation, User
from tests.conftest import ROLE_NAMES
from tests.factories import PASSWORD, UserFactory

ADMIN_PAGES = [
    "/admin/organisations",
    "/admin/organisations/new",
    "/admin/organisations/{organisation_id}",
    "/admin/users",
    "/admin/users/new",
    "/admin/users/{user_id}",
    "/admin/audit",
]
EXPECTED = {role: (200 if role == "admin" else 403) for role in ROLE_NAMES}


@pytest.mark.parametrize("page", ADMIN_PAGES)
@pytest.mark.parametrize("role", [*ROLE_NAMES, "anonymous"])
def test_admin_page_access_by_role(app, world, login_as, role, page):
    url = page.format(organisation_id=world.viewer.organisation_id, user_id=world.viewer.id)
    client = app.test_client() if role == "anonymous" else login_as(world.by_role(role))

    response = client.get(url)

    if role == "anonymous":
        assert response.status_code == 302 and response.location.startswith("/login?next=")
    else:
        assert response.status_code == EXPECTED[role], f"{role} on {url}"


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_admin_menu_is_shown_only_to_admins(world, login_as, role):
    page = login_as(world.by_role(role)).get("/").data.decode()
    assert ("/admin/users" in page) is (role == "admin")


def test_non_admin_posts_to_admin_pages_change_nothing(world, login_as, db):
    client = login_as(world.coordinator)
    response = client.post(
        f"/admin/users/{world.viewer.id}",
        data={
            "full_name": "Hijacked",
            "organisation_id": world.coordinator.organisation_id,
            "is_admin": "y",
            "is_active": "y",
        },
    )
    assert response.status_code == 403
    db.session.refresh(world.viewer)
    assert world.viewer.full_name != "Hijacked" and not world.viewer.is_admin


def test_admin_creates_organisation_and_user_through_the_pages(world, login_as, db):
    client = login_as(world.admin)
    response = client.post(
        "/admin/organisations/new",
        data={"name": "Hanoi Verification JSC", "kind": "verifier", "country_code": "vn"},
    )
    assert response.status_code == 302
    organisation = db.session.scalar(db.select(Organisation).filter_by(name="Hanoi Verification JSC"))
    assert organisation.country_code == "VN"

    response = client.post(
        "/admin/users/new",
        data={
            "email": "auditor@hanoi-verification.example.org",
            "full_name": "Bao Auditor",
            "organisation_id": organisation.id,
            "password": "amber-violin-orchard-19",
        },
    )
    assert response.status_code == 302
    user = db.session.scalar(db.select(User).filter_by(email="auditor@hanoi-verification.example.org"))
    assert user.must_change_password and user.password_hash.startswith("$argon2id$")


def test_duplicate_organisation_name_is_shown_next_to_the_field(world, login_as):
    client = login_as(world.admin)
    response = client.post(
        "/admin/organisations/new", data={"name": world.viewer.organisation.name.upper(), "kind": "verifier"}
    )
    assert response.status_code == 200
    assert b"This name is taken." in response.data and b'aria-invalid="true"' in response.data


def test_admin_unlocks_a_locked_user(world, login_as, client, db):
    victim = UserFactory()
    for _ in range(5):
        client.post("/login", data={"email": victim.email, "password": "wrong-password-here"})
    assert client.post("/login", data={"email": victim.email, "password": PASSWORD}).status_code == 401

    admin = login_as(world.admin)
    assert b"locked" in admin.get("/admin/users").data
    assert admin.post(f"/admin/users/{victim.id}/unlock").status_code == 302

    assert client.post("/login", data={"email": victim.email, "password": PASSWORD}).status_code == 302


def test_temporary_password_ends_sessions_and_forces_a_change(world, login_as, app, db):
    victim_client = login_as(world.viewer)
    admin = login_as(world.admin)

    response = admin.post(
        f"/admin/users/{world.viewer.id}/temporary-password", data={"password": "copper-meadow-falcon-88"}
    )

    assert response.status_code == 302
    assert victim_client.get("/").status_code == 302
    fresh = login_as(world.viewer, "copper-meadow-falcon-88")  # host government: with its TOTP step
    assert fresh.get("/").location == "/account/password"
