"""The backtester against trades computed by hand on small fixtures, plus its risk limits."""

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal as D

import numpy as np
import pytest

from market import indicators as ind
from trading.backtest import BacktestOptions, run_backtest
from trading.config import default_risk, default_strategy
from trading.strategy import Bars

T0 = int(datetime(2026, 3, 2, 0, 0, tzinfo=UTC).timestamp())  # 09:00 KST: all fixtures fit in one KST day
PARAMS, RISK = default_strategy(), default_risk()
NO_SLIP = BacktestOptions(slippage_bps=D(0), regime="BEAR")
Q8 = D("0.00000001")


class Path:
    """Builds 1m bars: open = previous close unless given, high/low = the body, volume 1."""

    def __init__(self, start: float):
        self.opens, self.closes = [], []
        self.last = start

    def bar(self, close: float, open_: float | None = None) -> "Path":
        self.opens.append(self.last if open_ is None else open_)
        self.closes.append(close)
        self.last = close
        return self

    def decline(self, n: int, step: float = 100) -> "Path":
        for _ in range(n):
            self.bar(self.last - step)
        return self

    def flat(self, n: int) -> "Path":
        for _ in range(n):
            self.bar(self.last)
        return self

    def bars(self) -> Bars:
        o, c = np.array(self.opens), np.array(self.closes)
        ts = T0 + 60 * np.arange(len(c), dtype=np.int64)
        return Bars(ts, o, np.maximum(o, c), np.minimum(o, c), c, np.ones(len(c)))


def setup_bounce() -> Path:
    """40 falling bars from 100,000 (RSI 0), then +400 at bar 40: BEAR entry decided on its close."""
    return Path(100_100).decline(40).bar(96_500)  # closes 100,000 .. 96,100, then 96,500


def test_the_fixture_enters_where_the_hand_computation_says():
    close = setup_bounce().bars().close
    assert ind.rsi(close, 7)[40] == pytest.approx(40.0)  # gain 400/7 vs loss 100*6/7
    assert ind.rsi(close, 14)[40] == pytest.approx(400 / 1700 * 100)


def expected_round_trip(buy: D, sell: D, budget: D = D("500000")):
    qty = (budget / (buy * D("1.0005"))).quantize(Q8, rounding="ROUND_DOWN")
    fee_in = (buy * qty * D("0.0005")).quantize(Q8)
    fee_out = (sell * qty * D("0.0005")).quantize(Q8)
    return qty, sell * qty - fee_out - (buy * qty + fee_in)


def test_take_profit_round_trip_matches_the_hand_computed_trade():
    bars = setup_bounce().bar(96_500).bar(99_000).bar(99_000).flat(2).bars()
    result = run_backtest("KRW-BTC", bars, PARAMS, RISK, NO_SLIP)
    (trade,) = result.trades
    qty, pnl = expected_round_trip(D(96_500), D(99_000))
    assert (trade.entry_index, trade.entry_at, trade.entry_price) == (41, T0 + 41 * 60, D(96_500))
    assert trade.quantity == qty == D("5.17875777")
    assert (trade.exit_index, trade.exit_price, trade.exit_reason) == (43, D(99_000), "TAKE_PROFIT")
    assert trade.pnl == pnl and trade.regime == "BEAR" and trade.hold_hours == pytest.approx(2 / 60)
    assert result.equity[-1] == pytest.approx(10_000_000 + float(pnl))
    assert (
        result.stats["win_rate_pct"] == 100.0 and result.stats["by_exit_reason"]["TAKE_PROFIT"]["count"] == 1
    )


def test_stop_loss_decided_on_the_close_fills_at_the_next_open():
    bars = setup_bounce().bar(96_500).bar(94_500).bar(94_300, open_=94_400).flat(2).bars()
    (trade,) = run_backtest("KRW-BTC", bars, PARAMS, RISK, NO_SLIP).trades
    assert (trade.exit_index, trade.exit_price, trade.exit_reason) == (43, D(94_400), "STOP_LOSS")
    assert trade.pnl == expected_round_trip(D(96_500), D(94_400))[1]


def test_time_limit_exit_after_eight_bear_hours():
    bars = setup_bounce().flat(600).bars()
    (trade,) = run_backtest("KRW-BTC", bars, PARAMS, RISK, NO_SLIP).trades
    # filled at bar 41; the decision at bar j is at ts[j] + 60: first > 8 h at j = 41 + 480
    assert (trade.exit_index, trade.exit_reason) == (41 + 480 + 1, "TIME_LIMIT")


def test_slippage_and_ticks_apply_to_both_fills():
    bars = setup_bounce().bar(96_500).bar(99_000).bar(99_000).flat(2).bars()
    opts = dataclasses.replace(NO_SLIP, slippage_bps=D(10))
    (trade,) = run_backtest("KRW-BTC", bars, PARAMS, RISK, opts).trades
    assert trade.entry_price == D(96_600)  # 96,596.5 rounded up to the 100 tick
    assert trade.exit_price == D(98_900)  # 98,901 rounded down


def test_a_trade_still_open_at_the_end_is_marked_to_market():
    bars = setup_bounce().bar(96_500).bar(96_700).bars()
    result = run_backtest("KRW-BTC", bars, PARAMS, RISK, NO_SLIP)
    (trade,) = result.trades
    assert trade.exit_at is None and result.stats["open_trades"] == 1 and result.stats["trades"] == 0
    assert result.equity[-1] == pytest.approx(10_000_000 - float(trade.cost) + float(trade.quantity) * 96_700)


def two_bounces(second_exit: str) -> Bars:
    """Two setups in the same KST day; the first trade ends by TAKE_PROFIT or STOP_LOSS."""
    path = setup_bounce().bar(96_500)
    path.bar(99_000) if second_exit == "TAKE_PROFIT" else path.bar(94_500)
    path.flat(1).decline(40).bar(path.last + 400).flat(3)
    return path.bars()


def test_second_trade_happens_without_limits():
    assert len(run_backtest("KRW-BTC", two_bounces("TAKE_PROFIT"), PARAMS, RISK, NO_SLIP).trades) == 2
    assert len(run_backtest("KRW-BTC", two_bounces("STOP_LOSS"), PARAMS, RISK, NO_SLIP).trades) == 2


@pytest.mark.parametrize("first_exit", ["TAKE_PROFIT", "STOP_LOSS"])
def test_the_equity_curve_counts_each_fill_from_the_bar_whose_close_first_includes_it(first_exit):
    bars = two_bounces(first_exit)
    result = run_backtest("KRW-BTC", bars, PARAMS, RISK, NO_SLIP)
    cash, held = np.zeros(len(bars)), np.zeros(len(bars))
    for trade in result.trades:
        cash[trade.entry_index] -= float(trade.cost)
        held[trade.entry_index] += float(trade.quantity)
        for sale in trade.exits:
            cash[sale.index] += float(sale.price * sale.quantity - sale.fee)
            held[sale.index] -= float(sale.quantity)
    expected = 10_000_000 + np.cumsum(cash) + np.cumsum(held) * bars.close
    assert len(result.trades) == 2 and result.first == 0
    np.testing.assert_allclose(result.equity, expected, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(result.in_position, np.cumsum(held) > 1e-12)


@pytest.mark.parametrize(
    ("first_exit", "limits", "refusal"),
    [
        ("TAKE_PROFIT", {"max_daily_trades": 1}, "DAILY_TRADE_LIMIT"),
        ("STOP_LOSS", {"consecutive_loss_limit": 1}, "COOLDOWN"),
        ("STOP_LOSS", {"max_daily_loss_pct": D("0.1")}, "TRADING_HALTED"),
        ("TAKE_PROFIT", {"max_position_size_pct": D("0.01")}, "BELOW_MIN_ORDER"),
    ],
)
def test_risk_limits_refuse_entries_like_the_live_risk_manager(first_exit, limits, refusal):
    result = run_backtest(
        "KRW-BTC", two_bounces(first_exit), PARAMS, dataclasses.replace(RISK, **limits), NO_SLIP
    )
    assert refusal in result.stats["blocked_by_risk"]
    assert len(result.trades) == (0 if refusal == "BELOW_MIN_ORDER" else 1)


def test_cooldown_ends_after_its_hours():
    path = setup_bounce().bar(96_500).bar(94_500).flat(130).decline(40)
    bars = path.bar(path.last + 400).flat(3).bars()  # second setup 2 h 50 min after the loss
    risk = dataclasses.replace(RISK, consecutive_loss_limit=1)
    assert len(run_backtest("KRW-BTC", bars, PARAMS, risk, NO_SLIP).trades) == 2


def test_no_entries_before_the_start_or_in_unknown_regime():
    bars = setup_bounce().flat(15).bars()
    # flat bars keep RSI(7) at 40, so bars 41..48 still pass; from bar 49 the dip has left the window
    starts = {41: 1, 48: 1, 49: 0}
    for start, trades in starts.items():
        late = dataclasses.replace(NO_SLIP, start=int(bars.ts[start]))
        assert len(run_backtest("KRW-BTC", bars, PARAMS, RISK, late).trades) == trades
    unknown = run_backtest("KRW-BTC", bars, PARAMS, RISK, BacktestOptions())  # 46 bars: UNKNOWN
    assert unknown.trades == [] and unknown.stats["total_return_pct"] == 0.0
