"""Sites: the components of a programme (CPA, VPA or instance) and their inclusion."""

from . import api, views  # noqa: F401
