"""Programmes (PoA, grouped project or multi-site JCM project) and who works on them."""

from . import api, views  # noqa: F401
