"""Template filters that shape what users read."""

from decimal import Decimal

import pytest

from poa_manager.templating import format_quantity


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        (Decimal("130470.0"), "130470"),  # normalize() alone would print 1.3047E+5
        (Decimal("500"), "500"),
        (Decimal("500.000"), "500"),
        (Decimal("0.001500"), "0.0015"),
        (Decimal("128293.4994600"), "128293.49946"),
        (Decimal("0"), "0"),
        (None, "—"),
    ],
)
def test_quantities_show_without_padding_or_exponent(stored, shown):
    assert format_quantity(stored) == shown
