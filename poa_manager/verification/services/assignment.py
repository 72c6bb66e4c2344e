"""Assigning a verifier organisation and its team to an issuance request, with impartiality
(domain.md §6.1) checked for every person; reading verifications."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa

from poa_manager.accounts.models import Membership, Organisation, User
from poa_manager.accounts.roles import OrganisationKind, Role
from poa_manager.audit import services as audit
from poa_manager.database import db, lock, one_or_not_found, utcnow
from poa_manager.errors import InvalidInput, NotAllowed, RuleViolation
from poa_manager.monitoring.models import IssuanceRequest, RequestStatus
from poa_manager.programmes.models import Programme, ProgrammeVersion
from poa_manager.programmes.rules import Mechanism, SamplingRule
from poa_manager.sites.models import Site
from poa_manager.verification import impartiality, policies
from poa_manager.verification.models import (
    TeamMember,
    Verification,
    VerificationStatus,
)

# The applied rule per mechanism: the defaults, or the operator's POA_VERIFIER_IMPARTIALITY.
IMPARTIALITY_RULES: dict[Mechanism, impartiality.ImpartialityRule] = dict(impartiality.DEFAULT_RULES)


def configure_impartiality(rules: Mapping[Mechanism, impartiality.ImpartialityRule]) -> None:
    """Apply the operator's per-mechanism rules (create_app, from POA_VERIFIER_IMPARTIALITY)."""
    IMPARTIALITY_RULES.clear()
    IMPARTIALITY_RULES.update(rules)


def list_verifications(
    actor: User, *, programme: Programme | None = None, status: VerificationStatus | None = None
) -> sa.Select[tuple[Verification]]:
    query = policies.visible_verifications(actor).order_by(Verification.id.desc())
    if programme is not None:
        query = query.where(Verification.programme_id == programme.id)
    if status is not None:
        query = query.where(Verification.status == status)
    return query


def get_verification(verification_id: int, *, actor: User) -> Verification:
    return one_or_not_found(
        policies.visible_verifications(actor).where(Verification.id == verification_id),
        f"No verification {verification_id}.",
    )


def verification_of(request: IssuanceRequest, *, actor: User) -> Verification | None:
    """The live verification of a request, if the actor may see it."""
    return db.session.scalar(
        policies.visible_verifications(actor).where(
            Verification.request_id == request.id, Verification.status != VerificationStatus.cancelled
        )
    )


def verifier_organisations() -> list[Organisation]:
    return list(
        db.session.scalars(
            sa.select(Organisation)
            .where(Organisation.kind == OrganisationKind.verifier, Organisation.is_active)
            .order_by(Organisation.name)
        )
    )


def members_of(organisation_id: int) -> list[User]:
    return list(
        db.session.scalars(
            sa.select(User)
            .where(User.organisation_id == organisation_id, User.is_active)
            .order_by(User.email)
        )
    )


def impartiality_rule(programme: Programme) -> impartiality.ImpartialityRule:
    return IMPARTIALITY_RULES[programme.mechanism]


def prior_work(programme: Programme) -> list[impartiality.PriorWork]:
    """Validation and inclusion confirmations done for the programme, by person (domain.md §6.1)."""
    person = (User.full_name + " <" + User.email + ">").label("person")  # as the team picker shows them
    validated = db.session.execute(
        sa.select(ProgrammeVersion.number, User.id, User.organisation_id, person)
        .join(User, User.id == ProgrammeVersion.validated_by_id)
        .where(ProgrammeVersion.programme_id == programme.id)
        .order_by(ProgrammeVersion.number)
    )
    work = [
        impartiality.PriorWork(user_id, organisation_id, who, f"validated design version {number}")
        for number, user_id, organisation_id, who in validated
    ]
    confirmed = db.session.execute(
        sa.select(User.id, User.organisation_id, person, sa.func.count(Site.id), sa.func.min(Site.reference))
        .join(User, User.id == Site.inclusion_confirmed_by_id)
        .where(Site.programme_id == programme.id)
        .group_by(User.id, User.organisation_id, User.full_name, User.email)
        .order_by(User.email)
    )
    for user_id, organisation_id, who, count, first in confirmed:
        what = f"confirmed the inclusion of {first}" + (f" and {count - 1} more sites" if count > 1 else "")
        work.append(impartiality.PriorWork(user_id, organisation_id, who, what))
    return work


def assign_verifier(
    request: IssuanceRequest,
    *,
    actor: User,
    organisation_id: int,
    team_user_ids: Collection[int],
    lead_user_id: int | None = None,
    due_on: date | None = None,
    now: datetime | None = None,
) -> Verification:
    """Give a submitted issuance request to a verifier organisation and its team."""
    programme = request.programme
    if not policies.can_assign(actor, programme):
        raise NotAllowed("Only the programme's coordinator or registry administrator assigns verifiers.")
    lock(request)  # two assigners at once: the second sees the request under verification
    if request.status is not RequestStatus.submitted:
        raise RuleViolation(
            f"{request.label} is {request.status.label}: only a submitted request can be assigned.",
            code="request_not_submitted",
        )
    organisation = db.session.get(Organisation, organisation_id)
    if (
        organisation is None
        or organisation.kind is not OrganisationKind.verifier
        or not organisation.is_active
    ):
        message = "Choose an active verifier organisation (TPE/DOE/VVB)."
        raise InvalidInput(message, errors={"organisation_id": [message]})
    now = now or utcnow()
    if due_on is not None and due_on < now.date():
        raise InvalidInput("The due date has passed.", errors={"due_on": ["Give a date from today on."]})
    # Reliability defaults from the programme (domain.md §2.1): 90/10 small scale, 95/10 otherwise.
    design = programme.current_version
    rule = SamplingRule(design.sampling_rule) if design is not None else SamplingRule.ninety_ten
    verification = Verification(
        programme=programme,
        request=request,
        verifier_organisation=organisation,
        verifier_organisation_id=organisation.id,
        impartiality_rule=impartiality_rule(programme),
        assigned_by_id=actor.id,
        assigned_at=now,
        due_on=due_on,
        confidence=rule.confidence,
        relative_precision=rule.relative_precision,
        expected_cv=Decimal("0.5"),
        non_response=Decimal(0),
    )
    _apply_team(verification, team_user_ids, lead_user_id, actor=actor)
    db.session.add(verification)
    request.status = RequestStatus.under_verification
    db.session.flush()
    audit.record(
        "verification.assigned",
        actor=actor,
        entity_type="verification",
        entity_id=verification.id,
        after={
            "request": request.label,
            "programme": programme.reference,
            "organisation": organisation.name,
            "team": sorted(m.user.email for m in verification.team),
            "impartiality_rule": verification.impartiality_rule,
            "due_on": due_on,
        },
    )
    return verification


def set_team(
    verification: Verification,
    *,
    actor: User,
    team_user_ids: Collection[int],
    lead_user_id: int | None = None,
) -> Verification:
    """Change who does the work, re-checking impartiality for the new people."""
    lock(verification)
    if not policies.can_set_team(actor, verification):
        raise NotAllowed("Only the verifier organisation or the assigner can staff an open verification.")
    before = sorted(m.user.email for m in verification.team)
    _apply_team(verification, team_user_ids, lead_user_id, actor=actor)
    db.session.flush()
    audit.record(
        "verification.team_changed",
        actor=actor,
        entity_type="verification",
        entity_id=verification.id,
        before={"team": before},
        after={"team": sorted(m.user.email for m in verification.team)},
    )
    return verification


def _apply_team(
    verification: Verification, team_user_ids: Collection[int], lead_user_id: int | None, *, actor: User
) -> None:
    ids = sorted(set(team_user_ids))
    if not ids:
        raise InvalidInput("Name at least one person for the team.", errors={"team_user_ids": ["Required."]})
    people = {u.id: u for u in members_of(verification.verifier_organisation_id) if u.id in ids}
    strangers = [i for i in ids if i not in people]
    if strangers:
        message = f"The team must be active people of {verification.verifier_organisation.name}."
        raise InvalidInput(message, errors={"team_user_ids": [message]})
    if lead_user_id is not None and lead_user_id not in people:
        raise InvalidInput("The lead must be on the team.", errors={"lead_user_id": ["Pick a team member."]})
    problems = impartiality.conflicts(
        verification.impartiality_rule,
        organisation_id=verification.verifier_organisation_id,
        people=ids,
        prior_work=prior_work(verification.programme),
    )
    if problems:
        raise RuleViolation(
            "Impartiality: " + " ".join(problems) + f" (rule: {verification.impartiality_rule.label}).",
            code="impartiality",
        )
    lead = lead_user_id if lead_user_id is not None else ids[0]
    kept = {m.user_id: m for m in verification.team}
    verification.team = [kept.get(i) or TeamMember(user_id=i, user=people[i]) for i in ids]
    for member in verification.team:
        member.is_lead = member.user_id == lead
    for user in people.values():
        _grant_programme_access(user, verification.programme.id, actor=actor)


def _grant_programme_access(user: User, programme_id: int, *, actor: User) -> None:
    """The team reads the programme, its sites and readings through a verification_team role."""
    if Role.verification_team in user.roles_in(programme_id):
        return
    db.session.add(
        Membership(
            user_id=user.id, programme_id=programme_id, role=Role.verification_team, granted_by_id=actor.id
        )
    )
    db.session.flush()
    db.session.expire(user, ["memberships"])


def cancel_verification(verification: Verification, *, actor: User, reason: str) -> Verification:
    """Withdraw the assignment; the request goes back to waiting for a verifier."""
    lock(verification)
    if not policies.can_cancel(actor, verification):
        raise NotAllowed("Only the assigner can cancel an open verification.")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(
            "Say why the assignment is cancelled.", errors={"reason": ["A reason is required."]}
        )
    verification.status = VerificationStatus.cancelled
    verification.cancelled_reason = reason
    verification.request.status = RequestStatus.submitted
    db.session.flush()
    audit.record(
        "verification.cancelled",
        actor=actor,
        entity_type="verification",
        entity_id=verification.id,
        data={"reason": reason, "request": verification.request.label},
    )
    return verification
