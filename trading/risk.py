"""The risk manager: each hard limit is a small rule returning `Block | None`.

Rules are pure (numbers in, verdict out), so the live cycle and the backtester share them. The
state they read (today's counters, positions, the kill switch) is gathered by the caller; the
state transitions after an exit (loss streak -> cooldown, daily or weekly loss -> halt) and the
opening of a new trading day (`open_day`) are here too.

The trading day runs from midnight to midnight KST, the trading week from Monday 00:00 KST (the
KST calendar week). At a new day the daily counters (entries, realised PnL, the daily halt)
start again; the loss streak and a running cooldown carry on, because a cooldown is a duration,
not a per-day flag; the week's starting equity, realised PnL and halt carry on until Monday.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from core.kst import KST
from market.listing import CAUTIONS, MarketStatus

from .config import RiskLimits

HUNDRED = Decimal(100)
HALF = Decimal("0.5")


def kst_day(at: datetime) -> date:
    """The KST trading day an instant belongs to."""
    return at.astimezone(KST).date()


def kst_day_start(at: datetime) -> datetime:
    """00:00 KST of the trading day `at` belongs to."""
    day = kst_day(at)
    return datetime(day.year, day.month, day.day, tzinfo=KST)


def next_kst_midnight(at: datetime) -> datetime:
    day = kst_day(at) + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=KST)


def kst_week(day: date) -> date:
    """The Monday that starts the KST calendar week of a trading day."""
    return day - timedelta(days=day.weekday())


def next_kst_monday(at: datetime) -> datetime:
    """Monday 00:00 KST after `at`: when a weekly halt ends."""
    monday = kst_week(kst_day(at)) + timedelta(days=7)
    return datetime(monday.year, monday.month, monday.day, tzinfo=KST)


@dataclass(frozen=True)
class Block:
    """Why an order was refused (or a limit event); becomes a RiskAudit row and a `risk` alert."""

    violation_type: str
    description: str


@dataclass
class DayState:
    """Today's risk counters (mirrors DailyRiskState, so rules need no database).

    The week fields cover the KST calendar week so far, today included.
    """

    starting_equity: Decimal
    total_pnl: Decimal = Decimal(0)
    trade_count: int = 0
    consecutive_losses: int = 0
    cooldown_until: datetime | None = None
    is_trading_halted: bool = False
    halt_reason: str = ""
    week_starting_equity: Decimal | None = None  # None: the week starts today
    week_pnl: Decimal = Decimal(0)
    is_week_halted: bool = False

    def __post_init__(self):
        if self.week_starting_equity is None:
            self.week_starting_equity = self.starting_equity


def open_day(
    day: date, starting_equity: Decimal, previous: DayState | None, previous_day: date | None
) -> DayState:
    """A new trading day's counters, continuing from the latest earlier day (if any).

    Entries, realised PnL and the daily halt start at zero. The loss streak and the cooldown
    carry over whatever the gap: three losses at 23:05-23:25 KST still cool down past midnight.
    Within the same KST week the week's starting equity, PnL and halt carry over; a new week
    starts from today's equity.
    """
    state = DayState(starting_equity=starting_equity)
    if previous is None:
        return state
    state.consecutive_losses = previous.consecutive_losses
    state.cooldown_until = previous.cooldown_until
    if previous_day is not None and kst_week(previous_day) == kst_week(day):
        state.week_starting_equity = previous.week_starting_equity
        state.week_pnl = previous.week_pnl
        state.is_week_halted = previous.is_week_halted
    return state


@dataclass(frozen=True)
class EntryContext:
    """Everything the entry rules look at for one proposed buy."""

    symbol: str
    now: datetime
    cash: Decimal
    exposure: Decimal  # open positions at cost
    open_positions: int
    day: DayState
    limits: RiskLimits
    high_volatility: bool = False
    kill_switch: bool = False
    entries_paused: bool = False  # an operator's pause (trading.control.pause_entries)
    held_symbols: frozenset[str] = field(default_factory=frozenset)
    reconcile_hold: str = ""  # live books differ from Upbit or are not settled: why ("" = fine)
    marked_exposure: Decimal | None = None  # open positions at the latest closes (None: at cost)
    market_status: MarketStatus | None = None  # the symbol in Upbit's market list (None: not known)
    sizing: "Sizing | None" = None  # the strategy's sizing options (None: the fixed max position size)
    reentry_until: datetime | None = None  # the symbol was sold lately: no entry before this

    @property
    def equity(self) -> Decimal:
        return self.cash + self.exposure

    @property
    def marked_equity(self) -> Decimal:
        """Cash plus open positions at the latest closes: what the account is worth now."""
        marked = self.exposure if self.marked_exposure is None else self.marked_exposure
        return self.cash + marked


@dataclass(frozen=True)
class Sizing:
    """The strategy's sizing options for one entry (trading/parameters.py, the entry regime's)."""

    stop_pct: Decimal  # how far below the entry its stop loss sits, in %
    stop_text: str = ""  # how that stop was set ("ATR 2x"), for the reason
    risk_pct: Decimal | None = None  # risk per trade, % of equity (None: fixed size)
    kelly_cap_pct: Decimal | None = None  # the Kelly cap, % of equity (None: off or too few trades)
    kelly_text: str = ""


@dataclass(frozen=True)
class Size:
    """KRW to spend and why, in the words of the Overview and the trade's signal info.

    The sentence is put together only when read (`reason`): the backtester asks for a size at
    every candidate bar and reads the sentence only for the few that trade.
    """

    krw: Decimal
    equity: Decimal
    steps: tuple[tuple, ...]  # ("max", %), ("risk", risk %, stop %, how), ("capped", %), ...

    @property
    def reason(self) -> str:
        words = {
            "max": lambda pct: f"max position {_pct(pct)}",
            "risk": lambda risk, stop, how: f"risk {_pct(risk)} / stop {_pct(stop)}{how}",
            "capped": lambda pct: f"capped at max position {_pct(pct)}",
            "kelly": lambda pct, how: f"capped at {_pct(pct)} by Kelly{how}",
            "halved": lambda: "halved: high volatility",
            "cash": lambda: "limited to the cash left",
        }
        parts = ", ".join(words[kind](*values) for kind, *values in self.steps)
        share = self.krw / self.equity * HUNDRED if self.equity > 0 else Decimal(0)
        return f"size {_pct(share)} ({self.krw:,.0f} KRW) = {parts}"


def _pct(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')).normalize():f} %"


def entry_size(ctx: EntryContext) -> Size:
    """KRW to spend: a share of equity (fixed, or risk / stop distance capped by the max position
    size and the Kelly cap), halved while volatility is high, never more than cash."""
    limit = ctx.limits.max_position_size_pct
    sizing, pct, steps = ctx.sizing, limit, []
    if sizing is not None and sizing.risk_pct is not None and sizing.stop_pct > 0:
        pct = sizing.risk_pct / sizing.stop_pct * HUNDRED
        steps.append(("risk", sizing.risk_pct, sizing.stop_pct, sizing.stop_text))
        if pct > limit:
            pct = limit
            steps.append(("capped", limit))
    else:
        steps.append(("max", limit))
    if sizing is not None and sizing.kelly_cap_pct is not None and pct > sizing.kelly_cap_pct:
        pct = max(sizing.kelly_cap_pct, Decimal(0))
        steps.append(("kelly", pct, sizing.kelly_text))
    size = ctx.equity * pct / HUNDRED
    if ctx.high_volatility:
        size *= HALF
        steps.append(("halved",))
    if size > ctx.cash:
        size = ctx.cash
        steps.append(("cash",))
    return Size(size.quantize(Decimal(1)), ctx.equity, tuple(steps))


def kelly_cap_pct(returns: list[Decimal], fraction: Decimal) -> Decimal:
    """`fraction` of the Kelly bet, in % of equity, from round-trip returns (0.012 = +1.2 %).

    Kelly f* = W - (1 - W) / R with W the share of winners and R the average win over the average
    loss; no edge (f* <= 0) caps the size at 0. Returns are rounded to 1e-8 first, so the live
    books (PnL kept to 8 decimals) and the backtester give the very same cap.
    """
    rounded = [r.quantize(Decimal("0.00000001")) for r in returns]
    wins = [r for r in rounded if r > 0]
    losses = [-r for r in rounded if r < 0]
    win_rate = Decimal(len(wins)) / len(rounded)
    if not wins:
        kelly = Decimal(0)
    elif not losses:
        kelly = win_rate
    else:
        ratio = (sum(wins) / len(wins)) / (sum(losses) / len(losses))
        kelly = win_rate - (1 - win_rate) / ratio
    return (max(kelly, Decimal(0)) * fraction * HUNDRED).quantize(Decimal("0.0001"))


class KillSwitch:
    def check(self, ctx: EntryContext, size: Decimal) -> Block | None:
        if ctx.kill_switch:
            return Block("KILL_SWITCH", "kill switch is on: no new entries")
        return None


class EntriesPaused:
    def check(self, ctx: EntryContext, size: Decimal) -> Block | None:
        if ctx.entries_paused:
            return Block("ENTRIES_PAUSED", "new entries are paused by an operator")
        return None


class ReconcileHold:
    def check(self, ctx: EntryContext, size: Decimal) -> Block | None:
        if ctx.reconcile_hold:
            return Block("RECONCILE_HOLD", f"live books differ from Upbit: {ctx.reconcile_hold}"[:500])
        return None


class TradingHalted:
    def check(self, ctx: EntryContext, size: Decimal) -> Block | None:
        if ctx.day.is_trading_halted:
            return Block("TRADING_HALTED", f"trading halted until the next KST day: {ctx.day.halt_reason}")
        return None


class WeeklyHalted:
    def check(self, ctx: EntryContext, size: Decimal) -> Block | None:
        if ctx.day.is_week_halted:
            return Block(
                "WEEKLY_HALTED",
                f"weekly loss limit reached (week's realised PnL {ctx.day.week_pnl:,.0f} KRW): "
                f"no entries until Monday 00:00 KST",
            )
        return None


def daily_loss_limit(day: DayState, limits: RiskLimits) -> Decimal:
    """KRW the day may lose before trading halts."""
    return day.starting_equity * limits.max_daily_loss_pct / HUNDRED


class DailyLossMarked:
    """Optional: the daily limit also counts unrealised losses (mark-to-market drawdown).

    Refuses while the account marked at the latest closes is the daily limit or more below the
    day's starting equity; entries come back if the prices recover. A realised loss of that size
    halts the day as usual (record_exit).
    """

    def check(self, ctx: EntryContext, size: Decimal) -> Block | None:
        if not ctx.limits.daily_loss_includes_unrealized:
            return None
        limit = daily_loss_limit(ctx.day, ctx.limits)
        drawdown = ctx.day.starting_equity - ctx.marked_equity
        if limit > 0 and drawdown >= limit:
            return Block(
                "DAILY_LOSS_MARKED",
                f"down {drawdown:,.0f} KRW today counting open positions at the latest prices, "
                f"limit {ctx.limits.max_daily_loss_pct}% ({limit:,.0f} KRW)",
            )
        return None


class Cooldown:
    def check(self, ctx: EntryContext, size: Decimal) -> Block | None:
        until = ctx.day.cooldown_until
        if until is not None and ctx.now < until:
            return Block(
                "COOLDOWN",
                f"cooling down after {ctx.day.consecutive_losses} straight losses "
                f"until {until.astimezone(KST):%H:%M} KST",
            )
        return None


class DailyTradeCount:
    def check(self, ctx: EntryContext, size: Decimal) -> Block | None:
        if ctx.day.trade_count >= ctx.limits.max_daily_trades:
            return Block(
                "DAILY_TRADE_LIMIT",
                f"{ctx.day.trade_count} entries today, limit {ctx.limits.max_daily_trades}",
            )
        return None


class UpbitMarketFlags:
    """No entries in a market Upbit flags (investment warning, any caution) or no longer lists."""

    def check(self, ctx: EntryContext, size: Decimal) -> Block | None:
        status = ctx.market_status
        if status is None:
            return None
        if not status.listed:
            return Block("MARKET_DELISTED", f"{ctx.symbol} is no longer in Upbit's market list (delisted)")
        if status.warning:
            return Block("MARKET_WARNING", f"{ctx.symbol} is under an Upbit investment warning (유의 종목)")
        if status.cautions:
            flags = ", ".join(f"{name} ({CAUTIONS.get(name, 'caution')})" for name in status.cautions)
            return Block("MARKET_CAUTION", f"{ctx.symbol} has Upbit caution flags: {flags}")
        return None


class ReentryCooldown:
    """The strategy's per-symbol pause after an exit (besides the loss-streak cooldown)."""

    def check(self, ctx: EntryContext, size: Decimal) -> Block | None:
        until = ctx.reentry_until
        if until is not None and ctx.now < until:
            return Block(
                "REENTRY_COOLDOWN",
                f"{ctx.symbol} was sold lately: no new entry until {until.astimezone(KST):%H:%M} KST",
            )
        return None


class AlreadyHolding:
    def check(self, ctx: EntryContext, size: Decimal) -> Block | None:
        if ctx.symbol in ctx.held_symbols:
            return Block("ALREADY_HOLDING", f"{ctx.symbol} is already held")
        return None


class ConcurrentPositions:
    def check(self, ctx: EntryContext, size: Decimal) -> Block | None:
        if ctx.open_positions >= ctx.limits.max_concurrent_positions:
            return Block(
                "MAX_POSITIONS",
                f"{ctx.open_positions} positions open, limit {ctx.limits.max_concurrent_positions}",
            )
        return None


class TotalExposure:
    def check(self, ctx: EntryContext, size: Decimal) -> Block | None:
        cap = ctx.equity * ctx.limits.max_total_exposure_pct / HUNDRED
        if ctx.exposure + size > cap:
            return Block(
                "MAX_EXPOSURE",
                f"exposure would be {ctx.exposure + size:,.0f} KRW, "
                f"limit {cap:,.0f} KRW ({ctx.limits.max_total_exposure_pct}% of equity)",
            )
        return None


class MinimumOrder:
    def check(self, ctx: EntryContext, size: Decimal) -> Block | None:
        if size < ctx.limits.min_order_krw:
            return Block(
                "BELOW_MIN_ORDER",
                f"order of {size:,.0f} KRW is below the {ctx.limits.min_order_krw:,.0f} KRW minimum",
            )
        return None


ENTRY_RULES = (
    KillSwitch(),
    EntriesPaused(),
    ReconcileHold(),
    WeeklyHalted(),
    TradingHalted(),
    DailyLossMarked(),
    Cooldown(),
    DailyTradeCount(),
    UpbitMarketFlags(),
    ReentryCooldown(),
    AlreadyHolding(),
    ConcurrentPositions(),
    TotalExposure(),
    MinimumOrder(),
)


def decide_entry(ctx: EntryContext, explain: bool = True) -> tuple[Size, Block | None]:
    """The order size for a proposed entry (with its reason) and the first rule that refuses it.

    `explain=False` leaves the sizing sentence out of a minimum-order refusal (the backtester,
    which keeps only the rule of a refusal, asks at every candidate bar).
    """
    size = entry_size(ctx)
    for rule in ENTRY_RULES:
        block = rule.check(ctx, size.krw)
        if block is not None:
            if explain and block.violation_type == "BELOW_MIN_ORDER" and ctx.sizing is not None:
                block = Block(block.violation_type, f"{block.description} ({size.reason})")
            return size, block
    return size, None


def check_entry(ctx: EntryContext) -> tuple[Decimal, Block | None]:
    """The order size for a proposed entry and the first rule that refuses it (None = allowed)."""
    size, block = decide_entry(ctx)
    return size.krw, block


def record_exit(day: DayState, pnl: Decimal, limits: RiskLimits, now: datetime) -> list[Block]:
    """Update today's counters after a closed trade; return the limit events it triggered."""
    events = []
    day.total_pnl += pnl
    day.week_pnl += pnl
    day.consecutive_losses = day.consecutive_losses + 1 if pnl < 0 else 0
    if day.consecutive_losses >= limits.consecutive_loss_limit:
        day.cooldown_until = now + timedelta(hours=float(limits.cooldown_hours))
        events.append(
            Block(
                "COOLDOWN_STARTED",
                f"{day.consecutive_losses} losses in a row: no entries for {limits.cooldown_hours} h",
            )
        )
    loss_limit = daily_loss_limit(day, limits)
    if not day.is_trading_halted and loss_limit > 0 and day.total_pnl <= -loss_limit:
        day.is_trading_halted = True
        day.halt_reason = (
            f"daily loss {day.total_pnl:,.0f} KRW reached the limit of "
            f"{limits.max_daily_loss_pct}% ({loss_limit:,.0f} KRW)"
        )
        events.append(Block("DAILY_LOSS_HALT", day.halt_reason + "; trading resumes at 00:00 KST"))
    week_limit = day.week_starting_equity * limits.max_weekly_loss_pct / HUNDRED
    if not day.is_week_halted and week_limit > 0 and day.week_pnl <= -week_limit:
        day.is_week_halted = True
        events.append(
            Block(
                "WEEKLY_LOSS_HALT",
                f"weekly loss {day.week_pnl:,.0f} KRW reached the limit of {limits.max_weekly_loss_pct}% "
                f"({week_limit:,.0f} KRW); trading resumes Monday 00:00 KST",
            )
        )
    return events
