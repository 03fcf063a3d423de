"""Each risk rule firing and not firing; KST day boundary; cooldown and halt after exits."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from trading import risk
from trading.config import default_risk

# SPEC 6: 5 % size, 20 % exposure, 3 positions, 5 % daily loss, 10 trades, 3 losses / 2 h
LIMITS = default_risk()
NOW = datetime(2030, 1, 6, 3, 0, tzinfo=UTC)  # 12:00 KST
D = Decimal


def context(**changes) -> risk.EntryContext:
    base = risk.EntryContext(
        symbol="KRW-BTC",
        now=NOW,
        cash=D("10000000"),
        exposure=D(0),
        open_positions=0,
        day=risk.DayState(starting_equity=D("10000000")),
        limits=LIMITS,
    )
    return replace(base, **changes)


def blocked_by(ctx: risk.EntryContext) -> str | None:
    _, block = risk.check_entry(ctx)
    return block and block.violation_type


def test_allowed_entry_is_five_percent_of_equity():
    size, block = risk.check_entry(context())
    assert block is None
    assert size == D("500000")


def test_high_volatility_halves_the_size():
    size, _ = risk.check_entry(context(high_volatility=True))
    assert size == D("250000")


def test_size_never_exceeds_cash():
    size, _ = risk.check_entry(context(cash=D("100000"), exposure=D("9900000"), open_positions=0))
    assert size == D("100000")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"kill_switch": True}, "KILL_SWITCH"),
        (
            {"day": risk.DayState(starting_equity=D(10**7), is_trading_halted=True, halt_reason="x")},
            "TRADING_HALTED",
        ),
        (
            {"day": risk.DayState(starting_equity=D(10**7), cooldown_until=NOW + timedelta(minutes=1))},
            "COOLDOWN",
        ),
        ({"day": risk.DayState(starting_equity=D(10**7), trade_count=10)}, "DAILY_TRADE_LIMIT"),
        ({"held_symbols": frozenset({"KRW-BTC"})}, "ALREADY_HOLDING"),
        ({"open_positions": 3, "exposure": D("1500000"), "cash": D("8500000")}, "MAX_POSITIONS"),
        ({"open_positions": 2, "exposure": D("1600000"), "cash": D("8400000")}, "MAX_EXPOSURE"),
        ({"cash": D("80000"), "exposure": D(0)}, "BELOW_MIN_ORDER"),
    ],
)
def test_each_rule_fires(changes, expected):
    assert blocked_by(context(**changes)) == expected


@pytest.mark.parametrize(
    "changes",
    [
        {"day": risk.DayState(starting_equity=D(10**7), cooldown_until=NOW)},  # cooldown just ended
        {"day": risk.DayState(starting_equity=D(10**7), trade_count=9)},
        {"held_symbols": frozenset({"KRW-ETH"})},
        {"open_positions": 2, "exposure": D("1000000"), "cash": D("9000000")},  # 1.5M of a 2M cap
        {"cash": D("100000"), "exposure": D(0)},  # 5,000 KRW exactly
    ],
)
def test_rules_do_not_fire_just_inside_the_limits(changes):
    assert blocked_by(context(**changes)) is None


def test_the_first_failing_rule_is_reported():
    ctx = context(kill_switch=True, open_positions=3)
    assert blocked_by(ctx) == "KILL_SWITCH"


def test_trading_day_turns_at_midnight_kst():
    before = datetime(2030, 1, 6, 14, 59, 59, tzinfo=UTC)  # 23:59:59 KST on the 6th
    after = datetime(2030, 1, 6, 15, 0, 0, tzinfo=UTC)  # 00:00 KST on the 7th
    assert risk.kst_day(before).isoformat() == "2030-01-06"
    assert risk.kst_day(after).isoformat() == "2030-01-07"
    assert risk.next_kst_midnight(before) == after


def test_cooldown_starts_after_the_third_straight_loss():
    day = risk.DayState(starting_equity=D(10**7))
    assert risk.record_exit(day, D(-1000), LIMITS, NOW) == []
    assert risk.record_exit(day, D(-1000), LIMITS, NOW) == []
    [event] = risk.record_exit(day, D(-1000), LIMITS, NOW)
    assert event.violation_type == "COOLDOWN_STARTED"
    assert day.cooldown_until == NOW + timedelta(hours=2)
    assert blocked_by(context(day=day, now=NOW + timedelta(hours=1, minutes=59))) == "COOLDOWN"
    assert blocked_by(context(day=day, now=NOW + timedelta(hours=2))) is None


def test_a_win_resets_the_loss_streak():
    day = risk.DayState(starting_equity=D(10**7))
    for pnl in (-1, -1, 5, -1, -1):
        assert risk.record_exit(day, D(pnl), LIMITS, NOW) == []
    assert day.consecutive_losses == 2


def test_daily_loss_limit_halts_trading_once():
    day = risk.DayState(starting_equity=D(10**7))
    assert risk.record_exit(day, D(-499_999), LIMITS, NOW) == []
    events = risk.record_exit(day, D(-1), LIMITS, NOW)
    assert [e.violation_type for e in events] == ["DAILY_LOSS_HALT"]
    assert day.is_trading_halted and "-500,000 KRW" in day.halt_reason
    assert risk.record_exit(day, D(100), LIMITS, NOW) == []  # no second halt event
    assert blocked_by(context(day=day)) == "TRADING_HALTED"
