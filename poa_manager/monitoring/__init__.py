"""Monitoring: meter readings, data quality, monitoring reports and issuance requests."""

from . import api, views  # noqa: F401
