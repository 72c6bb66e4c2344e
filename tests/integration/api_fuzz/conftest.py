"""The sites tests' registered programme and site maker, for the fuzzer's real objects."""

from tests.integration.sites.conftest import make_site, registered  # noqa: F401 (fixtures)
