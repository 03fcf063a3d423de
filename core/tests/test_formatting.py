"""core.formatting: the one way figures are written, in English and Korean."""

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from core import formatting


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("0", "$0.00"),
        ("0.000000", "$0.00"),
        ("0.004", "< $0.01"),
        ("0.005", "$0.01"),
        (Decimal("1234.5"), "$1,234.50"),
        ("-2.345", "-$2.35"),
        ("NaN", "-"),
        ("not a number", "-"),
        (None, "-"),
    ],
)
def test_usd_reads_as_money(value, shown):
    assert formatting.usd(value) == shown


@pytest.mark.parametrize(
    ("value", "english", "korean"),
    [
        (9965162, "9,965,162 KRW", "9,965,162원"),
        ("1993032.37", "1,993,032 KRW", "1,993,032원"),
        ("1993032.5", "1,993,033 KRW", "1,993,033원"),  # half up, as a person rounds
        (-4520.4, "-4,520 KRW", "-4,520원"),
        ("-0.3", "0 KRW", "0원"),  # no "-0"
        (None, "-", "-"),
        (float("nan"), "-", "-"),
    ],
)
def test_krw_whole_won_with_separators_in_each_language(value, english, korean):
    with translation.override("en"):
        assert formatting.krw(value) == english
    with translation.override("ko"):
        assert formatting.krw(value) == korean


def test_signed_krw_marks_gains_but_not_zero():
    with translation.override("en"):
        assert formatting.krw(1500, sign=True) == "+1,500 KRW"
        assert formatting.krw(-1500, sign=True) == "-1,500 KRW"
        assert formatting.krw("0.2", sign=True) == "0 KRW"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (9_935_023, "약 993만 원"),
        (123_456_789, "약 1억 2,345만 원"),
        (-250_000_000, "약 -2억 5,000만 원"),  # -2억 5천만: a whole 5,000만
        (1_200_000_000_000, "약 1조 2,000억 원"),
        (1_000_000, "약 100만 원"),
        (999_999, ""),  # below 100만 the exact figure says it all
    ],
)
def test_korean_reads_large_amounts_in_man_and_eok(value, shown):
    with translation.override("ko"):
        assert formatting.krw_approx(value) == shown
    with translation.override("en"):
        assert formatting.krw_approx(value) == ""


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (145_230_000, "145,230,000"),
        ("3120.5", "3,120"),  # Upbit's tick from 1,000 up is whole won or more
        ("0.01234000", "0.01234"),
        ("57.3", "57.3"),
        ("abc", "-"),
    ],
)
def test_price_keeps_the_decimals_a_cheap_coin_needs(value, shown):
    assert formatting.price(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [("0.00125000", "0.00125"), ("12000", "12,000"), ("0.123456789", "0.12345679"), (0, "0")],
)
def test_quantity_to_eight_decimals(value, shown):
    assert formatting.quantity(value) == shown


def test_percentages_carry_their_unit():
    assert formatting.percent(5) == "5.00%"
    assert formatting.percent("-1.234", 1) == "-1.2%"
    assert formatting.percent(2.5, 1, sign=True) == "+2.5%"
    assert formatting.fraction_percent("0.0512") == "5.12%"
    assert formatting.number(1993032.37, 0) == "1,993,032"
    assert formatting.number("1234.5000") == "1,234.5"


def test_template_filters_are_the_same_functions():
    template = Template(
        '{% load numbers %}{{ a|krw }}|{{ b|krw:"+" }}|{{ a|krw_approx }}|{{ c|price }}|{{ d|quantity }}|'
        '{{ e|pct }}|{{ e|pct:"+1" }}|{{ f|fraction_pct }}|{{ g|number }}|{{ h|usd }}'
    )
    values = {
        "a": 12_345_678,
        "b": 900,
        "c": "0.0123",
        "d": "0.5",
        "e": 3.14159,
        "f": 0.25,
        "g": 1234567,
        "h": 0.5,
    }
    with translation.override("ko"):
        shown = template.render(Context(values))
    assert shown == "12,345,678원|+900원|약 1,234만 원|0.0123|0.5|3.14%|+3.1%|25.00%|1,234,567|$0.50"
