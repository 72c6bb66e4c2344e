"""Interoperability: signed webhooks for registry events, and the CADT export of projects and units."""

from . import api, jobs, models, views  # noqa: F401
