"""Programme roles: who may grant them, which organisations fit which role, and who sees what."""

import pytest

from poa_manager.accounts.roles import OrganisationKind, Role
from poa_manager.errors import InvalidInput, NotAllowed, RuleViolation
from poa_manager.programmes import services
from tests.factories import OrganisationFactory, SiteFactory, UserFactory


def test_admin_grants_a_site_operator_role_on_one_site(world, db):
    site = world.programme.sites[0]
    operator = UserFactory(organisation=OrganisationFactory(kind=OrganisationKind.site_operator))

    membership = services.grant_role(
        world.programme, actor=world.admin, user_id=operator.id, role=Role.site_operator, site_id=site.id
    )

    assert (membership.role, membership.site_id, membership.granted_by_id) == (
        Role.site_operator,
        site.id,
        world.admin.id,
    )


def test_site_of_another_programme_is_refused(world, db):
    foreign_site = world.other_programme.sites[0]
    with pytest.raises(InvalidInput, match="No such site in this programme"):
        services.grant_role(
            world.programme,
            actor=world.admin,
            user_id=world.site_operator.id,
            role=Role.site_operator,
            site_id=foreign_site.id,
        )


@pytest.mark.parametrize(("role", "site"), [(Role.site_operator, False), (Role.viewer, True)])
def test_only_site_operator_roles_name_a_site(world, db, role, site):
    with pytest.raises(InvalidInput):
        services.grant_role(
            world.programme,
            actor=world.admin,
            user_id=world.by_role(role.value).id,
            role=role,
            site_id=world.programme.sites[0].id if site else None,
        )


@pytest.mark.parametrize(
    ("kind", "role"),
    [
        (OrganisationKind.coordinating_entity, Role.verifier),  # impartiality: no self-verification
        (OrganisationKind.verifier, Role.coordinator),
        (OrganisationKind.host_government, Role.registry_administrator),
    ],
)
def test_role_must_fit_the_users_organisation(world, db, kind, role):
    user = UserFactory(organisation=OrganisationFactory(kind=kind))
    with pytest.raises(RuleViolation) as refusal:
        services.grant_role(world.programme, actor=world.admin, user_id=user.id, role=role)
    assert refusal.value.code == "role_not_for_organisation"


def test_duplicate_grant_is_refused(world, db):
    with pytest.raises(RuleViolation) as refusal:
        services.grant_role(world.programme, actor=world.admin, user_id=world.viewer.id, role=Role.viewer)
    assert refusal.value.code == "duplicate_membership"


@pytest.mark.parametrize(
    "role", ["coordinator", "site_operator", "verifier", "registry_administrator", "viewer"]
)
def test_only_platform_admins_grant_roles(world, db, role):
    with pytest.raises(NotAllowed):
        services.grant_role(
            world.programme, actor=world.by_role(role), user_id=world.outsider.id, role=Role.viewer
        )


def test_members_see_only_their_own_programmes(client, world, api_headers_for):
    mine = client.get("/api/v1/programmes", headers=api_headers_for(world.verifier))
    assert [p["reference"] for p in mine.json] == [world.programme.reference]
    other = client.get(
        f"/api/v1/programmes/{world.other_programme.id}", headers=api_headers_for(world.verifier)
    )
    assert other.status_code == 404
    everything = client.get("/api/v1/programmes", headers=api_headers_for(world.admin))
    assert {p["reference"] for p in everything.json} >= {
        world.programme.reference,
        world.other_programme.reference,
    }


def test_other_programmes_pages_are_not_found(world, login_as):
    client = login_as(world.outsider)
    assert client.get(f"/programmes/{world.programme.id}").status_code == 404
    assert world.programme.reference.encode() not in client.get("/programmes/").data


def test_grant_and_revoke_through_the_api(client, world, api_headers_for, db):
    headers = api_headers_for(world.admin)
    newcomer = UserFactory(organisation=OrganisationFactory(kind=OrganisationKind.verifier))
    url = f"/api/v1/programmes/{world.programme.id}/memberships"

    granted = client.post(url, json={"user_id": newcomer.id, "role": "verifier"}, headers=headers)
    assert granted.status_code == 201 and granted.json["user_email"] == newcomer.email
    assert client.get(url, headers=api_headers_for(newcomer)).status_code == 200

    assert client.delete(f"{url}/{granted.json['id']}", headers=headers).status_code == 204
    assert client.get(url, headers=api_headers_for(newcomer)).status_code == 404


def test_grant_through_the_page_shows_refusals(world, login_as):
    client = login_as(world.admin)
    response = client.post(
        f"/programmes/{world.programme.id}/members",
        data={"grant-user_id": world.coordinator.id, "grant-role": "verifier", "grant-site_reference": ""},
    )
    assert response.status_code == 422
    assert b"needs a user of a verifier" in response.data

    site = SiteFactory(programme=world.programme)
    response = client.post(
        f"/programmes/{world.programme.id}/members",
        data={
            "grant-user_id": world.coordinator.id,
            "grant-role": "site_operator",
            "grant-site_reference": "NO-SUCH-SITE",
        },
    )
    assert response.status_code == 422
    assert b"This programme has no site NO-SUCH-SITE." in response.data
    response = client.post(
        f"/programmes/{world.programme.id}/members",
        data={
            "grant-user_id": world.coordinator.id,
            "grant-role": "site_operator",
            "grant-site_reference": site.reference,
        },
    )
    assert response.status_code == 302
    assert site.reference.encode() in client.get(f"/programmes/{world.programme.id}").data


def test_member_cannot_revoke_through_the_page(world, login_as):
    membership = world.viewer.memberships[0]
    client = login_as(world.coordinator)
    response = client.post(f"/programmes/{world.programme.id}/memberships/{membership.id}/revoke")
    assert response.status_code == 403
