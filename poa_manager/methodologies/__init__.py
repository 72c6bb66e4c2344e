"""Registry of emission-reduction methodologies by code. Pure Python: no Flask, no database."""

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from . import ams_i_d, ams_ii_j, jcm_vn_am007, jcm_vn_amorphous_transformers
from .base import Methodology

# Read-only: codes are stored on programme versions, so the set only changes with a release.
METHODOLOGIES: Mapping[str, Methodology[Any]] = MappingProxyType(
    {
        module.METHODOLOGY.code: module.METHODOLOGY
        for module in (ams_i_d, ams_ii_j, jcm_vn_am007, jcm_vn_amorphous_transformers)
    }
)


class UnknownMethodology(KeyError):
    """No methodology is registered under this code (a KeyError, hence also a LookupError)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code

    def __str__(self) -> str:
        # KeyError's own __str__ would print only the quoted code.
        return f"unknown methodology {self.code!r}; available: {', '.join(sorted(METHODOLOGIES))}"


def get_methodology(code: str) -> Methodology[Any]:
    """The methodology registered under `code` (exact, e.g. "AMS-I.D"); UnknownMethodology if none."""
    try:
        return METHODOLOGIES[code]
    except KeyError:
        raise UnknownMethodology(code) from None


def available_methodologies() -> tuple[Methodology[Any], ...]:
    """Every registered methodology, sorted by code."""
    return tuple(METHODOLOGIES[code] for code in sorted(METHODOLOGIES))
