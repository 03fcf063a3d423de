"""The columns a study computes once (trading.backtest.prepare) leave every trade as it was: the
same trades, equity and figures with and without them, for parameter sets that move the
indicator windows, switch ATR exits on, force a regime, and for a portfolio of two symbols; one
Prepared shared by every run in turn, as a study's trials share it."""

import numpy as np
import pytest

from bench.synthetic import synthetic_frame
from lab.trials import overlay
from trading.backtest import BacktestOptions, prepare, run_backtest, run_portfolio
from trading.config import TRADING_REGIMES as REGIMES
from trading.config import default_risk, default_strategy
from trading.strategy import bars_from_frame, compute_indicators

DAYS = 14  # longer than the regime's 200 hours: every regime is computed, not forced
SYMBOLS = ["KRW-AAA", "KRW-BBB"]
CHANGES = [
    {},
    {"SIDEWAYS": {"rsi_7_lookback": 25, "bb_touch_lookback": 50, "rsi_14_max": 60}},
    {r: {"rsi_7_lookback": 5, "bb_touch_lookback": 10, "rsi_7_trigger": 25} for r in REGIMES},
    {"BULL": {"atr_stop_k": 2.0, "atr_take_profit_k": 4.0}, "SIDEWAYS": {"atr_trailing_k": 1.5}},
    {"SIDEWAYS": {"rsi_7_lookback": 15, "volume_min_ratio": 0.0, "ma_filter": "above"},
     "BEAR": {"bb_touch_lookback": 20, "risk_per_trade_pct": 1.0, "atr_stop_k": 3.0}},
]  # fmt: skip


@pytest.fixture(scope="module")
def market():
    return {s: bars_from_frame(synthetic_frame(DAYS * 1440, seed=seed)) for seed, s in enumerate(SYMBOLS, 11)}


@pytest.fixture(scope="module")
def base():
    return default_strategy()


def options(market, **changes) -> BacktestOptions:
    first = int(market[SYMBOLS[0]].ts[12_000])  # after the regime's warm-up
    return BacktestOptions(start=first, **changes)


def same_run(a, b) -> None:
    assert a.trades == b.trades  # every field: entries, sizes, scale-outs, exits, PnL
    assert np.array_equal(a.equity, b.equity) and np.array_equal(a.ts, b.ts)
    assert a.blocked == b.blocked and a.refusals == b.refusals
    assert a.stats == b.stats


@pytest.mark.parametrize("forced", ["", "SIDEWAYS"])
def test_one_symbol_trades_the_same_with_the_columns_computed_once(market, base, forced):
    symbol, bars = SYMBOLS[0], market[SYMBOLS[0]]
    shared = prepare(bars, base)
    opts = options(market, regime=forced or None)
    traded = 0
    for changes in CHANGES + CHANGES[::-1]:  # each lookback asked again after others were kept
        params = overlay(base, changes, [symbol])
        plain = run_backtest(symbol, bars, params, default_risk(), opts)
        same_run(run_backtest(symbol, bars, params, default_risk(), opts, prepared=shared), plain)
        traded += len(plain.trades)
    assert traded > 10  # the comparison saw trades
    assert {"rsi7_min_5", "rsi7_min_25", "bb_touch_50", "bb_touch_10"} <= set(shared.lookbacks)


def test_a_portfolio_trades_the_same_with_the_columns_computed_once(market, base):
    shared = {s: prepare(b, base) for s, b in market.items()}
    opts = options(market)
    for changes in CHANGES:
        params = overlay(base, changes, SYMBOLS)
        plain = run_portfolio(market, params, default_risk(), opts)
        again = run_portfolio(market, params, default_risk(), opts, prepared=shared)
        same_run(again, plain)
        assert again.per_symbol == plain.per_symbol


def test_the_prepared_columns_are_the_strategys_own(market, base):
    bars = market[SYMBOLS[0]]
    params = overlay(base, CHANGES[2], [SYMBOLS[0]])
    expected = compute_indicators(bars, params, atr=True)
    got = prepare(bars, base).indicators(params, atr=True)
    assert set(got) == set(expected)
    for name, column in expected.items():
        assert np.array_equal(got[name], column, equal_nan=column.dtype.kind == "f"), name
    assert prepare(bars, base).indicators(params, atr=False)["atr14"] is None


def test_columns_of_other_bars_are_refused(market, base):
    shared = prepare(market[SYMBOLS[0]], base)
    with pytest.raises(ValueError, match="KRW-BBB were computed from other bars"):
        run_backtest(SYMBOLS[1], market[SYMBOLS[1]], base, default_risk(), options(market), prepared=shared)
