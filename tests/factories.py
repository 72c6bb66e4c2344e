"""factory_boy factories: one per model, each giving a valid object graph in one line."""

from datetime import date
from functools import cache

import factory
from factory.alchemy import SQLAlchemyModelFactory

from poa_manager.accounts import passwords
from poa_manager.accounts.models import Membership, Organisation, User
from poa_manager.accounts.roles import OrganisationKind, Role
from poa_manager.database import db, utcnow
from poa_manager.programmes.models import Programme, ProgrammeVersion
from poa_manager.programmes.rules import Mechanism
from poa_manager.programmes.services import design_defaults
from poa_manager.sites.models import Site

PASSWORD = "quiet-harbour-lantern-72"


@cache
def password_hash() -> str:
    """Hashed once per run: Argon2id is slow on purpose."""
    return passwords.hash_password(PASSWORD)


class _Factory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731
        sqlalchemy_session_persistence = "flush"


class OrganisationFactory(_Factory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Organisation {n:03d}")
    kind = OrganisationKind.coordinating_entity
    country_code = "VN"


class UserFactory(_Factory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n:03d}@example.org")
    full_name = factory.Sequence(lambda n: f"Test User {n:03d}")
    organisation = factory.SubFactory(OrganisationFactory)
    password_hash = factory.LazyFunction(password_hash)


class ProgrammeFactory(_Factory):
    """A draft programme with design version 1 holding its mechanism's defaults."""

    class Meta:
        model = Programme

    reference = factory.Sequence(lambda n: f"VN-JCM-PoA-{n:03d}")
    title = factory.Sequence(lambda n: f"Rooftop solar programme {n}")
    mechanism = Mechanism.jcm
    host_country = "VN"
    coordinating_entity = factory.SubFactory(OrganisationFactory)
    versions = factory.LazyAttribute(
        lambda programme: [ProgrammeVersion(number=1, **design_defaults(programme.mechanism))]
    )


class SiteFactory(_Factory):
    class Meta:
        model = Site

    programme = factory.SubFactory(ProgrammeFactory)
    # Apart from the CPA-nnnn references tests write themselves, so the two never collide.
    reference = factory.Sequence(lambda n: f"SITE-{n:04d}")
    name = factory.Sequence(lambda n: f"Factory rooftop {n}")


class MembershipFactory(_Factory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    programme = factory.SubFactory(ProgrammeFactory)
    role = Role.viewer


def registered_programme(coordinator, verifier, registry, *, title: str = "Registered", **design):
    """A programme registered through the real services (four eyes), with the sites tests' criteria.

    Shared by the concurrency tests and the benchmarks, which need a registered programme outside
    the `registered` fixture's transaction.
    """
    from poa_manager.programmes import services as programme_services
    from poa_manager.sites import services as site_services
    from tests.integration.sites.conftest import BOUNDARY, CRITERIA

    programme = ProgrammeFactory(coordinating_entity=coordinator.organisation)
    for user, role in (
        (coordinator, Role.coordinator),
        (verifier, Role.verifier),
        (registry, Role.registry_administrator),
    ):
        db.session.add(Membership(user=user, programme=programme, role=role))
    db.session.flush()
    programme_services.update_programme(
        programme,
        actor=coordinator,
        title=title,
        host_country="VN",
        partner_country=None,
        **(
            {
                "methodology_code": "AMS-I.D",
                "boundary": BOUNDARY,
                "start_date": date(2024, 1, 1),
                "duration_years": 28,
            }
            | design
        ),
    )
    site_services.update_criteria(programme, actor=coordinator, criteria=CRITERIA)
    programme_services.submit_for_validation(programme, actor=coordinator, now=utcnow())
    programme_services.validate(programme, actor=verifier, now=utcnow())
    programme_services.register(programme, actor=registry, now=utcnow())
    return programme
