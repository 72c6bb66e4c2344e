"""Who may send readings, correct them, keep meter records, and prepare reports and requests."""

import sqlalchemy as sa

from poa_manager.accounts.models import Membership, User
from poa_manager.accounts.policies import can_administer
from poa_manager.accounts.roles import Role
from poa_manager.monitoring.models import IssuanceRequest, MonitoringReport, ReadingUpload
from poa_manager.programmes.models import Programme
from poa_manager.sites import policies as site_policies
from poa_manager.sites.models import Site

# Roles that follow a programme's monitoring as a whole (the verifier reads it to verify it).
_PROGRAMME_WIDE = (
    Role.coordinator,
    Role.verifier,
    Role.verification_team,
    Role.registry_administrator,
    Role.viewer,
)


def _programmes_where(actor: User, roles) -> sa.Select:
    return sa.select(Membership.programme_id).where(
        Membership.user_id == actor.id, Membership.role.in_(roles)
    )


def _own_sites(actor: User) -> sa.Select:
    return sa.select(Membership.site_id).where(
        Membership.user_id == actor.id, Membership.role == Role.site_operator
    )


def writable_sites(actor: User, programme: Programme) -> sa.Select[tuple[Site]]:
    """Sites whose meters the actor may send readings for: the coordinator's whole programme, or
    a site operator's own site. Admins manage accounts and are not data providers."""
    query = sa.select(Site).where(Site.programme_id == programme.id)
    if Role.coordinator in actor.roles_in(programme.id):
        return query
    return query.where(Site.id.in_(_own_sites(actor)))


def can_send_readings(actor: User, programme: Programme) -> bool:
    return bool({Role.coordinator, Role.site_operator} & set(actor.roles_in(programme.id)))


def can_keep_meter_records(actor: User, site: Site) -> bool:
    """Readings corrections, calibrations and replacements: the site's operator or the coordinator."""
    roles = actor.roles_in(site.programme_id)
    if Role.coordinator in roles:
        return True
    return any(
        m.role is Role.site_operator and m.site_id == site.id and m.programme_id == site.programme_id
        for m in actor.memberships
    )


def visible_uploads(actor: User) -> sa.Select[tuple[ReadingUpload]]:
    """Uploads of the actor's programmes; a site operator's own uploads and its sites' uploads."""
    query = sa.select(ReadingUpload)
    if can_administer(actor):
        return query
    return query.where(
        sa.or_(
            ReadingUpload.programme_id.in_(_programmes_where(actor, _PROGRAMME_WIDE)),
            ReadingUpload.uploaded_by_id == actor.id,
            ReadingUpload.site_id.in_(_own_sites(actor)),
        )
    )


def visible_sites(actor: User) -> sa.Select[tuple[Site]]:
    """Readings are visible exactly where their site is."""
    return site_policies.visible_sites(actor)


def visible_reports(actor: User) -> sa.Select[tuple[MonitoringReport]]:
    query = sa.select(MonitoringReport)
    if can_administer(actor):
        return query
    return query.where(MonitoringReport.programme_id.in_(_programmes_where(actor, _PROGRAMME_WIDE)))


def visible_requests(actor: User) -> sa.Select[tuple[IssuanceRequest]]:
    query = sa.select(IssuanceRequest)
    if can_administer(actor):
        return query
    return query.where(IssuanceRequest.programme_id.in_(_programmes_where(actor, _PROGRAMME_WIDE)))


def can_prepare_reports(actor: User, programme: Programme) -> bool:
    """Monitoring reports and issuance requests are the coordinating entity's (domain.md §1.8)."""
    return Role.coordinator in actor.roles_in(programme.id)
