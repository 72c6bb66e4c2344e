"""Use cases for sites, split by sub-concept; import them from here."""

from poa_manager.sites.services.bulk import ImportRejected, ImportResult, error_report_csv, import_sites
from poa_manager.sites.services.external import import_external_registrations, list_external_registrations
from poa_manager.sites.services.guard import find_conflicts
from poa_manager.sites.services.inclusion import (
    advance_crediting,
    check_eligibility,
    clear_review,
    confirm_inclusion,
    design_for_checks,
    eligibility_checks,
    exclude_site,
    include_sites,
    latest_check,
    put_under_review,
    renew_crediting_period,
    return_inclusion,
    update_criteria,
    withdraw_site,
)
from poa_manager.sites.services.maps import MapPoint, MapPoints, boundary_geojson, export_records, map_points
from poa_manager.sites.services.records import (
    create_site,
    get_site,
    list_sites,
    normalise_serial,
    update_site,
)

__all__ = [
    "MapPoint",
    "MapPoints",
    "boundary_geojson",
    "export_records",
    "map_points",
    "renew_crediting_period",
    "ImportRejected",
    "ImportResult",
    "error_report_csv",
    "import_sites",
    "import_external_registrations",
    "list_external_registrations",
    "advance_crediting",
    "eligibility_checks",
    "check_eligibility",
    "clear_review",
    "confirm_inclusion",
    "create_site",
    "design_for_checks",
    "exclude_site",
    "find_conflicts",
    "get_site",
    "include_sites",
    "latest_check",
    "list_sites",
    "normalise_serial",
    "put_under_review",
    "return_inclusion",
    "update_criteria",
    "update_site",
    "withdraw_site",
]
