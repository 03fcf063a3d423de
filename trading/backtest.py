"""Backtester: the live rule functions over whole series, the paper fill model, the risk limits.

Decisions are made on a bar's close and filled at the next bar's open, or with
`fill_at="close"` at that close and time (a market order placed at the latest close, as the live
market prices it). Entries are evaluated for every bar at once (`strategy.entry_passes`);
exits and scale-outs are found by scanning the bars after a fill (`strategy.scan_exit`). The
Python loop below runs per event (an entry considered, a sale), never per bar.

One engine replays one symbol or a portfolio: every symbol's next event (its next passing entry
bar, or the next exit of its open position) waits in a queue ordered by decision time and by the
symbol's place in the list, which is the order the live cycle visits symbols in. So entries share
one account and every risk rule exactly as live: cash, the number of positions and the exposure
(an entry earlier in the same minute counts), the day's entries and realised PnL, the halts and
cooldowns, marked to the latest close of each held symbol. The risk state continues from one KST
day to the next as the live rows do (`risk.open_day`). Sizing options, scale-outs, ATR exits and
the re-entry cooldown go through the functions the live cycle calls (`trading.positions`).
"""

import heapq
from bisect import bisect_right
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cached_property

import numpy as np
import pandas as pd

from market import indicators as ind
from market.models import Candle, VolatilityFit
from market.regime import LOOKBACK_HOURS, REGIMES, regime_codes_per_bar

from . import performance, positions, risk
from .config import RiskLimits, StrategyParams
from .fills import BelowMinimumOrder, buy_fill, sell_fill
from .strategy import (
    LIVE_WINDOW_BARS,
    PARTIAL,
    REGIME_NAMES,
    Bars,
    ExitPlan,
    OpenTrade,
    bars_from_frame,
    compute_indicators,
    entry_passes,
    exit_plan,
    scale_out_share,
    scaled_plan,
    scan_exit,
    uses_atr,
)

KST_OFFSET = 9 * 3600
DAY = 86400
EPOCH_DAY = date(1970, 1, 1)
FILL_AT = ("next_open", "close")
PNL_STEP = Decimal("0.00000001")  # the books keep a sale's PnL to 8 decimals
ZERO = Decimal(0)
FIRST_SCAN = 512  # bars scanned for an exit before the window grows (x4 each time, up to the time limit)


@dataclass(frozen=True)
class BacktestOptions:
    """Run settings that are not strategy or risk parameters."""

    initial_krw: Decimal = Decimal("10000000")
    slippage_bps: Decimal = Decimal("5")
    start: int | None = None  # epoch seconds of the first decision; earlier bars only warm up
    regime: str | None = None  # force one regime instead of the hourly computation
    fill_at: str = "next_open"  # or "close": fill at the decision bar's close, at its close time
    # the volatility state's history: (fitted at, epoch s; high?) oldest first. An entry is halved
    # while the newest fit before it says high, as live. Empty: never high.
    volatility: tuple[tuple[int, bool], ...] = ()


@dataclass
class ExitFill:
    """One sale of a position: a scale-out level or the final exit."""

    index: int  # the bar whose close first includes the fill
    at: int  # fill time, epoch seconds
    price: Decimal
    quantity: Decimal
    fee: Decimal
    reason: str
    pnl: Decimal  # after this sale's fee and its share of the entry fee
    pnl_pct: float
    entry_fee_share: Decimal = Decimal(0)  # the part of the entry fee this sale carries


@dataclass
class TradeRecord:
    """One position from entry to its final exit (or still open at the end of the data)."""

    entry_index: int
    entry_at: int
    entry_price: Decimal
    quantity: Decimal
    entry_fee: Decimal
    regime: str
    symbol: str = ""
    size: risk.Size | None = None  # the entry's size and how it was chosen (`sizing`)
    exits: list[ExitFill] = field(default_factory=list)  # scale-outs, then the final exit
    exit_index: int | None = None
    exit_at: int | None = None
    exit_price: Decimal | None = None
    exit_fee: Decimal = Decimal(0)
    exit_reason: str = ""
    pnl: Decimal = Decimal(0)  # realised KRW profit of all sales after every fee (0 while open)
    pnl_pct: float = 0.0

    @property
    def sizing(self) -> str:
        """How the size was chosen, as the live trade's signal info says it (put into words only
        when read: most backtested trades never are)."""
        return self.size.reason if self.size is not None else ""

    @property
    def cost(self) -> Decimal:
        return self.entry_price * self.quantity + self.entry_fee

    @property
    def held(self) -> Decimal:
        """Quantity not sold yet."""
        if not self.exits:
            return self.quantity
        return self.quantity - sum((e.quantity for e in self.exits), Decimal(0))

    @property
    def fee_left(self) -> Decimal:
        """The entry fee not yet charged to a sale."""
        if not self.exits:
            return self.entry_fee
        return self.entry_fee - sum((e.entry_fee_share for e in self.exits), Decimal(0))

    @property
    def partials(self) -> list[ExitFill]:
        return self.exits[:-1] if self.exit_at is not None else list(self.exits)

    def sell(
        self, index: int, at: int, price: Decimal, quantity: Decimal, fee: Decimal, reason: str
    ) -> ExitFill:
        """Book a sale of `quantity` (FIFO against the one lot); the last one closes the trade."""
        held = self.held
        fee_share = positions.entry_fee_share(self.fee_left, held, quantity)
        pnl = (price - self.entry_price) * quantity - fee - fee_share
        cost = self.entry_price * quantity + fee_share
        pct = float(pnl / cost * 100) if cost else 0.0
        sale = ExitFill(index, at, price, quantity, fee, reason, pnl, pct, fee_share)
        self.exits.append(sale)
        if quantity >= held:
            self.exit_index, self.exit_at, self.exit_price, self.exit_fee = index, at, price, fee
            self.exit_reason = reason
            if len(self.exits) == 1:  # sold at once: the sale's PnL and cost are the trade's
                self.pnl, self.pnl_pct = ZERO + pnl, pct
            else:
                self.pnl = sum((e.pnl for e in self.exits), ZERO)
                self.pnl_pct = float(self.pnl / self.cost * 100)
        return sale

    def close(self, index: int, at: int, price: Decimal, fee: Decimal, reason: str) -> None:
        """Book the exit fill of everything held; PnL is realised after both fees."""
        self.sell(index, at, price, self.held, fee, reason)

    def booked_return(self) -> Decimal:
        """The round trip's return as the live books compute it (each sale's PnL to 8 decimals)."""
        booked = sum((e.pnl.quantize(PNL_STEP) for e in self.exits), Decimal(0))
        return positions.round_trip_return(booked, self.cost)

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

    @property
    def ts(self) -> np.ndarray:
        return self.bars.ts[self.first :]


@dataclass
class PortfolioResult:
    """Several symbols traded from one account: the whole portfolio and each symbol's share."""

    symbols: list[str]
    ts: np.ndarray  # bar opens of every symbol, merged, from the first decision on
    equity: np.ndarray  # KRW, marked at each of those times
    exposure_pct: np.ndarray  # open positions at the latest closes, % of equity
    in_position: np.ndarray
    trades: list[TradeRecord]  # every symbol's, by entry time
    blocked: dict[str, int]
    refusals: list[tuple[int, str, str]]  # (decision epoch s, symbol, rule), per episode
    results: dict[str, BacktestResult]  # per symbol: its bars, regimes, trades and refusals
    strategy_version: int
    risk_version: int
    options: BacktestOptions
    stats: dict = field(default_factory=dict)
    per_symbol: dict[str, dict] = field(default_factory=dict)


class RiskBook:
    """The live risk rules (trading.risk) replayed in the order the backtest's events happen."""

    def __init__(self, limits: RiskLimits):
        self.limits = limits
        self.day_key: int | None = None
        self.day: risk.DayState | None = None

    def refused_until(self, block: risk.Block | None, t: int, ctx: risk.EntryContext) -> int:
        """When a refusal can end; the next candidate bar unless the rule names a time."""
        kind = block.violation_type if block is not None else ""
        if kind == "COOLDOWN":
            return int(self.day.cooldown_until.timestamp())
        if kind == "REENTRY_COOLDOWN":
            return int(ctx.reentry_until.timestamp())
        if kind in ("TRADING_HALTED", "DAILY_TRADE_LIMIT"):
            return (self.day_key + 1) * DAY - KST_OFFSET
        if kind == "WEEKLY_HALTED":
            return int(risk.next_kst_monday(datetime.fromtimestamp(t, UTC)).timestamp())
        return t + 1

    def new_day(self, t: int) -> bool:
        """Whether time t opens a new KST day (the day's starting equity is read then)."""
        return (t + KST_OFFSET) // DAY != self.day_key

    def open(self, t: int, equity: Decimal | None) -> risk.DayState:
        day_key = (t + KST_OFFSET) // DAY
        if day_key != self.day_key:  # one DailyRiskState row per KST day, continued as live does
            previous = EPOCH_DAY + timedelta(days=self.day_key) if self.day_key is not None else None
            today = EPOCH_DAY + timedelta(days=day_key)
            self.day_key, self.day = day_key, risk.open_day(today, equity, self.day, previous)
        return self.day

    def record_entry(self) -> None:
        self.day.trade_count += 1

    def record_exit(self, t: int, now: datetime, pnl: Decimal, equity_at_cost: Decimal | None) -> None:
        """An exit at t (`now`: the same instant as a datetime); `equity_at_cost`: the day's starting
        equity when t opens a new day (`new_day`)."""
        self.open(t, equity_at_cost)  # an exit after midnight counts on the new day
        risk.record_exit(self.day, pnl, self.limits, now)


def find_exit(
    values, decided, codes, start: int, trade: OpenTrade, params, plan: ExitPlan | None = None
) -> tuple[int, str, float, int]:
    """The next exit or scale-out decision at or after `start`: (absolute index or -1, reason,
    high-water mark at that bar, scale-out levels crossed). `codes`: the regime code of each bar,
    or one code for all of them; `plan`: `exit_plan(trade, params)`."""
    n, size = len(decided), FIRST_SCAN  # most trades exit within hours: scan a short prefix first
    close, rsi14, atr14 = values["close"], values["rsi14"], values["atr14"]
    plan = plan or exit_plan(trade, params)
    late = int(decided.searchsorted(plan.late_after, side="right"))  # the first bar past the time limit
    last = min(n, max(start, late) + 1)  # the time limit fires at the latest there: no scan goes past it
    while True:
        end = min(last, start + size)
        i, reason, hwm, crossed = scan_exit(
            close[start:end], rsi14[start:end], decided[start:end],
            codes if isinstance(codes, int) else codes[start:end], trade, params,
            None if atr14 is None else atr14[start:end], plan, max(late - start, 0),
        )  # fmt: skip
        if i >= 0:
            return start + i, reason, hwm, crossed
        if end == last:
            return -1, "", 0.0, 0
        trade = replace(trade, high_water_mark=hwm)
        start, size = end, size * 4


def _codes(bars: Bars, options: BacktestOptions, prepared: "Prepared | None" = None) -> np.ndarray:
    if options.regime:
        return np.full(len(bars), REGIMES.index(options.regime), dtype=np.int8)
    if prepared is not None:
        return prepared.codes
    return regime_codes_per_bar(bars.ts, bars.close)


# The indicator columns whose window a strategy parameter sets (`compute_indicators` names them
# prefix + lookback), computed from the fixed columns: what `Prepared` adds per lookback.
LOOKBACK_COLUMNS = {
    "rsi7_min_": lambda bars, values, n: ind.rsi_short_min_lookback(values["rsi7"], n),
    "bb_touch_": lambda bars, values, n: ind.bb_touch_recovery(bars.low, bars.close, values["bb_lower"], n),
}
MAX_KEPT_LOOKBACKS = 12  # lookback columns kept per symbol (the default search: 6 + 6; a year: 4 MB each)


@dataclass
class Prepared:
    """The columns of one symbol's bars that no strategy parameter changes, computed once by
    `prepare` and shared by every backtest of the very same bars (a study's trials): the
    indicators with fixed windows (RSI(14), RSI(7), the Bollinger bands and MA20, the volume
    ratio, ATR(14)), the hourly regime per bar, and the columns whose window a parameter sets
    (RSI(7)'s minimum, the band touch), kept per lookback as the backtests ask for them. A
    backtest given it decides and trades exactly as without it."""

    bars: Bars
    values: dict[str, np.ndarray]
    codes: np.ndarray  # the hourly regime per bar (a forced regime is applied per run)
    lookbacks: dict[str, np.ndarray] = field(default_factory=dict)

    def indicators(self, params: StrategyParams, atr: bool) -> dict[str, np.ndarray]:
        """`compute_indicators(bars, params, atr=atr)`, from the columns computed once."""
        out = dict(self.values)
        if not atr:
            out["atr14"] = None
        for p in params.regimes.values():
            for prefix, lookback in (("rsi7_min_", p.rsi_7_lookback), ("bb_touch_", p.bb_touch_lookback)):
                out.setdefault(f"{prefix}{lookback}", self.lookback_column(prefix, lookback))
        return out

    def lookback_column(self, prefix: str, lookback: int) -> np.ndarray:
        name = f"{prefix}{lookback}"
        column = self.lookbacks.get(name)
        if column is None:
            column = LOOKBACK_COLUMNS[prefix](self.bars, self.values, lookback)
            if len(self.lookbacks) < MAX_KEPT_LOOKBACKS:
                self.lookbacks[name] = column
        return column

    def check(self, symbol: str, bars: Bars) -> None:
        """Refuse columns computed from other bars (they would decide on another market)."""
        same = self.bars is bars or (
            len(self.bars) == len(bars) and np.array_equal(self.bars.ts, bars.ts)
            and np.array_equal(self.bars.close, bars.close)
        )  # fmt: skip
        if not same:
            raise ValueError(f"the prepared columns of {symbol} were computed from other bars")


def prepare(bars: Bars, params: StrategyParams) -> Prepared:
    """The columns of `bars` that every backtest of them shares, whatever its parameters
    (`params`' lookbacks are kept too: the backtests usually start from them)."""
    computed = compute_indicators(bars, params, atr=True)
    lookbacks = {name: v for name, v in computed.items() if name.startswith(tuple(LOOKBACK_COLUMNS))}
    values = {name: v for name, v in computed.items() if name not in lookbacks}
    return Prepared(bars, values, regime_codes_per_bar(bars.ts, bars.close), lookbacks)


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
        raw = self.bars.close.item(i) if self.at_close else self.bars.open.item(i + 1)
        return Decimal(repr(raw))

    def time(self, i: int) -> int:
        return int(self.bars.ts[i]) + 60 if self.at_close else int(self.bars.ts[i + 1])


class SymbolRun:
    """One symbol's arrays and open position during a run."""

    def __init__(
        self, symbol: str, place: int, bars: Bars, params: StrategyParams, options: BacktestOptions,
        prepared: Prepared | None = None,
    ):  # fmt: skip
        self.symbol, self.place, self.bars = symbol, place, bars
        if prepared is None:
            self.values = compute_indicators(bars, params, atr=uses_atr(params))
        else:
            prepared.check(symbol, bars)
            self.values = prepared.indicators(params, atr=uses_atr(params))
        self.codes = _codes(bars, options, prepared)
        # what the exit scan looks the stop up by: one code when every bar has the same (a forced
        # regime, or data that never left one), else each bar's (as intp: it indexes a table 3x
        # faster than the int8 codes)
        one_regime = self.codes.min() == self.codes.max()
        self.exit_codes = int(self.codes[0]) if one_regime else self.codes.astype(np.intp)
        self.decided = bars.ts + 60
        self.fills = Filler(bars, options.fill_at)
        n = len(bars)
        self.first = int(np.searchsorted(bars.ts, options.start)) if options.start is not None else 0
        candidates = entry_passes(self.values, self.codes, params)
        # from the first decision on; an entry needs its fill bar
        self.candidates = candidates[(candidates >= self.first) & (candidates < n - self.fills.shift)]
        self.booked: list[tuple[int, float, float]] = []  # (bar, KRW, quantity) of each fill, by time
        self.trades: list[TradeRecord] = []
        self.refusals: list[tuple[int, str]] = []
        self.trade: TradeRecord | None = None  # the open position
        self.state: OpenTrade | None = None  # what its exit rules read
        self.cursor = self.allowed = self.first
        self.last_exit: datetime | None = None  # when the last position was sold
        self.returns: dict[str, list[Decimal]] = {}  # booked round-trip returns per entry regime
        self.kelly: dict[str, tuple[int, tuple]] = {}  # per regime: (returns seen, Kelly cap)
        self.changes: np.ndarray | None = None  # bars where the regime changes (computed on demand)
        self.generation = 0  # of its queued event: a newer one supersedes it
        self.unit_plans: dict[tuple[str, int], ExitPlan] = {}
        regimes = params.regimes.values()
        self.atr_exits = any(r.atr_stop_k is not None or r.atr_take_profit_k is not None for r in regimes)

    def next_event(self, params: StrategyParams) -> tuple | None:
        """(decision time, place, kind, bar, exit details) of this symbol's next event, or None."""
        if self.trade is not None:
            j, reason, hwm, crossed = find_exit(
                self.values, self.decided, self.exit_codes, self.cursor, self.state, params,
                self.exit_plan(self.state, params),
            )  # fmt: skip
            if j < 0 or self.fills.index(j) >= len(self.bars):
                return None  # still open when the data ends: marked to market in the equity curve
            return int(self.decided[j]), self.place, 1, j, (reason, hwm, crossed)
        pos = int(self.candidates.searchsorted(self.allowed))
        if pos == len(self.candidates):
            return None
        k = int(self.candidates[pos])
        return int(self.decided[k]), self.place, 0, k, None

    @cached_property
    def deltas(self) -> tuple[np.ndarray, np.ndarray]:
        """(KRW, quantity) each bar's fills changed, summed in the order they were booked: read once
        the run is over."""
        cash, quantity = np.zeros(len(self.bars)), np.zeros(len(self.bars))
        if self.booked:
            booked = np.array(self.booked)
            at = booked[:, 0].astype(np.intp)
            np.add.at(cash, at, booked[:, 1])
            np.add.at(quantity, at, booked[:, 2])
        return cash, quantity

    def exit_plan(self, trade: OpenTrade, params: StrategyParams) -> ExitPlan:
        """`exit_plan(trade, params)`, scaled from the plan of a position bought at 1.0 in the same
        regime with the same scale-outs sold (made once per run) unless its ATR sets an exit price."""
        if self.atr_exits and trade.entry_atr is not None:
            return exit_plan(trade, params)
        key = (trade.entry_regime, trade.partials_done)
        if key not in self.unit_plans:
            unit = OpenTrade(1.0, trade.entry_regime, 0, 1.0, None, trade.partials_done)
            self.unit_plans[key] = exit_plan(unit, params)
        return scaled_plan(self.unit_plans[key], trade)

    def atr_at(self, k: int) -> float | None:
        """ATR(14) at bar k, None where unknown (or not computed: no option reads it)."""
        atr = self.values["atr14"]
        return None if atr is None or np.isnan(atr[k]) else float(atr[k])

    def regime_change_after(self, k: int) -> int:
        """The first bar after k in another regime (len(bars) if none)."""
        if self.changes is None:
            self.changes = np.flatnonzero(np.diff(self.codes)) + 1
        pos = int(np.searchsorted(self.changes, k, side="right"))
        return int(self.changes[pos]) if pos < len(self.changes) else len(self.bars)

    def kelly_cap(self, p, regime: str, returns: list[Decimal]) -> tuple:
        """The Kelly cap of this regime's record, computed again only when a trade closed (a
        no-edge record refuses every candidate bar, each of which asks)."""
        seen, cap = self.kelly.get(regime, (-1, ()))
        if seen != len(returns):
            cap = positions.kelly_cap(p, returns)
            self.kelly[regime] = (len(returns), cap)
        return cap

    def close_at(self, t: int) -> float | None:
        """The close of the newest bar closed by decision time t (what the cycle loaded)."""
        i = int(np.searchsorted(self.bars.ts, t - 60, side="right")) - 1
        return float(self.bars.close[i]) if i >= 0 else None


class Portfolio:
    """The one account every symbol of a run trades from."""

    def __init__(self, runs: list[SymbolRun], params, limits: RiskLimits, options: BacktestOptions):
        self.runs, self.params, self.limits, self.options = runs, params, limits, options
        self.cash, self.book = options.initial_krw, RiskBook(limits)
        self.blocked: dict[str, int] = {}
        self.refusals: list[tuple[int, str, str]] = []
        self.vol_times = [t for t, _ in options.volatility]
        self.parked: set[int] = set()  # places of symbols skipping a no-edge Kelly episode
        self.kelly = any(p.kelly_fraction is not None for p in params.regimes.values())

    def run(self) -> None:
        self.queue: list[tuple] = []
        for run in self.runs:
            self.schedule(run)
        while self.queue:
            t, place, kind, i, generation, details = heapq.heappop(self.queue)
            run = self.runs[place]
            if generation != run.generation:
                continue  # superseded: a parked symbol was called back earlier
            if kind == 0:
                traded = self.consider_entry(run, i, t)
            else:
                self.sell(run, i, *details)
                traded = True
            self.schedule(run)
            if traded and self.parked:
                self.call_back(t, place)

    def schedule(self, run: SymbolRun) -> None:
        """Queue the symbol's next event (replacing any it had)."""
        run.generation += 1
        event = run.next_event(self.params)
        if event is not None:
            t, place, kind, i, details = event
            heapq.heappush(self.queue, (t, place, kind, i, run.generation, details))

    def park(self, run: SymbolRun, until: int, ctx: risk.EntryContext) -> None:
        """Skip the candidate bars of a refusal that nothing but a trade can end before bar
        `until` (the live cycle refuses each of them the same way): a full house of positions
        (MAX_POSITIONS, until a sale), a Kelly cap of 0 (until the regime changes, or a trade).
        Only a trade can make an earlier rule refuse first (the cycle would record that rule), so a
        trade anywhere calls the symbol back. Not while the daily limit counts held positions at
        market, which moves without trades."""
        if self.limits.daily_loss_includes_unrealized and ctx.open_positions:
            return
        run.allowed = max(run.allowed, until)
        self.parked.add(run.place)

    def call_back(self, t: int, trader: int) -> None:
        """After a trade at t, parked symbols look again from their next decision: at t itself
        when the cycle visits them after the symbol that traded."""
        for place in list(self.parked):
            if place == trader:
                continue
            run = self.runs[place]
            run.allowed = int(np.searchsorted(run.decided, t, side="left" if place > trader else "right"))
            self.parked.discard(place)
            self.schedule(run)

    def held(self) -> list[SymbolRun]:
        return [r for r in self.runs if r.trade is not None]

    def exposure_at_cost(self, held: list[SymbolRun] | None = None) -> Decimal:
        runs = self.held() if held is None else held
        return sum((r.trade.held * r.trade.entry_price for r in runs), ZERO)

    def high_volatility(self, t: int) -> bool:
        """Whether the volatility state in force at t says high."""
        i = bisect_right(self.vol_times, t) - 1
        return i >= 0 and self.options.volatility[i][1]

    def entry_context(self, run: SymbolRun, k: int, t: int) -> risk.EntryContext:
        held = self.held()
        exposure, marked = self.exposure_at_cost(held), ZERO
        for other in held:
            close = other.close_at(t)
            price = Decimal(str(close)) if close is not None else other.trade.entry_price
            marked += other.trade.held * price
        regime = REGIME_NAMES[run.codes[k]]
        p = self.params.for_regime(regime)
        return risk.EntryContext(
            symbol=run.symbol, now=datetime.fromtimestamp(t, UTC), cash=self.cash, exposure=exposure,
            open_positions=len(held), day=self.book.open(t, self.cash + exposure), limits=self.limits,
            high_volatility=self.high_volatility(t),
            held_symbols=frozenset(r.symbol for r in held), marked_exposure=marked,
            sizing=self.sizing(run, k, regime, p), reentry_until=positions.reentry_until(p, run.last_exit),
        )  # fmt: skip

    def sizing(self, run: SymbolRun, k: int, regime: str, p) -> risk.Sizing | None:
        """The entry's sizing options (`positions.entry_sizing`), None at once when they are off."""
        if p.risk_per_trade_pct is None and p.kelly_fraction is None:
            return None
        returns = run.returns.get(regime, [])
        kelly = run.kelly_cap(p, regime, returns)
        return positions.entry_sizing(p, float(run.values["close"][k]), run.atr_at(k), returns, kelly=kelly)

    def consider_entry(self, run: SymbolRun, k: int, t: int) -> bool:
        """Check and fill an entry decided at bar k (time t); True when it bought."""
        self.parked.discard(run.place)
        ctx = self.entry_context(run, k, t)
        size, refusal = risk.decide_entry(ctx, explain=False)
        if refusal is None:
            try:
                buy = buy_fill(
                    krw=size.krw,
                    reference=run.fills.price(k),
                    slippage_bps=self.options.slippage_bps,
                    min_order=self.limits.min_order_krw,
                )
            except BelowMinimumOrder as exc:  # the size passed, the tick-rounded fill did not
                refusal = risk.Block("BELOW_MIN_ORDER", str(exc))
        if refusal is not None:
            self.blocked[refusal.violation_type] = self.blocked.get(refusal.violation_type, 0) + 1
            self.refusals.append((t, run.symbol, refusal.violation_type))
            run.refusals.append((t, refusal.violation_type))
            until = self.book.refused_until(refusal, t, ctx)
            run.allowed = max(k + 1, int(np.searchsorted(run.decided, until)))
            if refusal.violation_type == "MAX_POSITIONS":
                self.park(run, len(run.bars), ctx)
            elif refusal.violation_type == "BELOW_MIN_ORDER" and ctx.sizing and ctx.sizing.kelly_cap_pct == 0:
                self.park(run, run.regime_change_after(k), ctx)
            return False
        self.book.record_entry()
        change = buy.cash_change
        self.cash += change
        at = run.fills.index(k)
        run.booked.append((at, float(change), float(buy.quantity)))
        regime = REGIME_NAMES[run.codes[k]]
        trade = TradeRecord(at, run.fills.time(k), buy.price, buy.quantity, buy.fee, regime, run.symbol, size)
        run.trades.append(trade)
        run.trade, run.cursor = trade, k + 1
        price = float(buy.price)
        run.state = OpenTrade(price, regime, trade.entry_at, price, run.atr_at(k))
        return True

    def sell(self, run: SymbolRun, j: int, reason: str, hwm: float, crossed: int) -> None:
        trade, state, fills = run.trade, run.state, run.fills
        price, held = fills.price(j), trade.held
        quantity = held
        if reason == PARTIAL:
            quantity = positions.scale_out_quantity(
                initial=trade.quantity, held=held, share_pct=scale_out_share(self.params, state, crossed),
                price=price, min_order=self.limits.min_order_krw,
            )  # fmt: skip
        fill = sell_fill(quantity=quantity, reference=price, slippage_bps=self.options.slippage_bps)
        at, index = fills.time(j), fills.index(j)
        # the day's equity as live books it: cash plus the positions at cost (entry fees are spent)
        equity_at_cost = self.cash + self.exposure_at_cost() if self.book.new_day(at) else None
        sale = trade.sell(index, at, fill.price, quantity, fill.fee, reason)
        when = datetime.fromtimestamp(at, UTC)
        self.book.record_exit(at, when, sale.pnl, equity_at_cost)
        change = fill.cash_change
        self.cash += change
        run.booked.append((index, float(change), -float(quantity)))
        if trade.exit_at is None:  # a scale-out: the rest stays open with its high-water mark
            run.state = replace(state, high_water_mark=hwm, partials_done=state.partials_done + crossed)
            run.cursor = j + 1
            return
        if self.kelly:  # the Kelly cap's record (nothing else reads it)
            run.returns.setdefault(trade.regime, []).append(trade.booked_return())
        run.trade = run.state = None
        run.last_exit, run.allowed = when, j + 1


def run_portfolio(
    bars: dict[str, Bars],
    params: StrategyParams,
    risk_limits: RiskLimits,
    options: BacktestOptions,
    prepared: dict[str, Prepared] | None = None,
) -> PortfolioResult:
    """Replay the strategy over every symbol at once from one account (symbols in the order given,
    which is the order the live cycle visits them in: the strategy's list). `prepared`: each
    symbol's `prepare(bars[symbol], ...)`, shared by many runs over the same bars."""
    empty = [symbol for symbol, b in bars.items() if len(b) == 0]
    if empty or not bars:
        raise ValueError(f"no bars to backtest for {', '.join(empty) or 'any symbol'}")
    portfolio = _replay(bars, params, risk_limits, options, prepared)
    runs = portfolio.runs
    grid = runs[0].bars.ts if len(runs) == 1 else np.unique(np.concatenate([r.bars.ts for r in runs]))
    cash, marked = np.zeros(len(grid)), np.zeros(len(grid))
    for r in runs:
        cash_delta, qty_delta = r.deltas
        cash[np.searchsorted(grid, r.bars.ts)] += cash_delta
        mark = np.cumsum(qty_delta) * r.bars.close
        latest = np.searchsorted(r.bars.ts, grid, side="right") - 1  # forward-filled onto the grid
        marked += np.where(latest >= 0, mark[np.maximum(latest, 0)], 0.0)
    equity = float(options.initial_krw) + np.cumsum(cash) + marked
    first = int(np.searchsorted(grid, options.start)) if options.start is not None else 0
    with np.errstate(invalid="ignore", divide="ignore"):
        exposure = np.where(equity > 0, marked / equity * 100, 0.0)
    results = {r.symbol: _symbol_result(r, params, risk_limits, options) for r in runs}
    trades = sorted((t for r in runs for t in r.trades), key=lambda t: t.entry_at)  # stable: list order
    result = PortfolioResult(
        [r.symbol for r in runs], grid[first:], equity[first:], exposure[first:], marked[first:] > 0,
        trades, portfolio.blocked, portfolio.refusals, results, params.version, risk_limits.version, options,
    )  # fmt: skip
    result.stats = performance.summarize(result)
    result.per_symbol = {s: performance.trade_stats(r.trades, r.blocked) for s, r in results.items()}
    return result


def _replay(
    bars: dict[str, Bars], params, risk_limits: RiskLimits, options: BacktestOptions, prepared=None
) -> Portfolio:
    prepared = prepared or {}
    runs = [
        SymbolRun(symbol, place, b, params, options, prepared.get(symbol))
        for place, (symbol, b) in enumerate(bars.items())
    ]
    portfolio = Portfolio(runs, params, risk_limits, options)
    portfolio.run()
    return portfolio


def _symbol_result(run: SymbolRun, params, limits: RiskLimits, options: BacktestOptions) -> BacktestResult:
    """One symbol of a run on its own bars (its equity: the initial cash plus its own trades)."""
    cash_delta, qty_delta = run.deltas
    held = np.cumsum(qty_delta)
    equity = float(options.initial_krw) + np.cumsum(cash_delta) + held * run.bars.close
    blocked: dict[str, int] = {}
    for _, kind in run.refusals:
        blocked[kind] = blocked.get(kind, 0) + 1
    result = BacktestResult(
        run.symbol, run.bars, run.first, equity[run.first :], held[run.first :] > 0, run.trades, blocked,
        run.codes, params.version, limits.version, options,
    )  # fmt: skip
    result.refusals = run.refusals
    return result


def run_backtest(
    symbol: str,
    bars: Bars,
    params: StrategyParams,
    risk_limits: RiskLimits,
    options: BacktestOptions,
    prepared: Prepared | None = None,
) -> BacktestResult:
    """Replay the strategy over one symbol's `bars`; see the module docstring for the timing rules.
    `prepared`: `prepare(bars, ...)`, shared by many runs over the same bars."""
    if len(bars) == 0:
        raise ValueError(f"no bars to backtest for {symbol}")
    shared = {symbol: prepared} if prepared is not None else None
    (run,) = _replay({symbol: bars}, params, risk_limits, options, shared).runs
    result = _symbol_result(run, params, risk_limits, options)
    result.stats = performance.summarize(result)
    return result


def volatility_history(start: datetime, end: datetime) -> tuple[tuple[int, bool], ...]:
    """The stored volatility fits that were the state at some time in [start, end), oldest first:
    the last fit before `start` and every fit until `end`."""
    rows = VolatilityFit.objects.order_by("fitted_at")
    before = (
        rows.filter(fitted_at__lt=start).order_by("-fitted_at").values_list("fitted_at", "is_high_volatility")
    )
    during = rows.filter(fitted_at__gte=start, fitted_at__lt=end).values_list(
        "fitted_at", "is_high_volatility"
    )
    fits = [*before[:1], *during]
    return tuple((int(at.timestamp()), bool(high)) for at, high in fits)


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
