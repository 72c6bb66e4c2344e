"""The monitoring fixtures, for the in-process recovery checks."""

from tests.integration.monitoring.conftest import make_crediting_site, monitored  # noqa: F401  (fixtures)
from tests.integration.sites.conftest import registered  # noqa: F401  (a fixture)
