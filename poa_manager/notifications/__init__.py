"""Notifications: an in-app inbox and optional e-mail for every hand-over between roles."""

from . import api, models, views  # noqa: F401
