"""Verification: verifiers sample components, record findings, and errors are extrapolated to the
whole programme."""

from . import api, views  # noqa: F401
