"""Parity: the live cycle, run bar by bar on a simulated clock, trades exactly like the backtester.

Several independent data sets (the real KRW-BTC minutes in tests/data and synthetic minutes from
bench/synthetic.py with different seeds), all three regimes, and risk limits tight enough that
the daily trade limit, a daily-loss halt, a weekly-loss halt and a cooldown running past KST
midnight happen on the way. Same strategy and risk versions (read from the database, as live),
same fill model. Compared: every entry and exit (time, price, quantity, fee, regime, exit reason,
PnL) and every refusal the backtester makes (time and rule), which the live cycle must record as
a RiskAudit row at the same decision time. The books balance afterwards.

Two ways in:

- `ReplayMarket` (trading/replay.py): candles in memory, the regime forced, an order fills at the
  next bar's open and time: the backtester's default timing.
- `live_market()` (trading/markets.py) exactly as the scheduler builds it: the candles are stored
  in the database and loaded by `live_candles`; the regime is read by `current_regime`, from
  Redis as written by the hourly `update_regimes` each time the simulated clock passes an hour,
  or from its RegimeHistory fallback; bars are claimed in the database; and its quote is the
  latest close at the decision time. That quote cannot be compared with a next-open backtest, and
  swapping it for the replay's quote would leave the one production function that prices orders
  untested. So the backtester is run with `fill_at="close"` (a market order filled at the
  decision bar's close, at that bar's close time), which models the live quote; nothing else
  differs between the two groups of cases, and the bars the backtester reads are loaded from
  the same table by the same function, so both see the very same floats.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from bench.synthetic import synthetic_frame
from conftest import TEST_DATA
from market.candles import CandleRow, load_frames, store_candles
from market.models import RegimeHistory
from market.regime import update_regimes
from trading import risk
from trading.backtest import BacktestOptions, BacktestResult, run_backtest, run_portfolio
from trading.config import (
    load_defaults,
    load_risk,
    load_strategy,
    save_risk_version,
    save_strategy_version,
    strategy_as_dict,
)
from trading.cycle import run_cycle
from trading.executors.paper import PaperExecutor
from trading.markets import live_market
from trading.models import RiskAudit, Trade, TradeMode
from trading.replay import ReplayMarket, replay
from trading.strategy import bars_from_frame
from trading.tests.test_booking import assert_books_balance

SYMBOL = "KRW-BTC"
WARMUP = 1000  # bars before the first decision: the live indicator window
FIRST, LAST = 1000, 4000  # the original case: decision bars of the real file, 50 hours of minutes
EVENTS = {"COOLDOWN_STARTED", "DAILY_LOSS_HALT", "WEEKLY_LOSS_HALT"}  # limit events, not refusals
# Small enough limits that a few days of minutes reach every one of them.
TIGHT = {
    "max_position_size_pct": "10",
    "max_total_exposure_pct": "20",
    "max_daily_loss_pct": "0.5",
    "max_weekly_loss_pct": "1",
    "max_daily_trades": 4,
    "consecutive_loss_limit": 2,
    "cooldown_hours": "6",
}


def at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def kst_index(frame: pd.DataFrame, moment: str) -> int:
    """Position of the first bar at or after a KST wall-clock time."""
    return int(np.searchsorted(frame.index, pd.Timestamp(moment, tz="Asia/Seoul")))


@pytest.fixture(scope="module")
def btc() -> pd.DataFrame:
    frame = pd.read_csv(TEST_DATA / "upbit_krw_btc_1m_20180125.csv", parse_dates=["timestamp"])
    return frame.set_index("timestamp")


def synthetic(seed: int, bars: int, start: str) -> pd.DataFrame:
    """Synthetic minutes at whole-KRW prices (as Upbit quotes BTC), storable without rounding."""
    frame = synthetic_frame(bars, seed=seed, start=start).set_index("timestamp")
    prices = ["open", "high", "low", "close"]
    frame[prices] = frame[prices].round(0)
    frame["high"], frame["low"] = frame[prices].max(axis=1), frame[prices].min(axis=1)
    frame["volume"] = frame["volume"].round(3)
    return frame


@dataclass(frozen=True)
class Case:
    """One data set and regime through one market, with the refusals it must include."""

    regime: str | None  # None: computed from the candles (hourly MA50/MA200)
    risk: dict
    must_refuse: set[str]
    past_midnight: bool = False  # a cooldown that began on one KST day refuses an entry on the next
    must_exit: set[str] = field(default_factory=set)


def use_versions(case: Case) -> None:
    """Trade only KRW-BTC and store the case's risk limits as the active version, as an operator would."""
    save_strategy_version(symbols=[SYMBOL], params=strategy_as_dict(load_strategy())["regimes"])
    save_risk_version(values=load_defaults()["risk"] | case.risk, note="parity case")


def expected_trades(bars, first: int, regime: str | None, fill_at: str = "next_open") -> BacktestResult:
    options = BacktestOptions(
        regime=regime, start=int(bars.ts[first]), slippage_bps=Decimal(5), fill_at=fill_at
    )
    return run_backtest(SYMBOL, bars, load_strategy(), load_risk(), options)


def assert_live_equals_backtest(expected: BacktestResult, case: Case) -> None:
    assert set(expected.blocked) >= case.must_refuse, expected.blocked  # the case still tests them
    assert {t.exit_reason for t in expected.trades} >= case.must_exit
    buys = list(Trade.objects.filter(side="BUY").order_by("executed_at"))
    sells = list(Trade.objects.filter(side="SELL").order_by("executed_at"))
    assert len(buys) == len(expected.trades) > 0
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
    refusals = RiskAudit.objects.exclude(violation_type__in=EVENTS)
    live = set(refusals.values_list("created_at", "violation_type"))
    # the backtester checks the first bar of each refusal and jumps to when it can end; the live
    # cycle refuses on every such bar: the same rules, starting at the same decision times
    assert {(at(t), kind) for t, kind in expected.refusals} <= live
    assert {kind for _, kind in live} == set(expected.blocked)
    if case.past_midnight:
        assert cooldowns_past_midnight(), "no cooldown refused an entry on the KST day after it began"
    assert_books_balance()


def cooldowns_past_midnight() -> list[datetime]:
    """Live COOLDOWN refusals on a later KST day than the COOLDOWN_STARTED event behind them."""
    started = list(
        RiskAudit.objects.filter(violation_type="COOLDOWN_STARTED").values_list("created_at", flat=True)
    )
    crossed = []
    for refused in RiskAudit.objects.filter(violation_type="COOLDOWN").values_list("created_at", flat=True):
        began = max(t for t in started if t <= refused)
        if risk.kst_day(refused) > risk.kst_day(began):
            crossed.append(refused)
    return crossed


def replay_case(frame: pd.DataFrame, case: Case) -> None:
    """The live cycle over ReplayMarket (next-open fills) against the default backtest."""
    use_versions(case)
    bars = bars_from_frame(frame)
    expected = expected_trades(bars, WARMUP, case.regime)
    replay(
        {SYMBOL: frame},
        start=at(int(bars.ts[WARMUP]) + 60),
        end=at(int(bars.ts[-1]) + 61),
        regime=case.regime,
        executor=PaperExecutor(slippage_bps=Decimal(5), mode=TradeMode.REPLAY),
    )
    assert_live_equals_backtest(expected, case)


def real_window(start_kst: str, end_kst: str):
    """The real minutes from a KST time to another, after WARMUP bars of warm-up."""
    return lambda btc: btc.iloc[kst_index(btc, start_kst) - WARMUP : kst_index(btc, end_kst)]


def synthetic_over_monday(seed: int):
    """From Saturday 21:00 KST: 2,500 decisions from Sunday afternoon over Monday 00:00 KST."""
    return lambda btc: synthetic(seed, WARMUP + 2500, "2025-01-04 12:00")


REPLAY_CASES = {
    "real KRW-BTC, SIDEWAYS, default limits": (
        lambda btc: btc.iloc[:LAST],
        Case(
            "SIDEWAYS",
            {},
            {"COOLDOWN", "DAILY_TRADE_LIMIT"},
            must_exit={"STOP_LOSS", "TRAILING_STOP", "TAKE_PROFIT", "RSI_OVERBOUGHT"},
        ),
    ),
    # trade limit Monday, cooldown and daily halt Tuesday, the cooldown still running at
    # Wednesday 00:00, the weekly halt Wednesday morning
    "real KRW-BTC, SIDEWAYS, Monday 00:00 to Wednesday 10:00 KST, tight limits": (
        real_window("2018-01-29 00:00", "2018-01-31 10:00"),
        Case("SIDEWAYS", TIGHT, {"DAILY_TRADE_LIMIT", "COOLDOWN", "TRADING_HALTED", "WEEKLY_HALTED"}, True),
    ),
    "synthetic seed 8, BULL, tight limits": (
        synthetic_over_monday(8),
        Case("BULL", TIGHT, {"TRADING_HALTED", "COOLDOWN"}, True),
    ),
    "synthetic seed 4, BEAR, tight limits": (
        synthetic_over_monday(4),
        Case("BEAR", TIGHT, {"TRADING_HALTED", "COOLDOWN"}, True),
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", REPLAY_CASES)
def test_replayed_live_cycle_trades_exactly_like_the_backtester(name, btc):
    cut, case = REPLAY_CASES[name]
    replay_case(cut(btc), case)


# --- through live_market(): stored candles, Redis / RegimeHistory regimes, latest-close fills ---


def store(frame: pd.DataFrame) -> None:
    rows = [
        CandleRow(SYMBOL, "1m", ts.to_pydatetime(), *(Decimal(repr(float(v))) for v in values), None)
        for ts, values in zip(
            frame.index, frame[["open", "high", "low", "close", "volume"]].to_numpy(), strict=True
        )
    ]
    store_candles(rows)


def live_case(frame: pd.DataFrame, first: int, case: Case) -> None:
    """Store `frame`, run the live cycle at every bar close from `first` on, compare."""
    use_versions(case)
    store(frame)
    stored = load_frames([SYMBOL])[SYMBOL]  # the backtester reads what the cycle will read
    bars = bars_from_frame(stored)
    expected = expected_trades(bars, first, case.regime, fill_at="close")
    if case.regime:  # only the fallback: no Redis key, the latest RegimeHistory row
        RegimeHistory.objects.create(coin_symbol=SYMBOL, regime=case.regime)
    market, executor = live_market(), PaperExecutor(slippage_bps=Decimal(5), mode=TradeMode.REPLAY)
    for i in range(first, len(bars)):
        now = at(int(bars.ts[i]) + 60)
        if case.regime is None and (i == first or now.minute == 0):
            update_regimes([SYMBOL], now)  # the hourly job, at the top of each simulated hour
        run_cycle(now=now, slot=now, market=market, executor=executor, write_status=False, ask_ai=False)
    assert_live_equals_backtest(expected, case)


@pytest.mark.django_db
def test_live_market_with_hourly_regimes_from_redis_trades_like_the_backtester():
    """Synthetic seed 6, 200 hours of history, then 1,000 decisions in which the computed regime
    is BULL, SIDEWAYS and BEAR in turn; tight limits with the daily limit counting unrealised
    losses; a daily halt, then a cooldown that runs past midnight."""
    frame = synthetic(6, 14_000, "2025-01-01 00:00").iloc[:13_000]  # the series depends on its length
    marked = TIGHT | {"daily_loss_includes_unrealized": True}
    case = Case(None, marked, {"TRADING_HALTED", "COOLDOWN"}, True)
    live_case(frame, 12_000, case)
    assert {t.regime for t in Trade.objects.filter(side="BUY")} >= {"BULL", "BEAR"}
    hourly = set(RegimeHistory.objects.values_list("regime", flat=True))  # what the job wrote
    assert hourly >= {"BULL", "SIDEWAYS", "BEAR"}


@pytest.mark.django_db
def test_live_market_with_the_regime_history_fallback_trades_like_the_backtester(btc):
    """The real KRW-BTC minutes, Friday 12:00 to Saturday 14:00 KST, BEAR from RegimeHistory."""
    first, last = kst_index(btc, "2018-01-26 12:00"), kst_index(btc, "2018-01-27 14:00")
    case = Case("BEAR", TIGHT, {"TRADING_HALTED", "COOLDOWN", "DAILY_TRADE_LIMIT"})
    live_case(btc.iloc[first - WARMUP : last], WARMUP, case)


def test_replay_start_is_not_before_the_window_is_warm(btc):
    assert btc.index[FIRST] - btc.index[0] >= timedelta(minutes=FIRST)


# --- every position-management option on, and a portfolio of several symbols at once ---

# Each regime mixes the options differently, so percentage and ATR forms, scale-outs with and
# without break-even, risk sizing and the Kelly cap all trade on the way.
ALL_OPTIONS = {
    "BULL": {
        "partial_tp_1_pct": 0.6, "partial_tp_1_sell_pct": 30, "partial_tp_2_pct": 1.2,
        "partial_tp_2_sell_pct": 30, "breakeven_after_partial": True, "atr_trailing_k": 3,
        "risk_per_trade_pct": 0.1, "kelly_fraction": 0.5, "kelly_trades": 5, "reentry_cooldown_minutes": 20,
    },
    "SIDEWAYS": {
        "atr_stop_k": 4, "atr_take_profit_k": 8, "partial_tp_1_pct": 0.5, "partial_tp_1_sell_pct": 50,
        "partial_tp_2_pct": 0.9, "partial_tp_2_sell_pct": 20, "partial_tp_3_pct": 1.4,
        "partial_tp_3_sell_pct": 20,
        "risk_per_trade_pct": 0.05, "kelly_fraction": 0.25, "kelly_trades": 5, "reentry_cooldown_minutes": 30,
    },
    "BEAR": {
        "atr_stop_k": 3, "atr_trailing_k": 2, "partial_tp_1_pct": 0.7, "partial_tp_1_sell_pct": 40,
        "breakeven_after_partial": True, "risk_per_trade_pct": 0.08, "kelly_fraction": 1, "kelly_trades": 5,
        "reentry_cooldown_minutes": 45,
    },
}  # fmt: skip
LOOSE = {"max_daily_trades": 40, "max_total_exposure_pct": "30", "max_position_size_pct": "10"}


def use_options(symbols: list[str], risk_limits: dict) -> None:
    regimes = strategy_as_dict(load_strategy())["regimes"]
    regimes = {regime: block | ALL_OPTIONS[regime] for regime, block in regimes.items()}
    save_strategy_version(symbols=symbols, params=regimes)
    save_risk_version(values=load_defaults()["risk"] | risk_limits, note="every option on")


def high_now_and_then(frame: pd.DataFrame) -> tuple[tuple[int, bool], ...]:
    """A daily volatility verdict that is high on every other day, as stored fits would give."""
    days = pd.date_range(frame.index[0].floor("D"), frame.index[-1], freq="D")
    return tuple((int(day.timestamp()), i % 2 == 1) for i, day in enumerate(days))


def sales_of(trades) -> list:
    return [(t.symbol, sale) for t in trades for sale in t.exits]


def assert_live_equals_portfolio(expected, symbols: list[str]) -> None:
    """Every buy and every sale (scale-outs included), every refusal, the books balanced."""
    place = {symbol: i for i, symbol in enumerate(symbols)}
    buys = list(Trade.objects.filter(side="BUY").order_by("executed_at", "id"))
    entries = sorted(expected.trades, key=lambda t: (t.entry_at, place[t.symbol]))
    assert len(buys) == len(entries) > 0
    for trade, buy in zip(entries, buys, strict=True):
        assert (buy.symbol, buy.executed_at, buy.price, buy.quantity, buy.fee, buy.regime) == (
            trade.symbol, at(trade.entry_at), trade.entry_price, trade.quantity, trade.entry_fee,
            trade.regime,
        )  # fmt: skip
        assert buy.signal_info["sizing"] == trade.sizing
    sells = list(Trade.objects.filter(side="SELL").order_by("executed_at", "id"))
    sales = sorted(sales_of(expected.trades), key=lambda s: (s[1].at, place[s[0]]))
    assert len(sells) == len(sales)
    for (symbol, sale), sell in zip(sales, sells, strict=True):
        assert (sell.symbol, sell.executed_at, sell.price, sell.quantity, sell.exit_reason) == (
            symbol, at(sale.at), sale.price, sale.quantity, sale.reason,
        )  # fmt: skip
        assert Decimal(sell.signal_info["pnl"]) == sale.pnl.quantize(Decimal("0.00000001"))
    refusals = RiskAudit.objects.exclude(violation_type__in=EVENTS)
    live = set(refusals.values_list("created_at", "symbol", "violation_type"))
    assert {(at(t), symbol, kind) for t, symbol, kind in expected.refusals} <= live
    assert {kind for _, _, kind in live} == set(expected.blocked)
    assert_books_balance()


def option_coverage(expected) -> set[str]:
    """Which options the run exercised (so the case keeps testing them)."""
    seen = {sale.reason for _, sale in sales_of(expected.trades)} | set(expected.blocked)
    for trade in expected.trades:
        seen |= {word for word in ("risk", "Kelly", "ATR", "halved") if word in trade.sizing}
    if RiskAudit.objects.filter(description__contains="by Kelly").exists():  # a cap of 0: no edge
        seen.add("Kelly")
    return seen


OPTION_CASES = {  # regime: the options that regime's block must exercise on the real minutes
    "BULL": {"PARTIAL_TAKE_PROFIT", "risk", "Kelly", "halved"},
    "SIDEWAYS": {"PARTIAL_TAKE_PROFIT", "ATR", "REENTRY_COOLDOWN"},
    "BEAR": {"PARTIAL_TAKE_PROFIT", "ATR", "risk", "halved"},
}


@pytest.mark.django_db
@pytest.mark.parametrize("regime", OPTION_CASES)
def test_every_option_on_one_symbol_trades_exactly_like_the_backtester(regime, btc):
    """The real KRW-BTC minutes in one regime with every option of its block switched on."""
    frame = btc.iloc[:LAST]
    use_options([SYMBOL], LOOSE)
    bars, volatility = bars_from_frame(frame), high_now_and_then(frame)
    first = int(bars.ts[WARMUP])
    options = BacktestOptions(regime=regime, start=first, slippage_bps=Decimal(5), volatility=volatility)
    expected = run_portfolio({SYMBOL: bars}, load_strategy(), load_risk(), options)
    replay(
        {SYMBOL: frame},
        start=at(first + 60),
        end=at(int(bars.ts[-1]) + 61),
        executor=PaperExecutor(slippage_bps=Decimal(5), mode=TradeMode.REPLAY),
        market=ReplayMarket({SYMBOL: frame}, regime, volatility=volatility),
    )
    assert_live_equals_portfolio(expected, [SYMBOL])
    assert option_coverage(expected) >= OPTION_CASES[regime], option_coverage(expected)


@pytest.mark.django_db
def test_a_portfolio_of_three_symbols_trades_exactly_like_the_live_cycle(btc):
    """KRW-BTC's real minutes and two synthetic markets over the same hours, one account, every
    option on, limits tight enough that the symbols compete for positions and exposure."""
    symbols = [SYMBOL, "KRW-ETH", "KRW-XRP"]
    frame = btc.iloc[:2600]
    start = str(frame.index[0].tz_convert(None))
    frames = {
        SYMBOL: frame,
        "KRW-ETH": synthetic(11, len(frame), start),
        "KRW-XRP": synthetic(12, len(frame), start),
    }
    limits = {"max_concurrent_positions": 2, "max_total_exposure_pct": "12", "max_position_size_pct": "8",
              "max_daily_trades": 25, "consecutive_loss_limit": 3, "cooldown_hours": "1"}  # fmt: skip
    use_options(symbols, limits)
    volatility = high_now_and_then(frame)
    bars = {symbol: bars_from_frame(f) for symbol, f in frames.items()}
    first = int(bars[SYMBOL].ts[WARMUP])
    options = BacktestOptions(regime="SIDEWAYS", start=first, slippage_bps=Decimal(5), volatility=volatility)
    expected = run_portfolio(bars, load_strategy(), load_risk(), options)
    replay(
        frames,
        start=at(first + 60),
        end=at(int(bars[SYMBOL].ts[-1]) + 61),
        executor=PaperExecutor(slippage_bps=Decimal(5), mode=TradeMode.REPLAY),
        market=ReplayMarket(frames, "SIDEWAYS", volatility=volatility),
    )
    assert_live_equals_portfolio(expected, symbols)
    assert len({t.symbol for t in expected.trades}) == 3
    covered = option_coverage(expected)
    assert {"MAX_POSITIONS", "PARTIAL_TAKE_PROFIT", "ATR"} <= covered, covered
