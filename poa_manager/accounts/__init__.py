"""Organisations, users, programme roles, login sessions and personal API tokens."""

from . import api, views  # noqa: F401
