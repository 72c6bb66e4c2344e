"""Dashboards: each role's work, cycle times against service-level targets, charts and the map."""

from . import api, models, views  # noqa: F401
