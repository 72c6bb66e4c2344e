"""Two coordinators include sites with the same equipment at the same moment: exactly one wins (T10)."""

import threading
from datetime import date

import flask_migrate
import pytest

from poa_manager import create_app
from poa_manager.accounts.roles import OrganisationKind
from poa_manager.database import db
from poa_manager.errors import RuleViolation
from poa_manager.programmes import services as programme_services
from poa_manager.programmes.rules import InclusionRoute
from poa_manager.sites import services
from poa_manager.sites.models import IdentifierClaim, Site, SiteStatus
from tests.databases import fresh_database
from tests.factories import OrganisationFactory, UserFactory, registered_programme
from tests.integration.sites.conftest import site_facts

ROUNDS = 5


def _registered_programme(coordinator, verifier, registry):
    programme = registered_programme(coordinator, verifier, registry, title="Race")
    programme.current_version.inclusion_route = InclusionRoute.coordinator
    return programme


@pytest.mark.postgres
def test_concurrent_inclusions_of_the_same_equipment_never_both_succeed(tmp_path):
    with fresh_database(tmp_path) as url:
        app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
        outcomes: list[str] = []
        with app.app_context():
            flask_migrate.upgrade()
            verifier = UserFactory(organisation=OrganisationFactory(kind=OrganisationKind.verifier))
            registry = UserFactory(organisation=OrganisationFactory(kind=OrganisationKind.registry_authority))
            coordinators = [UserFactory(organisation=OrganisationFactory()) for _ in range(2)]
            programmes = [_registered_programme(c, verifier, registry) for c in coordinators]
            pairs = []
            for round_number in range(ROUNDS):
                shared = f"INV-RACE-{round_number}"
                pair = []
                for side, (coordinator, programme) in enumerate(zip(coordinators, programmes, strict=True)):
                    n = 40 + round_number * 2 + side  # distinct meters and locations, shared equipment
                    site = services.create_site(
                        programme, actor=coordinator, **site_facts(n, equipment_serials=[shared])
                    )
                    services.check_eligibility(site, actor=coordinator, checked_on=date(2026, 11, 1))
                    assert site.status is SiteStatus.eligible  # nobody claims the equipment yet
                    pair.append((coordinator.id, programme.id, site.id))
                pairs.append(pair)
            db.session.commit()

        def include(coordinator_id: int, programme_id: int, site_id: int, start: threading.Barrier) -> None:
            with app.app_context():
                from poa_manager.accounts.models import User

                coordinator = db.session.get(User, coordinator_id)
                programme = programme_services.get_programme(programme_id, actor=coordinator)
                start.wait()
                try:
                    services.include_sites(
                        programme, actor=coordinator, site_ids=[site_id], included_on=date(2026, 11, 2)
                    )
                    db.session.commit()
                    outcomes.append("included")
                except RuleViolation as refusal:
                    db.session.rollback()
                    outcomes.append(refusal.code)

        for pair in pairs:
            start = threading.Barrier(2)
            threads = [threading.Thread(target=include, args=(*ids, start)) for ids in pair]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

        with app.app_context():
            included = db.session.scalar(
                db.select(db.func.count()).select_from(Site).where(Site.status == SiteStatus.included)
            )
            claims = db.session.scalar(
                db.select(db.func.count())
                .select_from(IdentifierClaim)
                .where(IdentifierClaim.value.like("INV-RACE-%"))
            )
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()

    print(
        f"{ROUNDS} races of 2 concurrent inclusions: {outcomes.count('included')} included, "
        f"{len(outcomes) - outcomes.count('included')} refused ({sorted(set(outcomes) - {'included'})})"
    )
    assert included == ROUNDS and claims == ROUNDS
    assert outcomes.count("included") == ROUNDS
    assert set(outcomes) - {"included"} <= {"double_counting", "not_includable"}
