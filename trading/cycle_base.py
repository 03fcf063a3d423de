"""The bot cycle's vocabulary: where a cycle gets its inputs (`Market`), what its symbols share
(`Context`), what happened to each (`SymbolResult`), and the helpers every decision path uses
(order ids, the high-water mark, the position summary). `cycle` tells the story with these;
`stale` (exits on the ticker while candles are stale) uses them too, without importing `cycle`.
"""

import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import pandas as pd
from prometheus_client import Counter

from core.redis_conn import get_redis
from market.candles import Candles
from market.listing import MarketStatus

from . import booking
from .config import RiskLimits, StrategyParams
from .decided import BarLedger, MemoryLedger
from .executors import Executor
from .models import Position
from .strategy import OpenTrade, Signal

STATUS_KEY = "bot:status:{symbol}"
STATUS_TTL = 300
STALE_AFTER_S = 180  # no new bar for 3 minutes: the data stopped, so does the decision-making
STRATEGY_NAME = "v3.1"
AI_SKIPPED = "AI: not asked (replay of history)"

CYCLE_ACTIONS = Counter("coinpilot_cycle_actions_total", "Bot cycle outcomes per symbol", ["action"])
EXITS = Counter("coinpilot_exits_total", "Exits by reason (stop loss, take profit, ...)", ["reason"])
TRADES = Counter("coinpilot_trade_count_total", "Filled orders", ["side"])
RISK_BLOCKS = Counter("coinpilot_risk_blocks_total", "Entries refused by a risk rule", ["rule"])


@dataclass(frozen=True)
class Quote:
    """Reference price and time of an order placed now (live: the latest close, now; replay:
    the next bar's open and time, as the backtester fills)."""

    price: Decimal
    at: datetime


@dataclass
class Market:
    """Where one cycle gets its inputs (live: database + Redis; replay: in-memory history)."""

    # every symbol's newest bars: column arrays (live), or one frame per symbol (in-memory markets)
    candles: Callable[[list[str], datetime], Candles | Mapping[str, pd.DataFrame]]
    regime: Callable[[str, datetime], str]
    quote: Callable[[str, datetime, pd.DataFrame], "Quote"]  # where an order placed now would fill
    high_volatility: Callable[[], bool] = lambda: False
    # wait until every symbol's bar opened at `expected` is stored, or the deadline (monotonic)
    await_bars: Callable[[list[str], datetime, float], None] = lambda symbols, expected, deadline: None
    ledger: BarLedger = field(default_factory=MemoryLedger)
    # latest trade price per symbol, for exits while candles are stale (trading/stale.py); raises
    # when it cannot ask. No price by default: a replay has no ticker.
    ticker: Callable[[list[str], datetime], dict[str, "Quote"]] = lambda symbols, now: {}
    # each symbol's entry in Upbit's market list (flags, delisting), one query for all; none by
    # default: a replay, and the simulated market, have no such list
    market_status: Callable[[list[str]], dict[str, MarketStatus]] = lambda symbols: {}
    # every symbol's regime in one read, once per cycle (live: one Redis MGET instead of one GET
    # per symbol); without it the cycle asks `regime` per symbol
    regimes: Callable[[list[str], datetime], dict[str, str]] | None = None


@dataclass
class SymbolResult:
    symbol: str
    action: str  # BUY, SELL, HOLD, BLOCKED, VETOED, SKIPPED, ERROR
    reason: str
    detail: str = ""
    price: float | None = None
    regime: str = ""
    indicators: dict = field(default_factory=dict)
    position: dict | None = None


@dataclass
class Context:
    """What every symbol of one cycle shares."""

    now: datetime
    slot: datetime
    strategy: StrategyParams
    limits: RiskLimits
    market: Market
    executor: Executor
    positions: dict[str, Position]
    kill_switch: bool
    high_volatility: bool
    entries_paused: bool = False  # an operator's pause: entries refused, exits run
    write_status: bool = True
    ask_ai: bool = True
    expected_bar: datetime | None = None  # open time of the bar that closed at the last minute
    claimed: set[str] = field(default_factory=set)  # symbols whose expected bar this run decides
    started: float = field(default_factory=time.monotonic)
    reconcile_hold: str = ""  # live: why entries are refused until the books match Upbit
    closes: dict[str, float] = field(default_factory=dict)  # latest close per symbol, this cycle
    candles: Candles | None = None  # this cycle's bars of every symbol (Market.candles)
    indicators: dict[str, dict] = field(default_factory=dict)  # entry indicators, batch-computed
    tickers: tuple[dict[str, Quote], str] | None = None  # stale.py: (prices, why none), asked once
    regimes: dict[str, str] = field(default_factory=dict)  # Market.regimes, read once per cycle
    market_status: dict[str, MarketStatus] = field(default_factory=dict)  # Upbit's flags per symbol
    last_exits: dict[str, datetime] | None = None  # last sale per symbol, read once when needed

    def regime(self, symbol: str) -> str:
        """The symbol's regime this cycle: the batch read when there was one, else per symbol."""
        if symbol in self.regimes:
            return self.regimes[symbol]
        return self.market.regime(symbol, self.now)


class StageTimer:
    """Seconds spent per stage of a cycle, wall and CPU of this process (the benchmark prints them)."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu_seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def stage(self, name: str):
        started, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - started
            self.cpu_seconds[name] += time.process_time() - cpu


def order_id(symbol: str, slot: datetime, side: str) -> str:
    """Deterministic per (symbol, cycle slot, side): a retried cycle cannot trade twice."""
    return f"{symbol}-{slot:%Y%m%dT%H%M}-{side}"


def stored_hwm(position: Position) -> float:
    """The high-water mark of this position, from its row.

    Every rise is written to the row (and copied to Redis for readers), so the row is never
    behind. Redis alone is not trusted: a key left by an earlier position on the same symbol
    (its delete is lost if the process dies right after the commit) would fire a false trailing
    stop on the next one.
    """
    return float(position.high_water_mark)


def save_hwm(position: Position, hwm: float) -> None:
    value = Decimal(str(hwm))
    Position.objects.filter(pk=position.pk, high_water_mark__lt=value).update(high_water_mark=value)
    get_redis().set(booking.hwm_key(position.symbol), booking.decimal_str(value))


def position_summary(position: Position, signal: Signal) -> dict:
    price = Decimal(str(signal.values["close"]))
    return {
        "quantity": booking.decimal_str(position.quantity),
        "avg_price": booking.decimal_str(position.avg_price),
        "unrealized_pnl": booking.decimal_str(position.unrealized_pnl(price).quantize(Decimal(1))),
        "high_water_mark": signal.high_water_mark,
        "regime_at_entry": position.regime,
        "scale_outs_sold": position.partials_taken,  # scale-out levels already sold
    }


def result_of(
    symbol: str, action: str, signal: Signal, regime: str, position: dict | None = None, detail: str = ""
) -> SymbolResult:
    return SymbolResult(
        symbol,
        action,
        signal.reason,
        detail or signal.detail,
        signal.values.get("close"),
        regime,
        signal.values,
        position,
    )


def open_trade(position: Position, hwm: float) -> OpenTrade:
    """What the exit rules read of a stored position (the entry ATR is in its entry signal)."""
    atr = (position.entry_signal or {}).get("atr14")
    return OpenTrade(
        float(position.avg_price),
        position.regime,
        int(position.opened_at.timestamp()),
        hwm,
        entry_atr=float(atr) if isinstance(atr, int | float) else None,
        partials_done=position.partials_taken,
    )
