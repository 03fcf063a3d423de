"""Backtest statistics on hand-checkable curves, and the live path replaying the backtest's trades."""

import math
from decimal import Decimal as D
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from conftest import TEST_DATA
from trading import performance as perf
from trading import strategy as st
from trading.backtest import BacktestOptions, TradeRecord, run_backtest
from trading.config import default_risk, default_strategy

DAY = 86400
T0 = 1_772_380_800 - 9 * 3600  # 2026-03-02 00:00 KST


def test_max_drawdown():
    assert perf.max_drawdown_pct(np.array([100, 120, 90, 130, 117.0])) == pytest.approx(25.0)
    assert perf.max_drawdown_pct(np.array([100, 101, 102.0])) == 0.0


def test_daily_returns_use_the_last_mark_of_each_kst_day():
    ts = np.array([T0, T0 + 3600, T0 + DAY, T0 + DAY + 60, T0 + 2 * DAY])
    equity = np.array([100, 110, 99, 121, 133.1])
    np.testing.assert_allclose(perf.daily_returns(ts, equity, 100.0), [0.10, 0.10, 0.10])


def test_sharpe_sortino_and_cagr_by_hand():
    r = np.array([0.01, -0.02, 0.03, 0.0])
    assert perf.sharpe(r) == pytest.approx(0.005 / np.std(r, ddof=1) * math.sqrt(365))
    assert perf.sortino(r) == pytest.approx(0.005 / math.sqrt(0.0004 / 4) * math.sqrt(365))
    assert perf.sortino(np.array([0.01, 0.02])) is None  # no losing day: undefined, not infinite
    assert perf.sharpe(np.array([0.01])) is None
    assert perf.cagr_pct(100, 121, 2 * 365.25 * DAY) == pytest.approx(10.0)


def trade(pnl: str, reason: str, regime: str, hours: float) -> TradeRecord:
    t = TradeRecord(0, T0, D(100), D(1), D(0), regime)
    t.close(1, T0 + int(hours * 3600), D(100) + D(pnl), D(0), reason)
    return t


def test_summary_of_a_small_book():
    trades = [
        trade("10", "TAKE_PROFIT", "BULL", 2),
        trade("-5", "STOP_LOSS", "BULL", 1),
        trade("5", "TAKE_PROFIT", "BEAR", 3),
    ]
    ts = T0 + 60 * np.arange(4)
    result = SimpleNamespace(
        options=BacktestOptions(initial_krw=D(1000)), equity=np.array([1000, 1010, 1005, 1010.0]),
        ts=ts, trades=trades, in_position=np.array([1, 1, 0, 0], bool),
        blocked={"COOLDOWN": 2},
    )  # fmt: skip
    s = perf.summarize(result)
    assert s["total_return_pct"] == pytest.approx(1.0) and s["trades"] == 3
    assert s["win_rate_pct"] == pytest.approx(66.67) and s["profit_factor"] == 3.0
    assert s["max_drawdown_pct"] == pytest.approx(5 / 1010 * 100, abs=1e-4)
    assert s["exposure_pct"] == 50.0 and s["avg_hold_hours"] == 2.0
    assert s["by_exit_reason"]["TAKE_PROFIT"] == {
        "count": 2, "win_rate_pct": 100.0, "avg_pnl_pct": 7.5, "total_pnl_krw": 15.0
    }  # fmt: skip
    assert s["by_regime"]["BULL"]["count"] == 2 and s["blocked_by_risk"] == {"COOLDOWN": 2}


def test_live_path_replays_the_backtest_trades_bar_by_bar():
    """Replaying entry_signal/exit_signal one closed bar at a time (the live cycle's calls) gives
    the backtest's decisions: same entry bars, same exit bars and reasons."""
    bars = st.bars_from_frame(pd.read_csv(TEST_DATA / "upbit_krw_btc_1m_20180125.csv"))
    params = default_strategy()
    opts = BacktestOptions(slippage_bps=D(5), regime="SIDEWAYS", start=int(bars.ts[st.LIVE_WINDOW_BARS]))
    result = run_backtest("KRW-BTC", bars, params, default_risk(), opts)
    closed = [t for t in result.trades if t.exit_index is not None]
    assert len(closed) > 10
    for t in closed[:12]:
        decision = t.entry_index - 1
        assert st.entry_signal(_upto(bars, decision), "SIDEWAYS", params).action == "BUY"
        live = st.OpenTrade(float(t.entry_price), "SIDEWAYS", t.entry_at, float(t.entry_price))
        for j in range(t.entry_index, t.exit_index):
            sig = st.exit_signal(_upto(bars, j), live, "SIDEWAYS", params)
            if sig.action == "SELL":
                break
            live = st.OpenTrade(live.avg_price, "SIDEWAYS", live.opened_at, sig.high_water_mark)
        assert (j + 1, sig.exit_reason) == (t.exit_index, t.exit_reason)


def _upto(bars: st.Bars, i: int) -> st.Bars:
    """The live window at bar i's close: the last LIVE_WINDOW_BARS bars up to and including i."""
    lo = max(0, i + 1 - st.LIVE_WINDOW_BARS)
    return st.Bars(
        *(a[lo : i + 1] for a in (bars.ts, bars.open, bars.high, bars.low, bars.close, bars.volume))
    )
