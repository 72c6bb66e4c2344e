"""T2: sixteen issuances approved at the same moment get disjoint serial blocks, and sixteen
approvals of one request make one issuance, on PostgreSQL (row locks) and SQLite (the write lock)."""

import threading
from decimal import Decimal

import flask_migrate
import sqlalchemy as sa

from poa_manager import create_app
from poa_manager.accounts.models import Membership, User
from poa_manager.accounts.roles import OrganisationKind, Role
from poa_manager.database import begin_writing, db
from poa_manager.errors import DomainError
from poa_manager.monitoring.models import IssuanceRequest
from poa_manager.registry import services
from poa_manager.registry.models import CreditBlock, Issuance, SerialCounter
from tests.databases import fresh_database, on_postgresql
from tests.factories import OrganisationFactory, UserFactory, registered_programme
from tests.verification_support import verified_request

K = 16


def _race(app, actions) -> list[str]:
    outcomes: list[str] = []
    start = threading.Barrier(len(actions))

    def run(action) -> None:
        with app.app_context():
            try:
                start.wait()
                begin_writing()  # what every writing request does first (SQLite: BEGIN IMMEDIATE)
                action()
                db.session.commit()
                outcomes.append("done")
            except DomainError as refusal:
                db.session.rollback()
                outcomes.append(refusal.code)
            except Exception as error:  # anything else is a bug the assertion below shows
                db.session.rollback()
                outcomes.append(f"{type(error).__name__}: {error}"[:300])
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


def test_concurrent_issuances_get_disjoint_serials(tmp_path):
    with fresh_database(tmp_path) as url:
        app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
        with app.app_context():
            flask_migrate.upgrade()
            firm = OrganisationFactory(kind=OrganisationKind.verifier)
            validator, auditor, reviewer = (UserFactory(organisation=firm) for _ in range(3))
            coordinator = UserFactory(organisation=OrganisationFactory())
            authority = OrganisationFactory(kind=OrganisationKind.registry_authority)
            admins = [UserFactory(organisation=authority) for _ in range(K)]
            programme = registered_programme(coordinator, validator, admins[0], title="Race")
            db.session.add_all(
                Membership(user=a, programme=programme, role=Role.registry_administrator) for a in admins[1:]
            )
            requests = [
                verified_request(
                    programme, coordinator, auditor, reviewer, [Decimal(100 + i), Decimal(50 + i)]
                )
                for i in range(K + 1)
            ]
            ids = [r.id for r in requests]
            admin_ids = [a.id for a in admins]
            expected = sum(services.positive_verification(r).credits_verified for r in requests[:K])
            db.session.commit()

        def approve(request_id: int, admin_id: int):
            def action() -> None:
                services.approve_issuance(
                    db.session.get(IssuanceRequest, request_id), actor=db.session.get(User, admin_id)
                )

            return action

        distinct = _race(app, [approve(ids[i], admin_ids[i]) for i in range(K)])
        same = _race(app, [approve(ids[K], admin_ids[i]) for i in range(K)])
        with app.app_context():
            blocks = db.session.execute(
                sa.select(CreditBlock.serial_start, CreditBlock.serial_end).order_by(CreditBlock.serial_start)
            ).all()
            overlaps = sum(1 for a, b in zip(blocks, blocks[1:], strict=False) if b[0] <= a[1])
            issuances = db.session.scalar(sa.select(sa.func.count(Issuance.id)))
            counter = db.session.scalar(sa.select(SerialCounter.next_serial))
            last_credits = services.positive_verification(
                db.session.get(IssuanceRequest, ids[K])
            ).credits_verified
            engine = "PostgreSQL" if on_postgresql() else "SQLite"
            print(
                f"T2 ({engine}): K={K} concurrent issuances → {overlaps} overlapping blocks; "
                f"K={K} concurrent approvals of one request → {issuances - K} issuance"
            )
            assert distinct == ["done"] * K and same == ["done"] * K  # replays return the one issuance
            assert overlaps == 0 and issuances == K + 1
            assert blocks[0][0] == 1 and counter - 1 == blocks[-1][1] == expected + last_credits
            assert sum(end - start + 1 for start, end in blocks) == expected + last_credits
            assert services.reconcile().clean
            db.session.remove()
            for engine_ in db.engines.values():  # pooled connections would keep the database from dropping
                engine_.dispose()
