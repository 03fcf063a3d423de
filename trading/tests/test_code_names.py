"""Stored codes named for the reader: English keeps the code, Korean names it."""

from django.template import Context, Template
from django.utils import translation

from market.models import Regime
from trading import glossary
from trading.models import Side


def test_every_side_and_regime_has_a_name_in_each_language():
    for code in [*Side.values, *Regime.values]:
        with translation.override("en"):
            assert glossary.code_name(code) == code
        with translation.override("ko"):
            assert glossary.code_name(code) != code and glossary.code_name(code)


def test_the_filter_names_codes_and_leaves_unknown_ones():
    template = Template("{% load trading_labels %}{{ a|code_name }} {{ b|code_name }} {{ c|code_name }}")
    with translation.override("ko"):
        assert template.render(Context({"a": "BUY", "b": "BULL", "c": "NEW_CODE"})) == "매수 상승장 NEW_CODE"
    with translation.override("en"):
        assert template.render(Context({"a": "SELL", "b": "BEAR", "c": None})) == "SELL BEAR "
