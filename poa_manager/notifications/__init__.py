"""Notifications: an in-app inbox and optional e-mail for every hand-over between roles."""

from . import api, jobs, models, views  # noqa: F401
