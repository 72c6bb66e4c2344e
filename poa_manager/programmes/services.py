"""Use cases for programmes: design, validation, registration, revisions, holds and roles."""

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from poa_manager import geo, methodologies
from poa_manager.accounts.models import Membership, Organisation, User
from poa_manager.accounts.roles import ASSIGNED_ROLES, ROLES_BY_ORGANISATION_KIND, Role
from poa_manager.audit import services as audit
from poa_manager.database import db, one_or_not_found
from poa_manager.errors import InvalidInput, NotAllowed, RuleViolation
from poa_manager.methodologies import grid_emission_factors
from poa_manager.programmes import policies, rules
from poa_manager.programmes.models import Programme, ProgrammeVersion, VersionStatus

# The design fields a coordinator edits; the same names as the form and the API schema.
DESIGN_FIELDS = (
    "methodology_code",
    "methodology_version",
    "boundary",
    "start_date",
    "duration_years",
    "crediting_period_type",
    "crediting_period_years",
    "max_renewals",
    "inclusion_route",
    "sampling_rule",
    "monitoring_plan",
    "grid_emission_factor_overrides",
    "support_tiers",
)


def list_programmes(actor: User) -> sa.Select[tuple[Programme]]:
    return policies.visible_programmes(actor)


def count_sites(programme: Programme) -> int:
    """How many sites the programme holds, counted in SQL (never by loading 100,000 rows)."""
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Programme)
        .join(Programme.sites)
        .where(Programme.id == programme.id)
    )


def site_id_for_reference(programme: Programme, reference: str | None) -> int | None:
    """The id of the programme's site with this reference (None for no reference).

    Sites live in a feature above programmes (the layers contract), so the query goes through the
    `Programme.sites` relationship's mapper instead of importing the Site model.
    """
    reference = (reference or "").strip()
    if not reference:
        return None
    site = Programme.sites.property.mapper
    site_id = db.session.scalar(
        sa.select(site.c.id).where(site.c.programme_id == programme.id, site.c.reference == reference)
    )
    if site_id is None:
        message = f"This programme has no site {reference}."
        raise InvalidInput(message, errors={"site_reference": [message]})
    return site_id


def get_programme(programme_id: int, *, actor: User) -> Programme:
    query = policies.visible_programmes(actor).where(Programme.id == programme_id)
    return one_or_not_found(query, f"No programme {programme_id}.")


def design_defaults(mechanism: rules.Mechanism) -> dict[str, Any]:
    """A new design's starting values for a mechanism (domain.md §1.7, §6)."""
    defaults = rules.MECHANISM_DEFAULTS[mechanism]
    return {
        "duration_years": defaults.max_duration_years,
        "crediting_period_type": defaults.crediting_period_type,
        "crediting_period_years": defaults.crediting_period_years,
        "max_renewals": defaults.max_renewals,
        "inclusion_route": defaults.inclusion_route,
        "sampling_rule": defaults.sampling_rule,
        "support_tiers": [[first, str(rate)] for first, rate in rules.DEFAULT_SUPPORT_TIERS],
    }


# --- creating and designing -------------------------------------------------------------------


def create_programme(
    *,
    actor: User,
    reference: str,
    title: str,
    mechanism: rules.Mechanism,
    host_country: str,
    coordinating_entity_id: int,
    partner_country: str | None = None,
    **design: Any,
) -> Programme:
    """Register a new programme as a draft; its creator becomes its coordinator."""
    entity = db.session.get(Organisation, coordinating_entity_id)
    if entity is None or not policies.can_create_programme(actor, entity):
        raise NotAllowed("You can create programmes only for your own coordinating entity.")
    reference = reference.strip()
    if db.session.scalar(
        sa.select(Programme.id).where(sa.func.lower(Programme.reference) == reference.lower())
    ):
        raise RuleViolation(
            f"A programme {reference} exists already.",
            code="duplicate_reference",
            errors={"reference": ["This reference is taken."]},
        )
    programme = Programme(
        reference=reference,
        title=title.strip(),
        mechanism=mechanism,
        host_country=host_country.upper(),
        partner_country=_upper(partner_country),
        coordinating_entity=entity,
        created_by_id=actor.id,
    )
    version = ProgrammeVersion(number=1, created_by_id=actor.id, **(design_defaults(mechanism) | design))
    _check_design(version)
    programme.versions.append(version)
    db.session.add(programme)
    db.session.flush()
    if actor.organisation_id == entity.id:
        db.session.add(
            Membership(
                user_id=actor.id, programme_id=programme.id, role=Role.coordinator, granted_by_id=actor.id
            )
        )
        db.session.expire(actor, ["memberships"])
    audit.record(
        "programme.created",
        actor=actor,
        entity_type="programme",
        entity_id=programme.id,
        after={
            "reference": reference,
            "title": programme.title,
            "mechanism": mechanism,
            "host_country": programme.host_country,
            **_design_of(version),
        },
    )
    return programme


def update_programme(
    programme: Programme,
    *,
    actor: User,
    title: str,
    host_country: str,
    partner_country: str | None,
    **design: Any,
) -> ProgrammeVersion:
    """Change the draft design (and, before registration, the title and countries)."""
    version = _editable_version(programme, actor)
    values: dict[str, Any] = {"title": title.strip()}
    if programme.current_version is None:
        values |= {"host_country": host_country.upper(), "partner_country": _upper(partner_country)}
    before, after = audit.changes(programme, values)
    design_before, design_after = audit.changes(version, {k: design[k] for k in DESIGN_FIELDS if k in design})
    _check_design(version)
    if after or design_after:
        audit.record(
            "programme.design_updated",
            actor=actor,
            entity_type="programme",
            entity_id=programme.id,
            before=before | design_before,
            after=after | design_after,
            data={"version": version.number},
        )
    return version


def set_eligibility_criteria(programme: Programme, *, actor: User, criteria: list[dict[str, Any]]) -> None:
    """Store already-validated criteria on the draft design (sites.services validates them)."""
    version = _editable_version(programme, actor)
    before = version.eligibility_criteria
    version.eligibility_criteria = criteria
    audit.record(
        "programme.criteria_updated",
        actor=actor,
        entity_type="programme",
        entity_id=programme.id,
        before={"criteria": before},
        after={"criteria": criteria},
        data={"version": version.number},
    )


def _editable_version(programme: Programme, actor: User) -> ProgrammeVersion:
    if not policies.can_edit_design(actor, programme):
        raise NotAllowed("Only the programme's coordinator can change its design.")
    version = programme.pending_version
    if version is None:
        raise RuleViolation(
            "The registered design cannot change: start a revision first.", code="registered_design_is_frozen"
        )
    if version.status is not VersionStatus.draft:
        raise RuleViolation(
            f"Version {version.number} is {version.status.label}; only drafts change.",
            code="design_under_review",
        )
    return version


def _check_design(version: ProgrammeVersion) -> None:
    problems = rules.design_problems(
        start_date=version.start_date or date.min,
        duration_years=version.duration_years,
        crediting_period_type=version.crediting_period_type,
        crediting_period_years=version.crediting_period_years,
        max_renewals=version.max_renewals,
    )
    problems.pop("start_date", None)  # a draft may leave the start open
    if version.duration_years is None:
        problems.pop("duration_years", None)
    if version.methodology_code:
        try:
            methodologies.get_methodology(version.methodology_code)
        except LookupError:
            problems["methodology_code"] = ["Choose one of the methodologies the platform knows."]
    if version.boundary:
        boundary_problems = geo.boundary_problems(version.boundary)
        if boundary_problems:
            problems["boundary"] = boundary_problems
    try:
        grid_emission_factors.normalise_overrides(version.grid_emission_factor_overrides)
    except ValueError as error:
        problems["grid_emission_factor_overrides"] = [f"{error} (give a year and a factor in tCO2/MWh)."]
    if problems:
        raise InvalidInput("The programme design has errors.", errors=problems)


def _completeness_problems(version: ProgrammeVersion) -> dict[str, list[str]]:
    """What a design needs before a verifier sees it (domain.md §1.2)."""
    problems = rules.design_problems(
        start_date=version.start_date,
        duration_years=version.duration_years,
        crediting_period_type=version.crediting_period_type,
        crediting_period_years=version.crediting_period_years,
        max_renewals=version.max_renewals,
    )
    if not version.methodology_code:
        problems["methodology_code"] = ["Choose the methodology."]
    if not version.boundary:
        problems["boundary"] = ["Give the geographic boundary (a GeoJSON polygon or area codes)."]
    if not version.eligibility_criteria:
        problems["eligibility_criteria"] = ["Define at least one eligibility criterion."]
    return problems


# --- validation and registration (maker/checker) ----------------------------------------------


def submit_for_validation(programme: Programme, *, actor: User, now: datetime) -> ProgrammeVersion:
    """The coordinator sends the draft design to a verifier."""
    version = _editable_version(programme, actor)
    problems = _completeness_problems(version)
    if problems:
        raise InvalidInput("The design is not complete yet.", errors=problems)
    version.status, version.submitted_by_id, version.submitted_at = VersionStatus.submitted, actor.id, now
    version.returned_reason = None
    _record_step(programme, version, actor, "programme.submitted_for_validation")
    return version


def validate(programme: Programme, *, actor: User, now: datetime) -> ProgrammeVersion:
    """A verifier confirms the design; never someone who prepared it (quality.md A1 #6)."""
    version = _version_in(programme, VersionStatus.submitted)
    if not policies.can_validate(actor, programme):
        raise NotAllowed("Only a verifier assigned to this programme can validate it.")
    if actor.id in (version.created_by_id, version.submitted_by_id):
        raise RuleViolation("You prepared this design, so you cannot validate it.", code="maker_checker")
    version.status, version.validated_by_id, version.validated_at = VersionStatus.validated, actor.id, now
    version.validated_by_organisation_id = actor.organisation_id
    _record_step(programme, version, actor, "programme.validated")
    return version


def register(programme: Programme, *, actor: User, now: datetime) -> ProgrammeVersion:
    """The registry administrator puts the validated design in force; an older one is superseded."""
    version = _version_in(programme, VersionStatus.validated)
    if not policies.can_register(actor, programme):
        raise NotAllowed("Only the programme's registry administrator can register it.")
    if actor.id in (version.created_by_id, version.submitted_by_id, version.validated_by_id):
        raise RuleViolation(
            "You took an earlier step on this design, so you cannot register it.", code="maker_checker"
        )
    previous = programme.current_version
    if previous is not None:
        previous.status = VersionStatus.superseded
        db.session.flush()  # one registered version at a time (partial unique index)
    version.status, version.registered_by_id, version.registered_at = VersionStatus.registered, actor.id, now
    _record_step(programme, version, actor, "programme.registered")
    return version


def return_for_changes(programme: Programme, *, actor: User, reason: str) -> ProgrammeVersion:
    """A verifier or registry administrator sends the design back to the coordinator with a reason."""
    version = programme.pending_version
    if version is None or version.status not in (VersionStatus.submitted, VersionStatus.validated):
        raise RuleViolation("Only a design under review can be returned.", code="not_under_review")
    if not (policies.can_validate(actor, programme) or policies.can_register(actor, programme)):
        raise NotAllowed("Only the programme's verifier or registry administrator can return it.")
    if not reason.strip():
        raise InvalidInput("Say what must change.", errors={"reason": ["Say what must change."]})
    version.status, version.returned_reason = VersionStatus.draft, reason.strip()
    version.validated_by_id = version.validated_by_organisation_id = version.validated_at = None
    _record_step(programme, version, actor, "programme.returned", reason=reason.strip())
    return version


def start_revision(programme: Programme, *, actor: User, change_summary: str) -> ProgrammeVersion:
    """A registered programme changes only through a new version, reviewed like the first."""
    if not policies.can_edit_design(actor, programme):
        raise NotAllowed("Only the programme's coordinator can revise its design.")
    current = programme.current_version
    if current is None or programme.pending_version is not None:
        raise RuleViolation(
            "A revision starts from the registered design, one at a time.", code="revision_not_possible"
        )
    revision = ProgrammeVersion(
        number=current.number + 1,
        created_by_id=actor.id,
        change_summary=change_summary.strip() or None,
        eligibility_criteria=list(current.eligibility_criteria),
        **{field: getattr(current, field) for field in DESIGN_FIELDS},
    )
    programme.versions.append(revision)
    db.session.flush()
    _record_step(programme, revision, actor, "programme.revision_started", change_summary=change_summary)
    return revision


def _version_in(programme: Programme, status: VersionStatus) -> ProgrammeVersion:
    version = programme.pending_version
    if version is None or version.status is not status:
        raise RuleViolation(f"No design of {programme.reference} is {status.label}.", code="wrong_state")
    return version


def _record_step(programme: Programme, version: ProgrammeVersion, actor: User, action: str, **data) -> None:
    audit.record(
        action,
        actor=actor,
        entity_type="programme",
        entity_id=programme.id,
        data={"version": version.number, "status": version.status, **data},
    )


def set_holds(
    programme: Programme,
    *,
    actor: User,
    inclusion_hold: bool,
    issuance_hold: bool,
    reason: str | None,
) -> Programme:
    """Stop (or resume) inclusions and issuance, e.g. while an erroneous inclusion is reviewed."""
    if not policies.can_set_holds(actor, programme):
        raise NotAllowed("Only the programme's registry administrator can set holds.")
    if (inclusion_hold or issuance_hold) and not (reason or "").strip():
        raise InvalidInput("Say why the programme is on hold.", errors={"reason": ["Give a reason."]})
    before, after = audit.changes(
        programme,
        {
            "inclusion_hold": inclusion_hold,
            "issuance_hold": issuance_hold,
            "hold_reason": (reason or "").strip() or None if (inclusion_hold or issuance_hold) else None,
        },
    )
    if after:
        audit.record(
            "programme.holds_changed",
            actor=actor,
            entity_type="programme",
            entity_id=programme.id,
            before=before,
            after=after,
        )
    return programme


# --- roles ----------------------------------------------------------------------------------


def list_members(programme: Programme, *, actor: User) -> list[Membership]:
    """Everyone with a role on a programme the actor can see."""
    get_programme(programme.id, actor=actor)
    query = (
        sa.select(Membership)
        .where(Membership.programme_id == programme.id)
        .join(Membership.user)
        .order_by(User.email, Membership.role)
    )
    return list(db.session.scalars(query))


def get_membership(programme: Programme, membership_id: int, *, actor: User) -> Membership:
    get_programme(programme.id, actor=actor)
    query = sa.select(Membership).where(
        Membership.id == membership_id, Membership.programme_id == programme.id
    )
    return one_or_not_found(query, f"No membership {membership_id} on {programme.reference}.")


def grant_role(
    programme: Programme, *, actor: User, user_id: int, role: Role, site_id: int | None = None
) -> Membership:
    """Give a user a role on a programme (a site operator: on one of its sites)."""
    if not policies.can_manage_members(actor, programme):
        raise NotAllowed("Only a platform administrator can grant roles.")
    user = db.session.get(User, user_id)
    if user is None or not user.is_active:
        raise InvalidInput("Choose an active user.", errors={"user_id": ["Choose an active user."]})
    if role in ASSIGNED_ROLES:
        raise RuleViolation(
            f"The {role.label.lower()} role comes with a verification assignment.", code="assigned_role"
        )
    if user.organisation.kind not in ROLES_BY_ORGANISATION_KIND[role]:
        raise RuleViolation(
            f"A {role.label.lower()} role needs a user of a "
            + " or ".join(sorted(k.label.lower() for k in ROLES_BY_ORGANISATION_KIND[role]))
            + f" organisation; {user.organisation.name} is a {user.organisation.kind.label.lower()}.",
            code="role_not_for_organisation",
        )
    if (role is Role.site_operator) != (site_id is not None):
        message = (
            "A site operator role names one site."
            if role is Role.site_operator
            else "Only site operator roles name a site."
        )
        raise InvalidInput(message, errors={"site_id": [message]})
    if any(
        m.programme_id == programme.id and m.role is role and m.site_id == site_id for m in user.memberships
    ):
        raise RuleViolation(f"{user.email} already holds this role.", code="duplicate_membership")

    membership = Membership(
        user_id=user.id, programme_id=programme.id, role=role, site_id=site_id, granted_by_id=actor.id
    )
    try:
        with db.session.begin_nested():
            db.session.add(membership)
            db.session.flush()
    except IntegrityError as error:
        # The composite foreign key refuses a site of another programme (accounts.models).
        raise InvalidInput(
            "No such site in this programme.", errors={"site_id": ["No such site in this programme."]}
        ) from error
    db.session.expire(user, ["memberships"])  # role checks read the collection: let it reload
    audit.record(
        "membership.granted",
        actor=actor,
        entity_type="programme",
        entity_id=programme.id,
        after={"membership_id": membership.id, "user_id": user.id, "role": role, "site_id": site_id},
    )
    return membership


def revoke_membership(membership: Membership, *, actor: User) -> None:
    """Take a role away; the audit log keeps who held it and when."""
    if not policies.can_manage_members(actor, membership.programme):
        raise NotAllowed("Only a platform administrator can revoke roles.")
    audit.record(
        "membership.revoked",
        actor=actor,
        entity_type="programme",
        entity_id=membership.programme_id,
        before={
            "membership_id": membership.id,
            "user_id": membership.user_id,
            "role": membership.role,
            "site_id": membership.site_id,
        },
    )
    user = membership.user
    db.session.delete(membership)
    db.session.flush()
    db.session.expire(user, ["memberships"])


def _upper(value: str | None) -> str | None:
    return value.strip().upper() if value and value.strip() else None


def _design_of(version: ProgrammeVersion) -> dict[str, Any]:
    return {field: getattr(version, field) for field in DESIGN_FIELDS}
