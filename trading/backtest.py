"""Backtester: the live rule functions over a whole series, the paper fill model, the risk limits.

Decisions are made on a bar's close and filled at the next bar's open, or with
`fill_at="close"` at that close and time (a market order placed at the latest close, as the live
market prices it). Entries are evaluated for every bar at once (`strategy.evaluate_entries`); the
loop below visits only the bars where an entry passes, applies the risk limits, fills, then scans
the bars after the fill for the exit (`strategy.scan_exit`). So the Python loop runs per trade,
never per bar. The risk state continues from one KST day to the next as the live rows do
(`risk.open_day`).
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from market.models import Candle
from market.regime import LOOKBACK_HOURS, REGIMES, regime_codes_per_bar

from . import performance, risk
from .config import RiskLimits, StrategyParams
from .fills import BelowMinimumOrder, buy_fill, sell_fill
from .strategy import (
    LIVE_WINDOW_BARS,
    PASS_CODE,
    Bars,
    OpenTrade,
    bars_from_frame,
    compute_indicators,
    evaluate_entries,
    scan_exit,
)

KST_OFFSET = 9 * 3600
DAY = 86400
EPOCH_DAY = date(1970, 1, 1)
FILL_AT = ("next_open", "close")


@dataclass(frozen=True)
class BacktestOptions:
    """Run settings that are not strategy or risk parameters."""

    initial_krw: Decimal = Decimal("10000000")
    slippage_bps: Decimal = Decimal("5")
    start: int | None = None  # epoch seconds of the first decision; earlier bars only warm up
    regime: str | None = None  # force one regime instead of the hourly computation
    fill_at: str = "next_open"  # or "close": fill at the decision bar's close, at its close time


@dataclass
class TradeRecord:
    """One round trip (or an entry still open at the end of the data)."""

    entry_index: int
    entry_at: int
    entry_price: Decimal
    quantity: Decimal
    entry_fee: Decimal
    regime: str
    exit_index: int | None = None
    exit_at: int | None = None
    exit_price: Decimal | None = None
    exit_fee: Decimal = Decimal(0)
    exit_reason: str = ""
    pnl: Decimal = Decimal(0)  # realised KRW profit after both fees (0 while open)
    pnl_pct: float = 0.0

    @property
    def cost(self) -> Decimal:
        return self.entry_price * self.quantity + self.entry_fee

    def close(self, index: int, at: int, price: Decimal, fee: Decimal, reason: str) -> None:
        """Book the exit fill; PnL is realised after both fees."""
        self.exit_index, self.exit_at, self.exit_price, self.exit_fee = index, at, price, fee
        self.exit_reason = reason
        self.pnl = price * self.quantity - fee - self.cost
        self.pnl_pct = float(self.pnl / self.cost * 100)

    @property
    def hold_hours(self) -> float | None:
        return None if self.exit_at is None else (self.exit_at - self.entry_at) / 3600


@dataclass
class BacktestResult:
    symbol: str
    bars: Bars
    first: int  # index of the first decision bar
    equity: np.ndarray  # KRW, marked at each bar's close from `first` on
    in_position: np.ndarray
    trades: list[TradeRecord]
    blocked: dict[str, int]
    regime_codes: np.ndarray
    strategy_version: int
    risk_version: int
    options: BacktestOptions
    stats: dict = field(default_factory=dict)
    refusals: list[tuple[int, str]] = field(default_factory=list)  # (decision epoch s, rule), per episode


class RiskBook:
    """The live risk rules (trading.risk) replayed in the order the backtest's trades happen."""

    def __init__(self, limits: RiskLimits):
        self.limits = limits
        self.day_key: int | None = None
        self.day: risk.DayState | None = None

    def check(self, t: int, cash: Decimal, symbol: str) -> tuple[Decimal, risk.Block | None, int]:
        """(order size, refusal, epoch seconds when the refusal ends) for an entry decided at t.

        Nothing is held when the backtest considers an entry, so the account marked to market
        is its cash (what the live cycle computes too with no open position).
        """
        now = datetime.fromtimestamp(t, UTC)
        day_key = self._day(t, cash)
        ctx = risk.EntryContext(
            symbol=symbol, now=now, cash=cash, exposure=Decimal(0), open_positions=0,
            day=self.day, limits=self.limits, marked_exposure=Decimal(0),
        )  # fmt: skip
        size, block = risk.check_entry(ctx)
        return size, block, self._refused_until(block, t, day_key)

    def _refused_until(self, block: risk.Block | None, t: int, day_key: int) -> int:
        """When a refusal can end; the next candidate bar unless the rule names a time."""
        kind = block.violation_type if block is not None else ""
        if kind == "COOLDOWN":
            return int(self.day.cooldown_until.timestamp())
        if kind in ("TRADING_HALTED", "DAILY_TRADE_LIMIT"):
            return (day_key + 1) * DAY - KST_OFFSET
        if kind == "WEEKLY_HALTED":
            return int(risk.next_kst_monday(datetime.fromtimestamp(t, UTC)).timestamp())
        return t + 1

    def _day(self, t: int, equity: Decimal) -> int:
        day_key = (t + KST_OFFSET) // DAY
        if day_key != self.day_key:  # one DailyRiskState row per KST day, continued as live does
            previous = EPOCH_DAY + timedelta(days=self.day_key) if self.day_key is not None else None
            today = EPOCH_DAY + timedelta(days=day_key)
            self.day_key, self.day = day_key, risk.open_day(today, equity, self.day, previous)
        return day_key

    def record_entry(self) -> None:
        self.day.trade_count += 1

    def record_exit(self, t: int, pnl: Decimal, equity_at_cost: Decimal) -> None:
        self._day(t, equity_at_cost)  # an exit after midnight counts on the new day
        risk.record_exit(self.day, pnl, self.limits, datetime.fromtimestamp(t, UTC))


def find_exit(values, decided, codes, start: int, trade: OpenTrade, params) -> tuple[int, str]:
    """Absolute index of the exit decision at or after `start` (-1 if none before the data ends)."""
    n, size = len(decided), 256  # most trades exit within hours: scan a short prefix first
    close, rsi14 = values["close"], values["rsi14"]
    while True:
        end = min(n, start + size)
        i, reason, _ = scan_exit(
            close[start:end], rsi14[start:end], decided[start:end], codes[start:end], trade, params
        )
        if i >= 0:
            return start + i, reason
        if end == n:
            return -1, ""
        size *= 4


def _codes(bars: Bars, options: BacktestOptions) -> np.ndarray:
    if options.regime:
        return np.full(len(bars), REGIMES.index(options.regime), dtype=np.int8)
    return regime_codes_per_bar(bars.ts, bars.close)


class Filler:
    """Where and when an order decided on bar i fills: the next bar's open, or bar i's close."""

    def __init__(self, bars: Bars, fill_at: str):
        if fill_at not in FILL_AT:
            raise ValueError(f"fill_at must be one of {', '.join(FILL_AT)}, not {fill_at!r}")
        self.bars, self.at_close = bars, fill_at == "close"
        self.shift = 0 if self.at_close else 1

    def index(self, i: int) -> int:
        """The bar whose close first includes the fill (equity curve); == len(bars): none."""
        return i + self.shift

    def price(self, i: int) -> Decimal:
        raw = self.bars.close[i] if self.at_close else self.bars.open[i + 1]
        return Decimal(repr(float(raw)))

    def time(self, i: int) -> int:
        return int(self.bars.ts[i]) + 60 if self.at_close else int(self.bars.ts[i + 1])


def run_backtest(
    symbol: str, bars: Bars, params: StrategyParams, risk_limits: RiskLimits, options: BacktestOptions
) -> BacktestResult:
    """Replay the strategy over `bars`; see the module docstring for the timing rules."""
    values = compute_indicators(bars, params)
    codes = _codes(bars, options)
    decided = bars.ts + 60
    fills = Filler(bars, options.fill_at)
    first = int(np.searchsorted(bars.ts, options.start)) if options.start is not None else 0
    n = len(bars)
    passed = evaluate_entries(values, codes, params)[: n - fills.shift]  # a decision needs its fill bar
    candidates = np.flatnonzero(passed == PASS_CODE)
    candidates = candidates[candidates >= first]
    cash, book = options.initial_krw, RiskBook(risk_limits)
    trades, blocked, refusals = [], {}, []
    cash_delta, qty_delta = np.zeros(n), np.zeros(n)
    allowed = first
    while True:
        pos = int(np.searchsorted(candidates, allowed))
        if pos == len(candidates):
            break
        k = int(candidates[pos])
        size, refusal, until = book.check(int(decided[k]), cash, symbol)
        if refusal is None:
            try:
                buy = buy_fill(
                    krw=size,
                    reference=fills.price(k),
                    slippage_bps=options.slippage_bps,
                    min_order=risk_limits.min_order_krw,
                )
            except BelowMinimumOrder as exc:  # the size passed, the tick-rounded fill did not
                refusal = risk.Block("BELOW_MIN_ORDER", str(exc))
        if refusal is not None:
            blocked[refusal.violation_type] = blocked.get(refusal.violation_type, 0) + 1
            refusals.append((int(decided[k]), refusal.violation_type))
            allowed = max(k + 1, int(np.searchsorted(decided, until)))
            continue
        book.record_entry()
        cash += buy.cash_change
        cash_delta[fills.index(k)] += float(buy.cash_change)
        qty_delta[fills.index(k)] += float(buy.quantity)
        trade = TradeRecord(
            fills.index(k), fills.time(k), buy.price, buy.quantity, buy.fee, str(REGIMES[codes[k]])
        )
        trades.append(trade)
        opened = OpenTrade(float(buy.price), trade.regime, trade.entry_at, float(buy.price))
        j, reason = find_exit(values, decided, codes, k + 1, opened, params)
        if j < 0 or fills.index(j) >= n:
            break  # still open when the data ends: marked to market in the equity curve
        sell = sell_fill(quantity=buy.quantity, reference=fills.price(j), slippage_bps=options.slippage_bps)
        trade.close(fills.index(j), fills.time(j), sell.price, sell.fee, reason)
        # the day's equity as live books it: cash plus the position at cost (its entry fee is spent)
        book.record_exit(trade.exit_at, trade.pnl, equity_at_cost=cash + trade.entry_price * trade.quantity)
        cash += sell.cash_change
        cash_delta[fills.index(j)] += float(sell.cash_change)
        qty_delta[fills.index(j)] -= float(buy.quantity)
        allowed = j + 1
    held = np.cumsum(qty_delta)
    equity = float(options.initial_krw) + np.cumsum(cash_delta) + held * bars.close
    result = BacktestResult(
        symbol, bars, first, equity[first:], held[first:] > 0, trades, blocked, codes,
        params.version, risk_limits.version, options,
    )  # fmt: skip
    result.refusals = refusals
    result.stats = performance.summarize(result)
    return result


def _warmup() -> timedelta:
    return max(timedelta(hours=LOOKBACK_HOURS), timedelta(minutes=LIVE_WINDOW_BARS))


def load_bars(symbol: str, start: datetime, end: datetime) -> tuple[Bars, int]:
    """1m bars of `symbol` in [start, end) plus the warm-up before start; (bars, start seconds).

    The warm-up covers the regime's hourly lookback and the live indicator window, so the first
    decision sees what the live bot would have seen.
    """
    rows = Candle.objects.filter(
        symbol=symbol, interval="1m", timestamp__gte=start - _warmup(), timestamp__lt=end
    ).order_by("timestamp")
    cols = ["timestamp", "open", "high", "low", "close", "volume"]
    df = pd.DataFrame.from_records(rows.values_list(*cols), columns=cols)
    df[cols[1:]] = df[cols[1:]].astype("float64")
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    return bars_from_frame(df), int(start.astimezone(UTC).timestamp())


def load_csv_bars(path: str) -> Bars:
    """Bars from a CSV of `timestamp,open,high,low,close,volume` (timestamps in UTC)."""
    df = pd.read_csv(path)
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    return bars_from_frame(df.sort_values("timestamp"))


def load_sim_bars(symbol: str, start: datetime, end: datetime, seed: int) -> tuple[Bars, int]:
    """Simulated bars (market.sources.simulated, deterministic per seed) with the same warm-up."""
    from market.sources.simulated import EPOCH, day_candles

    first = max(EPOCH, start - _warmup())
    days = range((first - EPOCH).days, (end - EPOCH - timedelta(microseconds=1)).days + 1)
    rows = [r for d in days for r in day_candles(seed, symbol, d) if first <= r["timestamp"] < end]
    df = pd.DataFrame(rows, columns=["timestamp", "open", "high", "low", "close", "volume"])
    df[["open", "high", "low", "close", "volume"]] = df[["open", "high", "low", "close", "volume"]].astype(
        "float64"
    )
    return bars_from_frame(df), int(start.timestamp())
