from datetime import UTC, datetime
from decimal import Decimal

import pytest

from analytics.exit_performance import exit_table, pnl_by_exit_reason, post_exit_curve, rose_early
from analytics.exits import Exit
from analytics.suggestions import KEEP, SUGGEST, WITHHELD, suggest
from trading.config import default_strategy

T0 = datetime(2026, 11, 16, tzinfo=UTC)


def make_exit(reason="TRAILING_STOP", regime="BULL", pnl="10", pnl_pct=1.0, hold=2.0, post=None) -> Exit:
    return Exit(
        id=0,
        symbol="KRW-BTC",
        regime=regime,
        exit_reason=reason,
        at=T0,
        price=Decimal(100),
        quantity=Decimal(1),
        fee=Decimal(0),
        pnl=None if pnl is None else Decimal(pnl),
        pnl_pct=pnl_pct,
        hold_hours=hold,
        post_changes=dict(post or {}),
    )


def test_rose_early_looks_at_the_highest_tracked_window():
    assert rose_early(make_exit(post={"1h": 0.5, "4h": 2.0, "24h": -3.0})) is True
    assert rose_early(make_exit(post={"1h": 1.99, "24h": -1})) is False
    assert rose_early(make_exit()) is None


def test_table_row_on_hand_computed_exits():
    exits = [
        make_exit(pnl_pct=1.0, hold=1.0, post={"1h": 2.5, "24h": 1.0}),
        make_exit(pnl_pct=2.0, hold=2.0, post={"24h": 3.0}),
        make_exit(pnl_pct=3.0, hold=6.0, post={"4h": 0.1, "24h": -2.0}),
        make_exit(pnl_pct=None, pnl=None, hold=None),  # no PnL, no post-exit data
        make_exit(reason="TIME_LIMIT", pnl="-5", pnl_pct=-0.5, post={"24h": 1.0}),
        make_exit(reason="TIME_LIMIT", pnl="3", pnl_pct=0.3),
        make_exit(reason="TIME_LIMIT", regime="BEAR", pnl="-1", pnl_pct=-0.1),
    ]
    rows = {(row.regime, row.exit_reason): row for row in exit_table(exits)}
    assert list(rows) == [("BEAR", "TIME_LIMIT"), ("BULL", "TIME_LIMIT"), ("BULL", "TRAILING_STOP")]
    trailing = rows[("BULL", "TRAILING_STOP")]
    assert trailing.count == 4
    assert trailing.avg_pnl_pct == 2.0
    assert trailing.avg_hold_hours == 3.0
    assert (trailing.avg_post_24h_pct, trailing.median_post_24h_pct) == (0.67, 1.0)
    assert (trailing.min_post_24h_pct, trailing.max_post_24h_pct) == (-2.0, 3.0)
    assert trailing.early_exit_rate == 66.7  # 2 of the 3 with data rose >= 2 %
    assert trailing.over_hold_rate is None
    time_limit = rows[("BULL", "TIME_LIMIT")]
    assert (time_limit.over_hold_rate, time_limit.early_exit_rate) == (50.0, None)
    assert time_limit.median_post_24h_pct == 1.0


def test_box_plot_lists_and_average_post_exit_curve_per_exit_reason():
    exits = [
        make_exit(pnl_pct=1.5, post={"1h": 1.0, "4h": 2.0}),
        make_exit(pnl_pct=-0.5, post={"1h": 3.0}),
        make_exit(reason="STOP_LOSS", pnl_pct=-2.0, post={"24h": -1.0}),
    ]
    assert pnl_by_exit_reason(exits) == {"STOP_LOSS": [-2.0], "TRAILING_STOP": [1.5, -0.5]}
    assert post_exit_curve(exits) == {
        "STOP_LOSS": {"1h": None, "4h": None, "12h": None, "24h": -1.0},
        "TRAILING_STOP": {"1h": 2.0, "4h": 2.0, "12h": None, "24h": None},
    }


# --- suggestions --------------------------------------------------------------------------------

STRATEGY = default_strategy()  # BULL trailing 2.0, take profit 5.0; SIDEWAYS time limit 24 h


def run(exits, **kwargs):
    return suggest(exits, exit_table(exits), strategy=STRATEGY, min_sample=kwargs.get("min_sample", 10))


def test_fewer_sells_than_the_minimum_sample_withholds_suggestions():
    exits = [make_exit(post={"1h": 5.0})] * 9
    result = run(exits)
    assert result.status == WITHHELD and result.items == ()
    assert result.lines == ("suggestions withheld: not enough data (9 SELLs, minimum 10)",)


def test_nothing_triggered_keeps_current_settings():
    exits = [make_exit(post={"24h": 0.5})] * 6 + [make_exit(post={"1h": 3.0})] * 4  # 40 % rose early
    result = run(exits)
    assert result.status == KEEP and result.lines == ("keep current settings",)


def test_rules_fire_naming_parameter_current_and_proposed_value():
    early = make_exit(post={"4h": 2.5})
    late = make_exit(post={"24h": -1.0})
    tp_early = make_exit(reason="TAKE_PROFIT", regime="BEAR", post={"1h": 4.0})
    over = make_exit(reason="TIME_LIMIT", regime="SIDEWAYS", pnl="-3", pnl_pct=-0.3)
    exits = [early] * 7 + [late] * 3 + [tp_early] * 5 + [over] * 5
    result = run(exits)
    assert result.status == SUGGEST
    assert [item.text for item in result.items] == [
        "BULL trailing_stop_pct 2.0 -> 2.5: 7 of 10 trailing exits rose >= 2 % within 24 h",
        "SIDEWAYS time_limit_hours 24 -> 18: 5 of 5 time-limit exits closed at a loss",
        "BEAR take_profit_pct 2.5 -> 3.5: 5 of 5 take-profit exits rose >= 2 % within 24 h",
    ]


def test_a_rule_needs_enough_exits_of_its_kind():
    exits = [make_exit(post={"1h": 3.0})] * 4 + [make_exit(reason="STOP_LOSS")] * 10
    assert run(exits).status == KEEP


@pytest.mark.parametrize("flat,fires", [(5, True), (6, False)])
def test_the_trigger_is_fifty_percent_inclusive(flat, fires):
    exits = [make_exit(post={"1h": 3.0})] * 5 + [make_exit(post={"1h": 0.0})] * flat  # 5/10, 5/11
    assert (run(exits).status == SUGGEST) is fires


def test_suggestion_lines_follow_the_language():
    from django.utils import translation

    from analytics.suggestions import Suggestion, Suggestions, suggestion_lines

    item = Suggestion("BULL", "trailing_stop_pct", 2.0, 2.5, "7 of 10 trailing exits rose >= 2 % within 24 h",
                      exit_reason="TRAILING_STOP", hits=7, base=10)  # fmt: skip
    found = Suggestions(SUGGEST, (item,), 1, sells=12, minimum=10)
    with translation.override("ko"):
        assert found.lines == (
            "BULL trailing_stop_pct 2.0 -> 2.5: 추적 손절 청산 10건 중 7건이 24시간 안에 2% 이상 올랐습니다",
        )
        assert suggestion_lines({"status": WITHHELD, "sells": 1234, "minimum": 2000}) == [
            "제안 보류: 데이터 부족 (매도 1,234건, 최소 2,000건 필요)"
        ]
    with translation.override("en"):
        assert found.lines == (
            "BULL trailing_stop_pct 2.0 -> 2.5: 7 of 10 trailing exits rose >= 2 % within 24 h",
        )
    assert item.reason == "7 of 10 trailing exits rose >= 2 % within 24 h"  # stored for the admin in English
