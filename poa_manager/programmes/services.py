"""Use cases for programmes: reading them, and granting and revoking roles on them."""

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from poa_manager.accounts.models import Membership, User
from poa_manager.accounts.roles import ROLES_BY_ORGANISATION_KIND, Role
from poa_manager.audit import services as audit
from poa_manager.database import db, one_or_not_found
from poa_manager.errors import InvalidInput, NotAllowed, RuleViolation
from poa_manager.programmes import policies
from poa_manager.programmes.models import Programme


def list_programmes(actor: User) -> sa.Select[tuple[Programme]]:
    return policies.visible_programmes(actor)


def get_programme(programme_id: int, *, actor: User) -> Programme:
    query = policies.visible_programmes(actor).where(Programme.id == programme_id)
    return one_or_not_found(query, f"No programme {programme_id}.")


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
    db.session.delete(membership)
    db.session.flush()
