"""A programme is registered once: designed by its coordinator, validated, registered, revised."""

from datetime import date

import pytest

from poa_manager.accounts.models import Membership
from poa_manager.accounts.roles import OrganisationKind, Role
from poa_manager.database import utcnow
from poa_manager.errors import InvalidInput, NotAllowed, RuleViolation
from poa_manager.programmes import services
from poa_manager.programmes.models import ProgrammeStatus, VersionStatus
from poa_manager.programmes.rules import CreditingPeriodType, InclusionRoute, Mechanism
from tests.factories import OrganisationFactory, UserFactory

CRITERIA = [
    {"code": "EC-01", "description": "Inside the boundary", "kind": "location_in_boundary", "params": {}}
]
DESIGN = {
    "methodology_code": "AMS-I.D",
    "methodology_version": "18.0",
    "boundary": {"codes": ["VN-57"]},
    "start_date": date(2025, 1, 1),
    "duration_years": 28,
}


def _complete(programme, coordinator):
    services.update_programme(
        programme,
        actor=coordinator,
        title=programme.title,
        host_country=programme.host_country,
        partner_country=None,
        **DESIGN,
    )
    services.set_eligibility_criteria(programme, actor=coordinator, criteria=CRITERIA)


def _register(world):
    _complete(world.programme, world.coordinator)
    services.submit_for_validation(world.programme, actor=world.coordinator, now=utcnow())
    services.validate(world.programme, actor=world.verifier, now=utcnow())
    return services.register(world.programme, actor=world.registry_administrator, now=utcnow())


def test_coordinating_entity_user_creates_a_draft_and_becomes_its_coordinator(db, world):
    author = UserFactory(organisation=world.coordinator.organisation)
    programme = services.create_programme(
        actor=author,
        reference="VN-CDM-PoA-9",
        title="Biogas digesters",
        mechanism=Mechanism.cdm_poa,
        host_country="vn",
        coordinating_entity_id=author.organisation_id,
    )

    assert programme.status is ProgrammeStatus.draft and programme.host_country == "VN"
    version = programme.latest_version
    assert (
        version.number,
        version.crediting_period_type,
        version.crediting_period_years,
        version.max_renewals,
    ) == (1, CreditingPeriodType.renewable, 7, 2)
    assert version.inclusion_route is InclusionRoute.verifier_confirms
    assert Role.coordinator in author.roles_in(programme.id)


@pytest.mark.parametrize("kind", [OrganisationKind.verifier, OrganisationKind.site_operator])
def test_only_coordinating_entities_create_programmes(db, kind):
    user = UserFactory(organisation=OrganisationFactory(kind=kind))
    with pytest.raises(NotAllowed):
        services.create_programme(
            actor=user,
            reference="X-1",
            title="X",
            mechanism=Mechanism.jcm,
            host_country="VN",
            coordinating_entity_id=user.organisation_id,
        )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"duration_years": 29}, "duration_years"),
        (
            {
                "crediting_period_type": CreditingPeriodType.renewable,
                "crediting_period_years": 8,
                "max_renewals": 2,
            },
            "crediting_period_years",
        ),
        (
            {
                "crediting_period_type": CreditingPeriodType.fixed,
                "crediting_period_years": 10,
                "max_renewals": 1,
            },
            "max_renewals",
        ),
        ({"methodology_code": "NOT-A-METHODOLOGY"}, "methodology_code"),
        ({"boundary": {"codes": ["Viet Nam"]}}, "boundary"),
        (
            {
                "boundary": {
                    "geojson": {"type": "Polygon", "coordinates": [[[106, 10], [107, 10], [106, 10]]]}
                }
            },
            "boundary",
        ),
        ({"grid_emission_factor_overrides": {"2023": "lots"}}, "grid_emission_factor_overrides"),
    ],
)
def test_design_outside_the_rules_is_refused_per_field(db, world, change, field):
    with pytest.raises(InvalidInput) as refusal:
        services.update_programme(
            world.programme,
            actor=world.coordinator,
            title="T",
            host_country="VN",
            partner_country=None,
            **(DESIGN | change),
        )
    assert field in refusal.value.errors


def test_incomplete_design_cannot_be_submitted(db, world):
    with pytest.raises(InvalidInput) as refusal:
        services.submit_for_validation(world.programme, actor=world.coordinator, now=utcnow())
    assert {"start_date", "methodology_code", "boundary", "eligibility_criteria"} <= set(refusal.value.errors)


def test_submit_validate_register_records_each_actor(db, world):
    version = _register(world)

    assert world.programme.status is ProgrammeStatus.registered
    assert version.status is VersionStatus.registered
    assert (version.submitted_by_id, version.validated_by_id, version.registered_by_id) == (
        world.coordinator.id,
        world.verifier.id,
        world.registry_administrator.id,
    )
    assert version.validated_by_organisation_id == world.verifier.organisation_id


@pytest.mark.parametrize(
    "role", ["coordinator", "site_operator", "registry_administrator", "viewer", "admin"]
)
def test_only_the_programmes_verifier_validates(db, world, role):
    _complete(world.programme, world.coordinator)
    services.submit_for_validation(world.programme, actor=world.coordinator, now=utcnow())
    with pytest.raises(NotAllowed):
        services.validate(world.programme, actor=world.by_role(role), now=utcnow())


def test_maker_cannot_check_their_own_step(db, world):
    _complete(world.programme, world.coordinator)
    services.submit_for_validation(world.programme, actor=world.coordinator, now=utcnow())
    services.validate(world.programme, actor=world.verifier, now=utcnow())
    # Give the validator a registry role too (bypassing the organisation rule) to try self-approval.
    Membership(user=world.verifier, programme_id=world.programme.id, role=Role.registry_administrator)
    with pytest.raises(RuleViolation) as refusal:
        services.register(world.programme, actor=world.verifier, now=utcnow())
    assert refusal.value.code == "maker_checker"


def test_steps_out_of_order_are_refused(db, world):
    _complete(world.programme, world.coordinator)
    with pytest.raises(RuleViolation):
        services.register(world.programme, actor=world.registry_administrator, now=utcnow())
    with pytest.raises(RuleViolation):
        services.validate(world.programme, actor=world.verifier, now=utcnow())


def test_returned_design_goes_back_to_draft_with_the_reason(db, world):
    _complete(world.programme, world.coordinator)
    services.submit_for_validation(world.programme, actor=world.coordinator, now=utcnow())
    version = services.return_for_changes(world.programme, actor=world.verifier, reason="Boundary too wide.")
    assert version.status is VersionStatus.draft and version.returned_reason == "Boundary too wide."
    services.update_programme(
        world.programme,
        actor=world.coordinator,
        title="T",
        host_country="VN",
        partner_country=None,
        **(DESIGN | {"boundary": {"codes": ["VN-39"]}}),
    )


def test_registered_design_changes_only_through_a_reviewed_revision(db, world):
    first = _register(world)
    with pytest.raises(RuleViolation) as refusal:
        services.update_programme(
            world.programme,
            actor=world.coordinator,
            title="T",
            host_country="VN",
            partner_country=None,
            **DESIGN,
        )
    assert refusal.value.code == "registered_design_is_frozen"

    revision = services.start_revision(
        world.programme, actor=world.coordinator, change_summary="Add Dong Nai"
    )
    assert (revision.number, revision.status, revision.boundary) == (
        2,
        VersionStatus.draft,
        {"codes": ["VN-57"]},
    )
    assert revision.eligibility_criteria == CRITERIA
    services.update_programme(
        world.programme,
        actor=world.coordinator,
        title="T",
        host_country="VN",
        partner_country=None,
        **(DESIGN | {"boundary": {"codes": ["VN-39", "VN-57"]}}),
    )
    assert world.programme.current_version is first  # still in force while the revision is reviewed

    services.submit_for_validation(world.programme, actor=world.coordinator, now=utcnow())
    services.validate(world.programme, actor=world.verifier, now=utcnow())
    services.register(world.programme, actor=world.registry_administrator, now=utcnow())
    assert first.status is VersionStatus.superseded
    assert world.programme.current_version is revision


def test_registry_administrator_sets_holds_with_a_reason(db, world):
    _register(world)
    with pytest.raises(InvalidInput):
        services.set_holds(
            world.programme,
            actor=world.registry_administrator,
            inclusion_hold=True,
            issuance_hold=True,
            reason="",
        )
    services.set_holds(
        world.programme,
        actor=world.registry_administrator,
        inclusion_hold=True,
        issuance_hold=True,
        reason="CPA-0007 under review",
    )
    assert world.programme.inclusion_hold and world.programme.hold_reason == "CPA-0007 under review"
    with pytest.raises(NotAllowed):
        services.set_holds(
            world.programme, actor=world.coordinator, inclusion_hold=False, issuance_hold=False, reason=None
        )


def test_lifecycle_through_the_api(client, world, api_headers_for):
    url = f"/api/v1/programmes/{world.programme.id}"
    coordinator = api_headers_for(world.coordinator)
    patched = client.patch(
        url,
        headers=coordinator,
        json={
            "methodology_code": "AMS-I.D",
            "boundary": {"codes": ["VN-57"]},
            "start_date": "2025-01-01",
            "duration_years": 28,
            "grid_emission_factor_overrides": {"2024": "0.6592"},
        },
    )
    assert patched.status_code == 200, patched.json
    assert patched.json["pending_version"]["grid_emission_factor_overrides"] == {"2024": "0.6592"}

    refused = client.post(f"{url}/submit-for-validation", headers=coordinator)
    assert refused.status_code == 422 and "eligibility_criteria" in refused.json["errors"]

    services.set_eligibility_criteria(world.programme, actor=world.coordinator, criteria=CRITERIA)
    assert client.post(f"{url}/submit-for-validation", headers=coordinator).status_code == 200
    assert (
        client.post(f"{url}/register", headers=api_headers_for(world.registry_administrator)).status_code
        == 409
    )
    assert client.post(f"{url}/validate", headers=coordinator).status_code == 403
    assert client.post(f"{url}/validate", headers=api_headers_for(world.verifier)).status_code == 200
    registered = client.post(f"{url}/register", headers=api_headers_for(world.registry_administrator))
    assert registered.json["status"] == "registered"
    assert registered.json["current_version"]["registered_by_id"] == world.registry_administrator.id


def test_create_through_the_api(client, world, api_headers_for):
    response = client.post(
        "/api/v1/programmes",
        headers=api_headers_for(world.coordinator),
        json={
            "reference": "VN-GS-PoA-7",
            "title": "Cookstoves",
            "mechanism": "gold_standard",
            "host_country": "VN",
            "coordinating_entity_id": world.coordinator.organisation_id,
            "sampling_rule": "95/10",
        },
    )
    assert response.status_code == 201, response.json
    assert response.json["pending_version"]["inclusion_route"] == "verifier_until_first_verified"
    assert response.json["pending_version"]["sampling_rule"] == "95/10"
    duplicate = client.post(
        "/api/v1/programmes",
        headers=api_headers_for(world.coordinator),
        json={
            "reference": "vn-gs-poa-7",
            "title": "Again",
            "mechanism": "jcm",
            "host_country": "VN",
            "coordinating_entity_id": world.coordinator.organisation_id,
        },
    )
    assert duplicate.status_code == 409 and duplicate.json["error"] == "duplicate_reference"


def test_create_and_walk_the_lifecycle_through_the_pages(world, login_as, db):
    coordinator = login_as(world.coordinator)
    assert b"New programme" in coordinator.get("/programmes/").data
    response = coordinator.post(
        "/programmes/new",
        data={
            "reference": "VN-JCM-PoA-050",
            "title": "Amorphous transformers",
            "mechanism": "jcm",
            "host_country": "VN",
            "partner_country": "JP",
            "coordinating_entity_id": world.coordinator.organisation_id,
            "methodology_code": "AMS-I.D",
            "boundary": "VN-57, vn-39",
            "start_date": "2025-04-01",
            "duration_years": "20",
            "crediting_period_type": "fixed",
            "crediting_period_years": "10",
            "max_renewals": "0",
            "inclusion_route": "verifier_confirms",
            "sampling_rule": "90/10",
            "grid_emission_factor_overrides": "2024 = 0.6592",
            "support_tiers": "1 = 0.50\n2 = 0.40",
            "monitoring_plan": "reading_interval_minutes = 15",
        },
    )
    assert response.status_code == 302, response.data
    page = coordinator.get(response.location).data.decode()
    assert "VN-39, VN-57" in page and "2024: 0.6592 tCO2/MWh" in page
    assert "Submit version 1 for validation" in page

    bad = coordinator.post(
        "/programmes/new",
        data={
            "reference": "VN-JCM-PoA-051",
            "title": "X",
            "mechanism": "jcm",
            "host_country": "VN",
            "coordinating_entity_id": world.coordinator.organisation_id,
            "crediting_period_type": "renewable",
            "crediting_period_years": "7",
            "max_renewals": "2",
            "inclusion_route": "coordinator",
            "sampling_rule": "90/10",
            "boundary": '{"type": "Polygon"',
            "grid_emission_factor_overrides": "twenty = 1",
        },
    )
    assert bad.status_code == 200
    assert b"Not valid JSON" in bad.data and b"Line 1: write a year = a factor" in bad.data
