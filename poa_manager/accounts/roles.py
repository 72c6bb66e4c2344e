"""Organisation kinds and the roles a user can hold on a programme."""

from enum import StrEnum


class OrganisationKind(StrEnum):
    coordinating_entity = "coordinating_entity"  # CME / project participant running the PoA
    site_operator = "site_operator"
    verifier = "verifier"  # TPE (JCM), DOE (CDM), VVB (Gold Standard, Verra)
    registry_authority = "registry_authority"  # e.g. the JCM Joint Committee secretariat
    host_government = "host_government"

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]


_KIND_LABELS = {
    OrganisationKind.coordinating_entity: "Coordinating/managing entity",
    OrganisationKind.site_operator: "Site operator",
    OrganisationKind.verifier: "Verifier (TPE/DOE/VVB)",
    OrganisationKind.registry_authority: "Registry authority",
    OrganisationKind.host_government: "Host government",
}


class Role(StrEnum):
    """Granted per programme (site_operator per site); platform admin is a flag on the user."""

    coordinator = "coordinator"
    site_operator = "site_operator"
    verifier = "verifier"
    registry_administrator = "registry_administrator"
    viewer = "viewer"
    # Granted by a verification assignment, not by hand: read access to the programme under
    # verification (its sites, readings, reports and requests) for the people on the team.
    verification_team = "verification_team"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


# Which organisations may hold which role. Keeping verifiers out of coordinating entities is the
# first impartiality line (CDM VVS: a DOE may not verify its own client's work; domain.md §6.1).
ROLES_BY_ORGANISATION_KIND: dict[Role, frozenset[OrganisationKind]] = {
    Role.coordinator: frozenset({OrganisationKind.coordinating_entity}),
    Role.site_operator: frozenset({OrganisationKind.site_operator, OrganisationKind.coordinating_entity}),
    Role.verifier: frozenset({OrganisationKind.verifier}),
    Role.registry_administrator: frozenset({OrganisationKind.registry_authority}),
    Role.viewer: frozenset(OrganisationKind),
    Role.verification_team: frozenset({OrganisationKind.verifier}),
}
# Roles that come with another act (a verification assignment) and are never granted by hand.
ASSIGNED_ROLES = frozenset({Role.verification_team})
