"""The access-control matrix's world: the demo showcase as the "own" side and a second
organisation's programme whose people hold the same roles there, built once for the module.

The showcase (seeded by the real `flask poa seed-demo`) holds one of every kind of object in the
URL map: a registered 200-site programme with readings, uploads, reports, an issuance request
under verification and a verified one, an issuance, accounts and transactions. An authorization,
an AEF report, a serial freeze, a webhook, a notification and a token per person are added here.

Every person is logged in once; each request of the matrix then runs inside a SAVEPOINT that is
rolled back after it, so no cell can change what the next one sees.
"""

from dataclasses import dataclass, field
from datetime import date

import pytest
import sqlalchemy as sa
from flask import g

from poa_manager.accounts import services as account_services
from poa_manager.accounts.models import Membership, User
from poa_manager.accounts.roles import OrganisationKind, Role
from poa_manager.audit.models import AuditEntry
from poa_manager.database import db as _db
from poa_manager.database import utcnow
from poa_manager.demo import DEMO_PASSWORD
from poa_manager.interop.services.webhooks import create_webhook
from poa_manager.monitoring.models import (
    IssuanceRequest,
    MonitoringLine,
    MonitoringReport,
    Reading,
    ReadingUpload,
)
from poa_manager.notifications.models import Notification
from poa_manager.programmes.models import Programme
from poa_manager.registry.models import (
    Account,
    AccountKind,
    CreditBlock,
    FirstTransferDefinition,
    Issuance,
    Transaction,
)
from poa_manager.registry.services.aef_reports import generate_aef_report
from poa_manager.registry.services.article6 import record_authorization
from poa_manager.registry.services.controls import freeze_range
from poa_manager.sites.models import Meter, Site
from poa_manager.verification.models import FrameEntry, Verification
from tests.conftest import fresh_totp_code
from tests.databases import rolled_back_transactions
from tests.factories import (
    PASSWORD,
    MembershipFactory,
    OrganisationFactory,
    ProgrammeFactory,
    SiteFactory,
    UserFactory,
)

# The roles of the matrix, in the order its rows print. "team" is a verifier on a verification
# team (the auditor), "verifier" the validating verifier, "government" the host government.
ROLES = ["admin", "coordinator", "site_operator", "verifier", "team", "registry", "government", "viewer"]
OTHER_REFERENCE = "KH-OUT-PoA-001"
OTHER_ORGANISATION = "Outsider Coordinating Entity"


@dataclass
class Actor:
    role: str
    user_id: int
    organisation_id: int
    client: object  # a logged-in test client
    token: str  # a bearer token's header value
    notification_id: int | None = None
    token_id: int | None = None


@dataclass
class MatrixWorld:
    connection: object
    anonymous: object  # a client with no session
    own: dict[str, Actor] = field(default_factory=dict)
    other: dict[str, Actor] = field(default_factory=dict)
    ids: dict[str, object] = field(default_factory=dict)  # URL parameter → the own side's object
    own_markers: list[str] = field(default_factory=list)  # text only the own side's lists may show
    other_markers: list[str] = field(default_factory=list)

    def isolated(self, call, *, write: bool = True):
        """Run `call()` in a SAVEPOINT rolled back afterwards; returns (result, audit rows added).
        Reads skip the SAVEPOINT and the count: they change nothing the next cell could see."""
        if not write:
            _db.session.commit()
            g.__dict__.clear()
            result = call()
            _db.session.remove()
            return result, 0
        nested = self.connection.begin_nested()
        try:
            before = self.connection.scalar(sa.select(sa.func.count()).select_from(AuditEntry))
            _db.session.commit()
            g.__dict__.clear()
            result = call()
            _db.session.remove()
            after = self.connection.scalar(sa.select(sa.func.count()).select_from(AuditEntry))
            return result, after - before
        finally:
            _db.session.remove()
            nested.rollback()


def _first(query):
    found = _db.session.scalars(query.limit(1)).first()
    assert found is not None, str(query)
    return found


def _login(app, user: User, password: str):
    """The real login form, with the second step registry administrators and host-government
    people take (as `login_as` does)."""
    client = app.test_client()
    response = client.post("/login", data={"email": user.email, "password": password})
    assert response.status_code == 302, response.data[:300]
    step = response.headers["Location"]
    if step.endswith(("/login/two-factor", "/login/two-factor/enrol")):
        response = client.post(step, data={"code": fresh_totp_code(user)})
        assert response.status_code in (200, 302), response.data[:300]
        assert "/login" not in response.headers.get("Location", ""), response.headers
    _db.session.commit()
    return client


@pytest.fixture(scope="module")
def matrix_world(app):
    with app.app_context(), rolled_back_transactions() as connections:
        result = app.test_cli_runner().invoke(args=["poa", "seed-demo"])
        assert result.exit_code == 0, (result.output, repr(result.exception))
        yield _build(app, connections[0])


def _build(app, connection) -> MatrixWorld:
    people = {
        user.email.split("@")[0]: user
        for user in _db.session.scalars(sa.select(User).where(User.email.like("%@demo.example.org")))
    }
    programme = _first(
        sa.select(Programme).where(Programme.id.in_(sa.select(Issuance.programme_id))).order_by(Programme.id)
    )
    # A plain viewer from an organisation with no other part in the programme.
    observer = UserFactory(
        organisation=OrganisationFactory(kind=OrganisationKind.site_operator, name="Observer Ltd"),
        email="observer@matrix.example.org",
    )
    MembershipFactory(user=observer, programme=programme, role=Role.viewer)
    own_users = {
        "admin": people["admin"],
        "coordinator": people["coordinator"],
        "site_operator": people["operator"],
        "verifier": people["verifier"],
        "team": people["auditor"],
        "registry": people["registry"],
        "government": people["government"],
        "viewer": observer,
    }

    # The other organisation's programme, with one person per role on it and none on the showcase.
    other_cme = OrganisationFactory(
        kind=OrganisationKind.coordinating_entity, name=OTHER_ORGANISATION, country_code="KH"
    )
    other_programme = ProgrammeFactory(
        reference=OTHER_REFERENCE, coordinating_entity=other_cme, host_country="KH"
    )
    other_site = SiteFactory(programme=other_programme, reference="OUT-SITE-0001")

    def outsider(name: str, kind: OrganisationKind, role: Role, **extra) -> User:
        organisation = (
            other_cme
            if kind is OrganisationKind.coordinating_entity
            else OrganisationFactory(kind=kind, name=f"Outsider {name}", country_code="KH")
        )
        user = UserFactory(organisation=organisation, email=f"{name}@outsider.example.org")
        MembershipFactory(user=user, programme=other_programme, role=role, **extra)
        return user

    other_users = {
        "admin": people["admin"],  # one platform: its administrator has no "other" side
        "coordinator": outsider("coordinator", OrganisationKind.coordinating_entity, Role.coordinator),
        "site_operator": outsider(
            "operator", OrganisationKind.site_operator, Role.site_operator, site_id=other_site.id
        ),
        "verifier": outsider("verifier", OrganisationKind.verifier, Role.verifier),
        "team": outsider("auditor", OrganisationKind.verifier, Role.verification_team),
        "registry": outsider("registry", OrganisationKind.registry_authority, Role.registry_administrator),
        "government": outsider("government", OrganisationKind.host_government, Role.viewer),
        "viewer": outsider("viewer", OrganisationKind.site_operator, Role.viewer),
    }

    # The kinds of object the showcase does not make.
    government, registry, coordinator = people["government"], people["registry"], people["coordinator"]
    authorization = record_authorization(
        programme,
        actor=government,
        reference="LoA-MATRIX-1",
        cooperative_approach="CA0001",
        purposes=["ndc"],
        first_transfer_definition=FirstTransferDefinition.authorization,
        quantity_tco2e=1000,
        vintage_first=2025,
        vintage_last=2026,
        sector="Energy",
        activity_type="Solar PV",
        authorized_on=date(2025, 12, 1),
    )
    aef_report = generate_aef_report(actor=registry, party="VN", year=2025)
    issuance = _first(sa.select(Issuance).where(Issuance.programme_id == programme.id))
    freeze = freeze_range(
        programme,
        actor=registry,
        vintage=2099,
        serial_start=1,
        serial_end=2,
        reason="Matrix freeze",
    )
    endpoint, _secret = create_webhook(
        actor=coordinator, url="https://hooks.example.org/matrix", event_kinds=["issuance"]
    )
    _db.session.flush()

    site_ids = [m.site_id for m in people["operator"].memberships if m.programme_id == programme.id]
    site = _db.session.get(Site, site_ids[0])
    meter = _first(sa.select(Meter).where(Meter.site_id.in_(site_ids)).order_by(Meter.id))
    reading = _first(sa.select(Reading).where(Reading.meter_id == meter.id))
    # The report with the fewest lines: its workbook is built per request, and a 200-line one
    # takes seconds on each of the matrix's seventeen cells.
    lines = (
        sa.select(sa.func.count(MonitoringLine.id))
        .where(MonitoringLine.report_id == MonitoringReport.id)
        .scalar_subquery()
    )
    report = _first(
        sa.select(MonitoringReport)
        .where(MonitoringReport.programme_id == programme.id, lines > 0)
        .order_by(lines, MonitoringReport.id)
    )
    verification = _first(
        sa.select(Verification).where(Verification.programme_id == programme.id).order_by(Verification.id)
    )
    sampled = _first(
        sa.select(FrameEntry).where(
            FrameEntry.verification_id == verification.id, FrameEntry.draw_order.is_not(None)
        )
    )
    cme_holding = _first(
        sa.select(Account).where(
            Account.organisation_id == coordinator.organisation_id, Account.kind == AccountKind.holding
        )
    )
    ids = {
        "programme_id": programme.id,
        "site_id": site.id,
        "meter_id": meter.id,
        "reading_end": reading.reading_end,
        "version": reading.version,
        "line_id": _first(sa.select(MonitoringLine).where(MonitoringLine.report_id == report.id)).id,
        "report_id": report.id,
        "request_id": _first(
            sa.select(IssuanceRequest).where(IssuanceRequest.programme_id == programme.id)
        ).id,
        "upload_id": _first(sa.select(ReadingUpload).where(ReadingUpload.programme_id == programme.id)).id,
        "verification_id": verification.id,
        "sampled_site_id": sampled.site_id,
        "account_id": cme_holding.id,
        "block_id": _first(sa.select(CreditBlock).where(CreditBlock.account_id == cme_holding.id)).id,
        "issuance_id": issuance.id,
        "transaction_id": _first(
            sa.select(Transaction).where(Transaction.from_account_id == cme_holding.id)
        ).id,
        "authorization_id": authorization.id,
        "aef_report_id": aef_report.id,
        "freeze_id": freeze.id,
        "endpoint_id": endpoint.id,
        "membership_id": _first(
            sa.select(Membership).where(
                Membership.programme_id == programme.id, Membership.user_id == coordinator.id
            )
        ).id,
        "organisation_id": coordinator.organisation_id,
        "user_id": coordinator.id,
        "entity": "projects",
    }
    world = MatrixWorld(connection=connection, anonymous=app.test_client())
    world.ids = ids
    world.own_markers = [programme.title]  # its reference is also a form's example text
    world.other_markers = [OTHER_REFERENCE, OTHER_ORGANISATION]
    for side, users in (("own", own_users), ("other", other_users)):
        for role, user in users.items():
            _token, plain = account_services.create_api_token(
                actor=user, name="matrix", expires_in_days=1, now=utcnow()
            )
            # Written directly: whether `notify` keeps one depends on the person's preferences.
            note = Notification(user_id=user.id, category=_a_category(), subject=f"Matrix note ({role})")
            _db.session.add(note)
            _db.session.flush()
            actor = Actor(
                role=role,
                user_id=user.id,
                organisation_id=user.organisation_id,
                client=None,
                token=f"Bearer {plain}",
                notification_id=note.id,
                token_id=_token.id,
            )
            getattr(world, side)[role] = actor
    _db.session.commit()
    for side in ("own", "other"):
        for actor in getattr(world, side).values():
            user = _db.session.get(User, actor.user_id)
            password = DEMO_PASSWORD if user.email.endswith("@demo.example.org") else PASSWORD
            actor.client = _login(app, user, password)
    _db.session.commit()
    return world


def _a_category() -> str:
    from poa_manager.notifications import catalogue

    return next(iter(catalogue.BY_KEY))
