"""Every exit reason and every risk audit type the code can record has a one-line meaning."""

import re
from pathlib import Path

import pytest

from trading import glossary, liquidity
from trading.models import ExitReason

TRADING = Path(glossary.__file__).parent
# Block("CODE", ...) / Block(\n "CODE", and RiskAudit rows written with a literal type
RECORDED = re.compile(r'(?:Block\(\s*|violation_type=)"([A-Z][A-Z_]+)"')


def recorded_types() -> set[str]:
    codes = {liquidity.REFUSED, liquidity.WARNED}
    for path in TRADING.rglob("*.py"):
        if "tests" not in path.parts and "migrations" not in path.parts:
            codes |= set(RECORDED.findall(path.read_text()))
    return codes


def test_every_exit_reason_has_a_meaning():
    assert set(glossary.EXIT_REASONS) == set(ExitReason.values)
    assert "rest of the position stays open" in glossary.EXIT_REASONS["PARTIAL_TAKE_PROFIT"]


def test_every_risk_type_the_code_records_has_a_meaning():
    codes = recorded_types()
    assert {"REENTRY_COOLDOWN", "COOLDOWN", "MAX_POSITIONS", "COOLDOWN_STARTED", "KILL_SWITCH"} <= codes
    assert sorted(codes - set(glossary.RISK_EVENTS)) == []
    assert "re-entry cooldown" in glossary.RISK_EVENTS["REENTRY_COOLDOWN"]


@pytest.mark.parametrize(
    ("reason", "levels_done", "label"),
    [
        ("PARTIAL_TAKE_PROFIT", 2, "Partial take profit (level 2)"),
        ("PARTIAL_TAKE_PROFIT", "1", "Partial take profit (level 1)"),  # as KT() reads it
        ("PARTIAL_TAKE_PROFIT", None, "Partial take profit"),  # booked without its level
        ("TAKE_PROFIT", None, "TAKE_PROFIT"),
        ("", None, ""),
    ],
)
def test_exit_label(reason, levels_done, label):
    assert glossary.exit_label(reason, levels_done) == label


def test_legend_keeps_the_codes_shown_once_in_order():
    assert glossary.legend(
        ["STOP_LOSS", "", "PARTIAL_TAKE_PROFIT", "STOP_LOSS", "NEW"], glossary.EXIT_REASONS
    ) == {
        "STOP_LOSS": glossary.EXIT_REASONS["STOP_LOSS"],
        "PARTIAL_TAKE_PROFIT": glossary.EXIT_REASONS["PARTIAL_TAKE_PROFIT"],
    }


def test_meanings_add_no_figures_to_what_ask_coinpilot_may_quote():
    # a tool result's numbers count as verified in an answer (coinpilot_site/ask/grounding.py)
    assert [
        text
        for text in [*glossary.EXIT_REASONS.values(), *glossary.RISK_EVENTS.values()]
        if re.search(r"\d", text)
    ] == []
