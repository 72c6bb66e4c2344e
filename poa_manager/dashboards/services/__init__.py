"""Use cases of the dashboards: each role's work list, cycle times, targets; import them from here."""

from poa_manager.dashboards.services.cycles import (
    CycleSummary,
    RequestCycle,
    Target,
    portfolio,
    programme_cycles,
    reference_batches,
    reference_cycles,
    reference_median_days,
    request_cycles,
    set_targets,
    summarise,
    target_table,
    targets,
)
from poa_manager.dashboards.services.home import FIRST, Dashboard, completeness, dashboard

__all__ = [
    "FIRST",
    "CycleSummary",
    "Dashboard",
    "RequestCycle",
    "Target",
    "completeness",
    "dashboard",
    "portfolio",
    "programme_cycles",
    "reference_batches",
    "reference_cycles",
    "reference_median_days",
    "request_cycles",
    "set_targets",
    "summarise",
    "target_table",
    "targets",
]
