from decimal import Decimal

import pytest

from core.templatetags.numbers import usd


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("0", "$0.00"),
        ("0.000000", "$0.00"),
        ("0.004", "< $0.01"),
        ("0.005", "$0.01"),
        (Decimal("1234.5"), "$1,234.50"),
        ("-2.345", "-$2.35"),
        ("NaN", ""),
        ("not a number", ""),
        (None, ""),
    ],
)
def test_usd_reads_as_money(value, shown):
    assert usd(value) == shown
