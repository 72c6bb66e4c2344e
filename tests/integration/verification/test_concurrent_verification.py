"""Two people act on the same verification at the same moment: exactly one wins, and the loser gets a
clear refusal instead of a half-applied change (row locks on PostgreSQL)."""

import threading
from decimal import Decimal

import flask_migrate
import pytest

from poa_manager import create_app
from poa_manager.accounts.models import User
from poa_manager.accounts.roles import OrganisationKind
from poa_manager.database import db
from poa_manager.errors import DomainError
from poa_manager.monitoring.models import IssuanceRequest, RequestStatus
from poa_manager.verification import services
from poa_manager.verification.models import (
    CheckMethod,
    FindingOutcome,
    Opinion,
    Verification,
    VerificationStatus,
)
from tests.databases import fresh_database
from tests.factories import OrganisationFactory, UserFactory, registered_programme
from tests.verification_support import submitted_request

ROUNDS = 4


def _race(app, actions) -> list[str]:
    """Run each action in its own thread and app context, released together; their outcomes."""
    outcomes: list[str] = []
    start = threading.Barrier(len(actions))

    def run(action) -> None:
        with app.app_context():
            try:
                action(start)
                db.session.commit()
                outcomes.append("done")
            except DomainError as refusal:
                db.session.rollback()
                outcomes.append(refusal.code)

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


@pytest.mark.postgres
def test_concurrent_assignments_and_approvals_never_both_succeed(tmp_path):
    with fresh_database(tmp_path) as url:
        app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
        with app.app_context():
            flask_migrate.upgrade()
            firm = OrganisationFactory(kind=OrganisationKind.verifier)
            validator, auditor, reviewer, second_reviewer = (UserFactory(organisation=firm) for _ in range(4))
            coordinator = UserFactory(organisation=OrganisationFactory())
            registry = UserFactory(organisation=OrganisationFactory(kind=OrganisationKind.registry_authority))
            programme = registered_programme(coordinator, validator, registry, title="Race")
            requests = [
                submitted_request(programme, coordinator, [Decimal(100 + i) for i in range(6)])
                for _ in range(ROUNDS)
            ]
            ids = {
                "coordinator": coordinator.id,
                "registry": registry.id,
                "auditor": auditor.id,
                "reviewer": reviewer.id,
                "second_reviewer": second_reviewer.id,
                "firm": firm.id,
                "requests": [r.id for r in requests],
            }
            db.session.commit()

        def assign(request_id: int, who: str):
            def action(start):
                actor = db.session.get(User, ids[who])
                request = db.session.get(IssuanceRequest, request_id)
                start.wait()
                services.assign_verifier(
                    request, actor=actor, organisation_id=ids["firm"], team_user_ids=[ids["auditor"]]
                )

            return action

        # The coordinator and the registry administrator assign the same request at once.
        for request_id in ids["requests"]:
            assert _race(app, [assign(request_id, "coordinator"), assign(request_id, "registry")]) == [
                "done",
                "request_not_submitted",
            ]
        with app.app_context():
            live = db.session.scalars(db.select(Verification)).all()
            assert len(live) == ROUNDS  # one per request, never two

            # Bring each to a drafted statement, then approve it and send it back at the same moment.
            auditor = db.session.get(User, ids["auditor"])
            for verification in live:
                services.draw(verification, actor=auditor, plan=services.PlanInput())
                for entry in db.session.scalars(services.frame_entries(verification, sampled_only=True)):
                    services.record_finding(
                        verification,
                        actor=auditor,
                        site_id=entry.site_id,
                        verified_tco2e=entry.claimed_tco2e,
                        outcome=FindingOutcome.conforming,
                        method=CheckMethod.remote,
                        evidence="Checked.",
                    )
                services.draft_statement(
                    verification, actor=auditor, opinion=Opinion.positive, summary="Fine."
                )
            db.session.commit()
            verification_ids = [v.id for v in live]

        def review(verification_id: int, who: str, approve: bool):
            def action(start):
                actor = db.session.get(User, ids[who])
                verification = db.session.get(Verification, verification_id)
                start.wait()
                if approve:
                    services.approve_statement(verification, actor=actor)
                else:
                    services.return_draft(verification, actor=actor, reason="Say more.")

            return action

        for verification_id in verification_ids:
            outcomes = _race(
                app,
                [
                    review(verification_id, "reviewer", True),
                    review(verification_id, "second_reviewer", False),
                ],
            )
            assert outcomes == ["done", "not_allowed"]
        with app.app_context():
            for verification in db.session.scalars(db.select(Verification)):
                request = verification.request
                if verification.status is VerificationStatus.completed:
                    assert request.status is RequestStatus.verified and verification.approved_by_id
                else:  # sent back: nothing of the approval is left
                    assert verification.status is VerificationStatus.sampling
                    assert request.status is RequestStatus.under_verification
                    assert verification.approved_by_id is None
            db.session.remove()
            for engine in db.engines.values():  # pooled connections would keep the database from dropping
                engine.dispose()
