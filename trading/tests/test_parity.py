"""Parity: the live cycle replayed bar by bar gives exactly the backtester's trades.

Same candles (the real KRW-BTC CSV), same strategy and risk limits, same fill model. The regime
is forced because the file is shorter than the 200 hourly candles the regime needs.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from conftest import TEST_DATA
from trading.backtest import BacktestOptions, run_backtest
from trading.config import default_risk, load_strategy, save_strategy_version, strategy_as_dict
from trading.executors.paper import PaperExecutor
from trading.models import Trade, TradeMode
from trading.replay import replay
from trading.strategy import bars_from_frame
from trading.tests.test_booking import assert_books_balance

FIRST, LAST = 1000, 4000  # decision bars after the indicator warm-up: 50 hours of minutes


@pytest.fixture(scope="module")
def btc() -> pd.DataFrame:
    frame = pd.read_csv(TEST_DATA / "upbit_krw_btc_1m_20180125.csv", parse_dates=["timestamp"])
    return frame.set_index("timestamp").iloc[:LAST]


def at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


@pytest.mark.django_db
def test_replayed_live_cycle_trades_exactly_like_the_backtester(btc):
    regime = "SIDEWAYS"  # on this file: every exit reason, a cooldown and the daily trade limit
    save_strategy_version(symbols=["KRW-BTC"], params=strategy_as_dict(load_strategy())["regimes"])
    bars = bars_from_frame(btc)
    options = BacktestOptions(regime=regime, start=int(bars.ts[FIRST]), slippage_bps=Decimal(5))
    expected = run_backtest("KRW-BTC", bars, load_strategy(), default_risk(), options)
    assert len(expected.trades) >= 20 and set(expected.blocked) == {"COOLDOWN", "DAILY_TRADE_LIMIT"}
    assert {t.exit_reason for t in expected.trades} >= {
        "STOP_LOSS",
        "TRAILING_STOP",
        "TAKE_PROFIT",
        "RSI_OVERBOUGHT",
    }

    start = at(int(bars.ts[FIRST]) + 60)
    replay(
        {"KRW-BTC": btc},
        start=start,
        end=at(int(bars.ts[-1]) + 61),
        regime=regime,
        executor=PaperExecutor(slippage_bps=Decimal(5), mode=TradeMode.REPLAY),
    )

    buys = list(Trade.objects.filter(side="BUY").order_by("executed_at"))
    sells = list(Trade.objects.filter(side="SELL").order_by("executed_at"))
    assert len(buys) == len(expected.trades)
    for trade, buy in zip(expected.trades, buys, strict=True):
        assert (buy.executed_at, buy.price, buy.quantity, buy.fee, buy.regime) == (
            at(trade.entry_at),
            trade.entry_price,
            trade.quantity,
            trade.entry_fee,
            trade.regime,
        )
    closed = [t for t in expected.trades if t.exit_at is not None]
    assert len(sells) == len(closed)
    for trade, sell in zip(closed, sells, strict=True):
        assert (sell.executed_at, sell.price, sell.exit_reason) == (
            at(trade.exit_at),
            trade.exit_price,
            trade.exit_reason,
        )
        assert Decimal(sell.signal_info["pnl"]) == trade.pnl.quantize(Decimal("0.00000001"))
    assert {t.mode for t in buys + sells} == {TradeMode.REPLAY}
    assert_books_balance()


def test_replay_start_is_not_before_the_window_is_warm(btc):
    assert btc.index[FIRST] - btc.index[0] >= timedelta(minutes=FIRST)
