"""The methodology registry, and the rules every registered methodology keeps."""

import ast
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from poa_manager import methodologies
from poa_manager.methodologies import UnknownMethodology, available_methodologies, get_methodology

PACKAGE_DIR = Path(methodologies.__file__).parent
ALL = available_methodologies()


def test_available_methodologies_are_sorted_by_code_when_listed():
    assert [m.code for m in ALL] == ["AMS-I.D", "AMS-II.J", "JCM_VN_AM007", "JCM_VN_AMORPHOUS_TRANSFORMERS"]


@pytest.mark.parametrize("methodology", ALL, ids=lambda m: m.code)
def test_get_methodology_returns_the_registered_one_when_the_code_is_known(methodology):
    assert get_methodology(methodology.code) is methodology


@pytest.mark.parametrize("code", ["AMS-I.X", "ams-i.d", ""])
def test_unknown_code_raises_a_lookup_error_listing_the_codes_when_not_registered(code):
    with pytest.raises(UnknownMethodology) as unknown:
        get_methodology(code)
    assert isinstance(unknown.value, KeyError) and isinstance(unknown.value, LookupError)
    assert str(unknown.value).startswith(f"unknown methodology {code!r}; available: AMS-I.D")


@pytest.mark.parametrize("methodology", ALL, ids=lambda m: m.code)
def test_parameter_names_carry_a_unit_suffix_and_match_the_dataclass_when_registered(methodology):
    names = [parameter.name for parameter in methodology.parameters]
    assert sorted(names) == sorted(f.name for f in fields(methodology.parameters_type))
    suffixes = ("_mwh", "_kw", "_w", "_h", "_d", "_tco2e", "_tco2_per_mwh", "_fraction", "_factor", "_count")
    assert all(name.endswith(suffixes) for name in names), names
    assert all(parameter.unit and parameter.description for parameter in methodology.parameters)


@pytest.mark.parametrize("methodology", ALL, ids=lambda m: m.code)
def test_every_formula_has_a_docstring_citing_its_equation_when_registered(methodology):
    for formula in (
        methodology.baseline_emissions,
        methodology.project_emissions,
        methodology.leakage,
        methodology.emission_reductions,
    ):
        assert formula.__doc__, formula.__name__
    assert "=" in methodology.emission_reductions.__doc__


@pytest.mark.parametrize("methodology", ALL, ids=lambda m: m.code)
def test_applicability_condition_codes_are_numbered_ac_when_registered(methodology):
    codes = [condition.code for condition in methodology.applicability_conditions]
    assert codes == [f"AC-{n}" for n in range(1, len(codes) + 1)]


@pytest.mark.parametrize("path", sorted(PACKAGE_DIR.glob("*.py")), ids=lambda p: p.name)
def test_methodology_modules_import_only_the_standard_library_when_read(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert ast.get_docstring(tree), f"{path.name} needs a module docstring"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            roots = [(node.module or "").split(".")[0]]
        else:
            continue
        assert all(root in sys.stdlib_module_names for root in roots), (path.name, roots)
