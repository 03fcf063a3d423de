"""Each risk rule firing and not firing; KST day boundary; cooldown and halt after exits."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from trading import risk
from trading.config import default_risk

# The default limits: 5 % size, 20 % exposure, 3 positions, 5 % daily loss, 10 trades, 3 losses / 2 h
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


# --- the day and week boundaries: what carries over and what starts again ---

KST = risk.KST


def kst(day: int, hour: int, minute: int = 0) -> datetime:
    """A time in January 2030, KST (the 6th is a Sunday, the 7th a Monday)."""
    return datetime(2030, 1, day, hour, minute, tzinfo=KST)


def test_the_trading_week_turns_on_monday_00_00_kst():
    sunday_night, monday = kst(6, 23, 59), kst(7, 0, 0)
    assert risk.kst_week(risk.kst_day(sunday_night)).isoformat() == "2029-12-31"
    assert risk.kst_week(risk.kst_day(monday)).isoformat() == "2030-01-07"
    assert risk.next_kst_monday(sunday_night) == monday
    assert risk.next_kst_monday(monday) == kst(14, 0, 0)
    assert monday.astimezone(UTC) == datetime(2030, 1, 6, 15, 0, tzinfo=UTC)  # Sunday in UTC


def test_cooldown_survives_kst_midnight_computed_by_hand():
    """Stop losses at 23:05, 23:15 and 23:25 KST: 2 h of cooldown, so no entry until 01:25 KST."""
    day = risk.DayState(starting_equity=D(10**7))
    for minute in (5, 15, 25):
        events = risk.record_exit(day, D(-20_000), LIMITS, kst(6, 23, minute))
    assert [e.violation_type for e in events] == ["COOLDOWN_STARTED"]
    assert day.cooldown_until == kst(7, 1, 25)

    new_day = risk.open_day(risk.kst_day(kst(7, 0, 5)), D(9_940_000), day, risk.kst_day(kst(6, 23, 25)))
    assert (new_day.trade_count, new_day.total_pnl, new_day.is_trading_halted) == (0, 0, False)
    assert (new_day.consecutive_losses, new_day.cooldown_until) == (3, kst(7, 1, 25))
    refused = risk.check_entry(context(day=new_day, now=kst(7, 0, 5)))[1]
    assert refused.violation_type == "COOLDOWN" and "until 01:25 KST" in refused.description
    assert blocked_by(context(day=new_day, now=kst(7, 1, 24))) == "COOLDOWN"
    assert blocked_by(context(day=new_day, now=kst(7, 1, 25))) is None


def test_the_loss_streak_carries_into_the_next_day():
    day = risk.DayState(starting_equity=D(10**7))
    risk.record_exit(day, D(-1), LIMITS, kst(6, 22))
    risk.record_exit(day, D(-1), LIMITS, kst(6, 23))
    new_day = risk.open_day(risk.kst_day(kst(7, 9)), D(10**7), day, risk.kst_day(kst(6, 23)))
    assert new_day.consecutive_losses == 2 and new_day.cooldown_until is None
    [event] = risk.record_exit(new_day, D(-1), LIMITS, kst(7, 9))  # the third loss in a row
    assert event.violation_type == "COOLDOWN_STARTED" and new_day.cooldown_until == kst(7, 11)


def test_the_daily_counters_and_halt_start_again_at_midnight():
    day = risk.DayState(starting_equity=D(10**7), trade_count=10)
    risk.record_exit(day, D(-600_000), LIMITS, kst(6, 20))
    assert day.is_trading_halted and day.total_pnl == D(-600_000)
    new_day = risk.open_day(risk.kst_day(kst(7, 0, 1)), D(9_400_000), day, risk.kst_day(kst(6, 20)))
    assert (new_day.trade_count, new_day.total_pnl, new_day.is_trading_halted, new_day.halt_reason) == (
        0,
        0,
        False,
        "",
    )
    assert new_day.starting_equity == D(9_400_000)
    assert blocked_by(context(day=new_day, now=kst(7, 0, 1), cash=D(9_400_000))) is None


def test_no_earlier_day_opens_a_fresh_day_and_week():
    day = risk.open_day(risk.kst_day(kst(6, 12)), D(10**7), None, None)
    assert day == risk.DayState(starting_equity=D(10**7), week_starting_equity=D(10**7))


# --- the weekly loss limit ---


def week_day(starting_equity="10000000", **changes) -> risk.DayState:
    return replace(risk.DayState(starting_equity=D(starting_equity)), **changes)


def test_weekly_loss_limit_halts_at_15_percent_of_the_weeks_starting_equity():
    # Thursday: the week began with 10,000,000 KRW and has lost 1,400,000 on earlier days
    day = week_day("8600000", week_starting_equity=D(10**7), week_pnl=D(-1_400_000))
    assert risk.record_exit(day, D(-99_999), LIMITS, kst(3, 10)) == []
    assert not day.is_week_halted and day.week_pnl == D(-1_499_999)
    events = risk.record_exit(day, D(-1), LIMITS, kst(3, 11))
    assert [e.violation_type for e in events] == ["WEEKLY_LOSS_HALT"]
    assert "-1,500,000 KRW" in events[0].description and "Monday 00:00 KST" in events[0].description
    assert day.is_week_halted and not day.is_trading_halted  # 100,000 KRW is not 5 % of today
    assert risk.record_exit(day, D(1), LIMITS, kst(3, 12)) == []  # no second halt event
    refused = risk.check_entry(context(day=day))[1]
    assert refused.violation_type == "WEEKLY_HALTED" and "Monday 00:00 KST" in refused.description


def test_weekly_halt_holds_through_the_week_and_ends_on_monday():
    sunday = week_day(week_starting_equity=D(10**7), week_pnl=D(-1_500_000), is_week_halted=True)
    same_week = risk.open_day(risk.kst_day(kst(6, 0, 0)), D(8_500_000), sunday, risk.kst_day(kst(5, 23)))
    assert same_week.is_week_halted and same_week.week_pnl == D(-1_500_000)
    assert same_week.week_starting_equity == D(10**7)
    assert blocked_by(context(day=same_week, now=kst(6, 23, 59))) == "WEEKLY_HALTED"
    monday = risk.open_day(risk.kst_day(kst(7, 0, 0)), D(8_500_000), same_week, risk.kst_day(kst(6, 23)))
    assert not monday.is_week_halted and monday.week_pnl == 0
    assert monday.week_starting_equity == D(8_500_000)
    assert blocked_by(context(day=monday, now=kst(7, 0, 0), cash=D(8_500_000))) is None


def test_a_gap_of_more_than_a_week_starts_a_new_week():
    old = week_day(week_starting_equity=D(10**7), week_pnl=D(-1_000), consecutive_losses=2)
    later = risk.open_day(risk.kst_day(kst(16, 9)), D(10**7), old, risk.kst_day(kst(2, 9)))  # Wed -> Wed
    assert later.week_pnl == 0 and later.consecutive_losses == 2


def test_weekly_loss_counts_realised_pnl_of_every_day_of_the_week():
    day = risk.open_day(risk.kst_day(kst(1, 9)), D(10**7), None, None)  # Tuesday
    for date_ in (1, 2, 3):
        risk.record_exit(day, D(-400_000), LIMITS, kst(date_, 10))
        day = risk.open_day(
            risk.kst_day(kst(date_ + 1, 9)), day.starting_equity, day, risk.kst_day(kst(date_, 10))
        )
    assert day.week_pnl == D(-1_200_000) and not day.is_week_halted
    events = risk.record_exit(day, D(-300_000), LIMITS, kst(4, 10))
    assert [e.violation_type for e in events] == ["COOLDOWN_STARTED", "WEEKLY_LOSS_HALT"]  # 4th loss
    assert day.is_week_halted and not day.is_trading_halted


# --- the daily limit counting unrealised losses (off by default) ---

MARKED = replace(LIMITS, daily_loss_includes_unrealized=True)


def marked(**changes) -> risk.EntryContext:
    """One position bought for 1,000,000 KRW today, worth `marked_exposure` at the latest close."""
    base = dict(cash=D(9_000_000), exposure=D(1_000_000), open_positions=1, symbol="KRW-ETH")
    return context(**(base | changes))


def test_unrealised_losses_do_not_count_by_default():
    assert not LIMITS.daily_loss_includes_unrealized
    assert blocked_by(marked(marked_exposure=D(0))) is None  # the position is worth nothing


@pytest.mark.parametrize(
    ("cash", "worth", "expected"),
    [
        ("9000000", "500000", "DAILY_LOSS_MARKED"),  # 10.0 M -> 9.5 M: -5 % exactly
        ("9000000", "500001", None),  # just inside
        ("9000000", None, None),  # no price: at cost, no loss
        ("9400000", "100000", "DAILY_LOSS_MARKED"),  # 200,000 realised + 300,000 unrealised
    ],
)
def test_the_daily_limit_can_count_unrealised_losses(cash, worth, expected):
    ctx = marked(cash=D(cash), marked_exposure=None if worth is None else D(worth), limits=MARKED)
    assert blocked_by(ctx) == expected


def test_the_unrealised_refusal_lifts_when_prices_recover():
    assert blocked_by(marked(marked_exposure=D(400_000), limits=MARKED)) == "DAILY_LOSS_MARKED"
    assert blocked_by(marked(marked_exposure=D(900_000), limits=MARKED)) is None
    [_, block] = risk.check_entry(marked(marked_exposure=D(400_000), limits=MARKED))
    assert "600,000 KRW" in block.description and "500,000 KRW" in block.description
