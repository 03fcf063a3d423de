"""Strategy v3.1 rules, written once and vectorised over arrays of 1-minute bars.

Two callers, one implementation:
- the live cycle evaluates a window of the latest `LIVE_WINDOW_BARS` bars and reads the last
  row (`entry_signal`, `exit_signal`);
- the backtester evaluates the whole series at once (`entry_passes`) and, per open trade,
  the bars that follow it (`scan_exit`).
Pure functions: arrays and config in, codes/Signals out, no I/O. Every value at bar t depends
only on bars <= t, so truncating the data at t never changes the decision at t.
"""

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd

from market import indicators as ind
from market.candles import Candles, epoch_seconds
from market.regime import REGIMES, UNKNOWN_CODE

from .config import StrategyParams
from .models import ExitReason

# Wilder RSI has memory: a value computed on a window differs from the full-series value by
# ((n-1)/n)^k of the seed error after k bars. For RSI(14), (13/14)^985 ~ 1e-32: far below the
# 1e-9 parity requirement (and below float precision), so live and backtest decisions agree.
# It also covers every lookback (at most 200 bars by validation) and the 20-bar averages.
LIVE_WINDOW_BARS = 1000

ENTRY = "ENTRY"
EXIT_ORDER = (
    ExitReason.STOP_LOSS,
    ExitReason.TRAILING_STOP,
    ExitReason.TAKE_PROFIT,
    ExitReason.RSI_OVERBOUGHT,
    ExitReason.TIME_LIMIT,
)
EXIT_REASONS = tuple(str(reason) for reason in EXIT_ORDER)
PARTIAL = str(ExitReason.PARTIAL_TAKE_PROFIT)  # after every full exit: a full exit on the same bar wins
MA_MODES = {"above": 0, "proximity_or_above": 1, "none": 2}
REGIME_NAMES = tuple(str(r) for r in REGIMES)  # by regime code


BAR_FIELDS = ("ts", "open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class Bars:
    """1-minute bars of one symbol (1-D arrays), or of several side by side (2-D, bars x symbols):
    `ts` is the bar open in epoch seconds (UTC)."""

    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.ts)

    def tail(self, n: int) -> "Bars":
        return Bars(*(getattr(self, f)[-n:] for f in BAR_FIELDS))


def bars_from_frame(df: pd.DataFrame) -> "Bars":
    """Bars from a DataFrame with a UTC `timestamp` column (or index) and OHLCV columns."""
    ts = epoch_seconds(df["timestamp"] if "timestamp" in df else df.index)
    cols = (np.asarray(df[c], dtype=np.float64) for c in ("open", "high", "low", "close", "volume"))
    return Bars(ts, *cols)


def bars_of(candles: Candles, symbol: str) -> "Bars":
    """One symbol's bars out of many symbols' columns (views, no copy)."""
    rows = candles.rows(symbol)
    return Bars(*(getattr(candles, name)[rows] for name in BAR_FIELDS))


def stack_bars(windows: list["Bars"]) -> "Bars":
    """Windows of the same length side by side: 2-D Bars, bars x symbols (time on axis 0)."""
    return Bars(*(np.stack([getattr(w, name) for w in windows], axis=1) for name in BAR_FIELDS))


@dataclass(frozen=True)
class Signal:
    """A decision: BUY / SELL / HOLD, the reason code, a sentence a trader reads, the numbers."""

    action: str
    reason: str
    detail: str
    values: dict = field(default_factory=dict)
    exit_reason: str = ""
    high_water_mark: float | None = None
    partial_levels: int = 0  # PARTIAL_TAKE_PROFIT: scale-out levels sold once this one is (1-3)
    sell_share_pct: float = 100.0  # PARTIAL_TAKE_PROFIT: % of the entry quantity this sale sells


def uses_atr(params: StrategyParams) -> bool:
    """Whether any regime's exits or sizing read ATR(14)."""
    names = ("atr_stop_k", "atr_take_profit_k", "atr_trailing_k")
    return any(getattr(p, name) is not None for p in params.regimes.values() for name in names)


def compute_indicators(bars: Bars, params: StrategyParams, atr: bool = True) -> dict[str, np.ndarray]:
    """Every indicator the rules read, over the whole array (lookbacks of every regime).

    `atr=False` leaves ATR(14) out (None): the backtester skips it when no option reads it; the
    live cycle always keeps it in a position's entry signal, for a later ATR option.
    """
    upper, middle, lower = ind.bollinger(bars.close)
    moves = ind.price_moves(bars.close)
    rsi7 = ind.rsi(bars.close, ind.RSI_SHORT, moves)
    out = {
        "close": bars.close,
        "rsi14": ind.rsi(bars.close, ind.RSI_LONG, moves),
        "rsi7": rsi7,
        "ma20": middle,  # MA(20) is the Bollinger middle band (both SMA(20) of close)
        "bb_upper": upper,
        "bb_lower": lower,
        "vol_ratio": ind.volume_ratio(bars.volume),
        "atr14": ind.atr(bars.high, bars.low, bars.close) if atr else None,  # ATR stops and sizing
    }
    for p in params.regimes.values():
        if f"rsi7_min_{p.rsi_7_lookback}" not in out:
            out[f"rsi7_min_{p.rsi_7_lookback}"] = ind.rsi_short_min_lookback(rsi7, p.rsi_7_lookback)
        if f"bb_touch_{p.bb_touch_lookback}" not in out:
            touch = ind.bb_touch_recovery(bars.low, bars.close, lower, p.bb_touch_lookback)
            out[f"bb_touch_{p.bb_touch_lookback}"] = touch
    return out


def _table(params: StrategyParams, name: str, unknown=np.nan) -> np.ndarray:
    """One parameter per regime code (UNKNOWN last), ready for `table[codes]`."""
    values = [getattr(params.regimes[r], name) for r in REGIME_NAMES[:UNKNOWN_CODE]]
    return np.array([*[np.nan if v is None else v for v in values], unknown], dtype=np.float64)


class EntryBars:
    """The indicators and regime codes of the bars an entry check looks at: every bar, or the
    bars at `rows` (the backtester narrows its candidates check by check). A parameter is one
    number when all these bars share a regime, else one per bar."""

    def __init__(self, values: dict[str, np.ndarray], codes: np.ndarray, params: StrategyParams, rows=None):
        self.values, self.params, self.rows = values, params, rows
        self.codes = codes if rows is None else codes[rows]
        self.regime = int(self.codes[0]) if len(self.codes) and self.codes.min() == self.codes.max() else None

    def __getitem__(self, key: str) -> np.ndarray:
        v = np.asarray(self.values[key])
        return v if self.rows is None else v[self.rows]

    def param(self, name: str, unknown=np.nan):
        return self._per_bar(_table(self.params, name, unknown))

    def ma_mode(self):
        modes = [MA_MODES[self.params.regimes[r].ma_filter] for r in REGIME_NAMES[:UNKNOWN_CODE]]
        return self._per_bar(np.array([*modes, MA_MODES["none"]]))

    def _per_bar(self, table: np.ndarray):
        """`table` (one value per regime code) at these bars: one value when they share a regime."""
        return table[self.regime] if self.regime is not None else table[self.codes]

    def pick(self, prefix: str, attr: str) -> np.ndarray:
        """Per bar, the indicator computed with the lookback of that bar's regime."""
        regimes = self.params.regimes
        if self.regime is not None:  # UNKNOWN bars read the first regime's (they never pass)
            code = self.regime if self.regime < UNKNOWN_CODE else 0
            return self[f"{prefix}{getattr(regimes[REGIME_NAMES[code]], attr)}"]
        out = self[f"{prefix}{getattr(regimes[REGIME_NAMES[0]], attr)}"].copy()
        for code, regime in enumerate(REGIME_NAMES[1:UNKNOWN_CODE], start=1):
            mask = self.codes == code
            out[mask] = self[f"{prefix}{getattr(regimes[regime], attr)}"][mask]
        return out


def _ma_ok(b: EntryBars) -> np.ndarray:
    close, ma20, mode = b["close"], b["ma20"], b.ma_mode()
    near = close >= ma20 * (1 - b.param("ma_proximity_pct") / 100)
    return np.where(mode == 0, close > ma20, np.where(mode == 1, near, True))


def _not_ready(b: EntryBars) -> np.ndarray:
    missing = np.isnan(b["rsi14"]) | np.isnan(b["rsi7"]) | np.isnan(b.pick("rsi7_min_", "rsi_7_lookback"))
    return missing | np.isnan(b["ma20"]) | np.isnan(b["bb_lower"]) | np.isnan(b["vol_ratio"])


def _rsi7_no_recovery(b: EntryBars) -> np.ndarray:
    dipped = b.pick("rsi7_min_", "rsi_7_lookback") <= b.param("rsi_7_trigger")
    return ~(dipped & (b["rsi7"] >= b.param("rsi_7_recover")))


def _rsi7_bounce_too_small(b: EntryBars) -> np.ndarray:
    return ~(b["rsi7"] - b.pick("rsi7_min_", "rsi_7_lookback") >= b.param("min_rsi_7_bounce_pct"))


def _below_bb_lower(b: EntryBars) -> np.ndarray:
    return (b.param("require_price_above_bb_lower", 0) > 0) & ~(b["close"] >= b["bb_lower"])


def _volume_surge(b: EntryBars) -> np.ndarray:
    return (b.param("volume_surge_check", 0) > 0) & (b["vol_ratio"] >= b.param("volume_surge_ratio"))


def _no_bb_touch_recovery(b: EntryBars) -> np.ndarray:
    return (b.param("bb_enabled", 0) > 0) & ~b.pick("bb_touch_", "bb_touch_lookback")


# Each entry check, in the strategy's order: where it fails on the bars given. Written once, read by
# both the live cycle (the first failing check of the newest bar is the reason it reports) and the
# backtester (the bars where none fails are its candidates).
ENTRY_FAILS = {
    "REGIME_UNKNOWN": lambda b: b.codes == UNKNOWN_CODE,
    "INDICATORS_NOT_READY": _not_ready,
    "RSI14_TOO_HIGH": lambda b: ~(b["rsi14"] <= b.param("rsi_14_max")),
    "RSI7_NO_RECOVERY": _rsi7_no_recovery,
    "RSI7_BOUNCE_TOO_SMALL": _rsi7_bounce_too_small,
    "MA_FILTER": lambda b: ~_ma_ok(b),
    "BELOW_BB_LOWER": _below_bb_lower,
    "VOLUME_TOO_LOW": lambda b: ~(b["vol_ratio"] >= b.param("volume_min_ratio")),
    "VOLUME_SURGE": _volume_surge,
    "NO_BB_TOUCH_RECOVERY": _no_bb_touch_recovery,
}
ENTRY_CHECKS = tuple(ENTRY_FAILS)  # evaluate_entries' codes: index of the first failing check
PASS_CODE = len(ENTRY_CHECKS)
# The order the backtester applies them in to narrow its candidates: the checks that refuse most
# bars first (a pass needs all of them, so the order changes which bars pass in no way).
NARROWING_ORDER = (
    "RSI7_NO_RECOVERY",
    "RSI14_TOO_HIGH",
    "VOLUME_TOO_LOW",
    "NO_BB_TOUCH_RECOVERY",
    "RSI7_BOUNCE_TOO_SMALL",
    "MA_FILTER",
    "BELOW_BB_LOWER",
    "VOLUME_SURGE",
    "REGIME_UNKNOWN",
    "INDICATORS_NOT_READY",
)


def entry_failures(values: dict[str, np.ndarray], codes: np.ndarray, params: StrategyParams) -> np.ndarray:
    """Boolean matrix (check x bar): True where the check fails, in the strategy's order."""
    bars = EntryBars(values, codes, params)
    with np.errstate(invalid="ignore"):
        return np.stack([np.broadcast_to(ENTRY_FAILS[name](bars), codes.shape) for name in ENTRY_CHECKS])


def evaluate_entries(values: dict[str, np.ndarray], codes: np.ndarray, params: StrategyParams) -> np.ndarray:
    """Per bar, the index of the first failing entry check, or PASS_CODE when all pass."""
    fails = entry_failures(values, codes, params)
    return np.where(fails.any(axis=0), fails.argmax(axis=0), PASS_CODE).astype(np.int8)


def entry_passes(values: dict[str, np.ndarray], codes: np.ndarray, params: StrategyParams) -> np.ndarray:
    """Indices of the bars where every entry check passes: the bars `evaluate_entries` gives
    PASS_CODE, found without the first failing check of every other bar (the backtester needs
    none) by applying the checks one after the other to the bars still passing."""
    rows = np.arange(len(codes))
    with np.errstate(invalid="ignore"):
        for name in NARROWING_ORDER:
            bars = EntryBars(values, codes, params, None if len(rows) == len(codes) else rows)
            rows = rows[~np.broadcast_to(ENTRY_FAILS[name](bars), bars.codes.shape)]
    return rows


@dataclass(frozen=True)
class OpenTrade:
    """What the exit rules need to know about a position."""

    avg_price: float
    entry_regime: str
    opened_at: int  # epoch seconds of the fill
    high_water_mark: float
    entry_atr: float | None = None  # ATR(14) at the entry decision (ATR stop and take profit)
    partials_done: int = 0  # scale-out levels already sold


def exit_params(params: StrategyParams, trade: OpenTrade):
    """The exit parameters of a position: its entry regime's. One opened without parameters (by
    hand, or in UNKNOWN) gets the tightest exits, BEAR's, rather than none."""
    return params.for_regime(trade.entry_regime) or params.regimes["BEAR"]


def stop_price(p, trade: OpenTrade) -> float:
    """Where `p`'s stop loss sits for this position: k x ATR at entry below the entry price in the
    ATR form (when the entry ATR is known), else the percentage below it."""
    if p.atr_stop_k is not None and trade.entry_atr is not None:
        return trade.avg_price - p.atr_stop_k * trade.entry_atr
    return trade.avg_price * (1 - p.stop_loss_pct / 100)


def take_profit_price(p, trade: OpenTrade) -> float:
    if p.atr_take_profit_k is not None and trade.entry_atr is not None:
        return trade.avg_price + p.atr_take_profit_k * trade.entry_atr
    return trade.avg_price * (1 + p.take_profit_pct / 100)


def stop_distance_pct(p, close: float, atr: float | None) -> float:
    """How far below an entry at `close` its stop would sit, in % (risk-per-trade sizing)."""
    if p.atr_stop_k is not None and atr is not None and not np.isnan(atr):
        return p.atr_stop_k * atr / close * 100
    return float(p.stop_loss_pct)


class ExitPlan(NamedTuple):
    """A position's exit prices, fixed until its state changes (a scale-out): computed once per
    state, not once per window of bars scanned."""

    stops: np.ndarray  # stop price per regime code
    activation: float  # the trailing stop works once the high-water mark reached this
    trail_factor: float  # percentage trailing stop: hwm x this
    atr_trailing_k: float | None
    take_profit: float
    rsi_overbought: float
    rsi_min_price: float
    late_after: int  # epoch s: the time limit fires on a decision after this
    levels: tuple[float, ...]  # prices of the scale-out levels not sold yet, lowest first


def exit_plan(trade: OpenTrade, params: StrategyParams) -> ExitPlan:
    p = exit_params(params, trade)
    avg = trade.avg_price
    # The tighter of the entry regime's stop and the current regime's (UNKNOWN keeps the entry's).
    own = stop_price(p, trade)
    per_regime = [stop_price(params.regimes[name], trade) for name in REGIME_NAMES[:UNKNOWN_CODE]]
    stops = np.maximum(own, np.array([*per_regime, own]))  # one per regime code
    if p.breakeven_after_partial and trade.partials_done:
        stops = np.maximum(stops, avg)  # a level sold: the rest is not allowed to lose
    return ExitPlan(
        stops=stops,
        activation=avg * (1 + p.trailing_activation_pct / 100),
        trail_factor=1 - p.trailing_stop_pct / 100,
        atr_trailing_k=p.atr_trailing_k,
        take_profit=take_profit_price(p, trade),
        rsi_overbought=p.rsi_overbought,
        rsi_min_price=avg * (1 + p.rsi_exit_min_profit_pct / 100),
        # held longer than the limit, (decided - opened) > hours x 3600, in whole seconds
        late_after=trade.opened_at + math.floor(p.time_limit_hours * 3600),
        levels=tuple(avg * (1 + at / 100) for at, _ in p.partial_levels()[trade.partials_done :]),
    )


def scaled_plan(unit: ExitPlan, trade: OpenTrade) -> ExitPlan:
    """`exit_plan` of `trade` from the plan of a position bought at 1.0 at time 0 in its regime
    with the same scale-outs sold, when no exit price reads the entry ATR: each price is the entry
    price times the unit plan's (the same product, so the same bits; the larger of two such
    products is the product of the larger factor), the time limit moved to the fill time."""
    avg = trade.avg_price
    return ExitPlan(
        stops=unit.stops * avg,
        activation=unit.activation * avg,
        trail_factor=unit.trail_factor,
        atr_trailing_k=unit.atr_trailing_k,
        take_profit=unit.take_profit * avg,
        rsi_overbought=unit.rsi_overbought,
        rsi_min_price=unit.rsi_min_price * avg,
        late_after=unit.late_after + trade.opened_at,
        levels=tuple(level * avg for level in unit.levels) if unit.levels else (),
    )


def scan_exit(
    close: np.ndarray,
    rsi14: np.ndarray,
    decided_at: np.ndarray,
    codes: np.ndarray | int,
    trade: OpenTrade,
    params: StrategyParams,
    atr14: np.ndarray | None = None,
    plan: ExitPlan | None = None,
    late: int | None = None,
) -> tuple[int, str, float, int]:
    """First bar of these (all after the entry, oldest first; `decided_at` in whole epoch seconds)
    where an exit or a scale-out level fires: (index or -1, reason, the HWM at that bar (at the
    last bar when none fires), scale-out levels crossed at that bar). `codes`: the regime code of
    each bar, or one code for all of them. `plan`:
    `exit_plan(trade, params)` when the caller scans the same position again; `late`: the first
    of these bars decided after the time limit, when the caller has already looked it up.

    The first bar where a fixed price or the time fires bounds the search; the trailing stop is
    looked at up to it, and only once the HWM has reached its activation. The exit bar is then
    told its reason in EXIT_ORDER (a full exit before a scale-out on the same bar)."""
    plan = plan or exit_plan(trade, params)
    stops = plan.stops[codes]
    hit = close <= stops
    hit |= close >= (min(plan.take_profit, plan.levels[0]) if plan.levels else plan.take_profit)
    hit |= (rsi14 >= plan.rsi_overbought) & (close >= plan.rsi_min_price)
    if late is None:
        late = int(decided_at.searchsorted(plan.late_after, side="right"))  # the time limit from here on
    if late < len(hit):
        hit[late] = True
    i = int(hit.argmax())
    end = i + 1 if hit[i] else len(hit)  # the trailing stop matters only before the other exits
    # the HWM never falls, so the one at `end - 1` tells whether the trailing stop ever worked
    peak = max(float(close[:end].max()), trade.high_water_mark)
    trail, trailed, active, hwm = None, False, end, peak
    if peak >= plan.activation:
        running = np.maximum.accumulate(np.maximum(close[:end], trade.high_water_mark))
        active = int(running.searchsorted(plan.activation))  # the first bar it reached the activation
        trail = _trail(running[active:], plan, None if atr14 is None else atr14[active:end])
        trailing = close[active:end] <= trail
        j = int(trailing.argmax())
        if trailing[j]:
            i, trailed = active + j, True
            hwm = float(running[i])
    if not (trailed or hit[i]):
        return -1, "", hwm, 0
    c = close[i]
    fired = (
        c <= (stops[i] if stops.ndim else stops),
        trail is not None and i >= active and c <= trail[i - active],
        c >= plan.take_profit,
        rsi14[i] >= plan.rsi_overbought and c >= plan.rsi_min_price,
        i >= late,
    )
    for k, check in enumerate(fired):
        if check:
            return i, EXIT_REASONS[k], hwm, 0
    return i, PARTIAL, hwm, sum(1 for level in plan.levels if c >= level)


def _trail(hwm: np.ndarray, plan: ExitPlan, atr14: np.ndarray | None) -> np.ndarray:
    """The trailing stop under each HWM: k x ATR below it where an ATR is known and the option is
    on, else the percentage."""
    trail = hwm * plan.trail_factor
    if plan.atr_trailing_k is not None and atr14 is not None:  # no ATR yet (one ticker price): the %
        trail = np.where(np.isnan(atr14), trail, hwm - plan.atr_trailing_k * atr14)
    return trail


def scale_out_share(params: StrategyParams, trade: OpenTrade, crossed: int) -> float:
    """% of the entry quantity the next `crossed` scale-out levels sell together."""
    levels = exit_params(params, trade).partial_levels()
    return float(sum(share for _, share in levels[trade.partials_done : trade.partials_done + crossed]))


def _last_values(values: dict[str, np.ndarray]) -> dict:
    """The last bar's indicators as built-in types (JSON for bot:status and Trade.signal_info)."""
    out = {}
    for key, v in values.items():
        if v is None:
            continue
        last = v[-1].item()
        out[key] = None if isinstance(last, float) and np.isnan(last) else last
    return out


def describe_entry(reason: str, v: dict, regime: str, params: StrategyParams) -> str:
    """A sentence with the numbers behind an entry decision."""
    p = params.for_regime(regime)
    if p is None:
        return f"no entries while the regime is {regime}"
    lb = p.rsi_7_lookback
    rsi7_min = v.get(f"rsi7_min_{lb}")
    texts = {
        "INDICATORS_NOT_READY": lambda: "not enough bars yet for the indicators",
        "RSI14_TOO_HIGH": lambda: f"RSI(14) {v['rsi14']:.2f} > max {p.rsi_14_max}",
        "RSI7_NO_RECOVERY": lambda: (
            f"RSI(7) {v['rsi7']:.2f}, min {rsi7_min:.2f} over {lb} bars: "
            f"needs a dip <= {p.rsi_7_trigger} and now >= {p.rsi_7_recover}"
        ),
        "RSI7_BOUNCE_TOO_SMALL": lambda: (
            f"RSI(7) bounce {v['rsi7'] - rsi7_min:.2f} < {p.min_rsi_7_bounce_pct} points"
        ),
        "MA_FILTER": lambda: (
            f"close {v['close']:,.2f} fails MA filter '{p.ma_filter}' (MA20 {v['ma20']:,.2f})"
        ),
        "BELOW_BB_LOWER": lambda: (
            f"close {v['close']:,.2f} < lower band {v['bb_lower']:,.2f} (falling knife)"
        ),
        "VOLUME_TOO_LOW": lambda: f"volume ratio {v['vol_ratio']:.2f} < {p.volume_min_ratio}",
        "VOLUME_SURGE": lambda: (
            f"volume ratio {v['vol_ratio']:.2f} >= surge {p.volume_surge_ratio} (panic selling)"
        ),
        "NO_BB_TOUCH_RECOVERY": lambda: f"no lower-band touch and recovery within {p.bb_touch_lookback} bars",
        ENTRY: lambda: f"all {regime} entry checks pass (RSI(14) {v['rsi14']:.2f}, RSI(7) {v['rsi7']:.2f})",
    }
    return texts[reason]() if reason in texts else reason


# Symbols per 2-D batch: 32 windows of 1,000 bars keep each array (256 KiB) in the CPU cache;
# 300 symbols at once took 1.7x the CPU time of batches of 25-50.
BATCH_SYMBOLS = 32


def window_indicators(bars: list[Bars], params: StrategyParams) -> list[dict[str, np.ndarray]]:
    """`compute_indicators` of each symbol's live window, computed in batches: windows of the same
    length are stacked into 2-D arrays (bars x symbols) and computed at once. Each symbol's arrays
    are bit for bit those of its own 1-D computation (market/indicators.py sums in one fixed order)."""
    windows = [b.tail(LIVE_WINDOW_BARS) for b in bars]
    out: list[dict[str, np.ndarray]] = [{} for _ in windows]
    by_length: dict[int, list[int]] = {}
    for i, window in enumerate(windows):
        by_length.setdefault(len(window), []).append(i)
    batches = [m[k : k + BATCH_SYMBOLS] for m in by_length.values() for k in range(0, len(m), BATCH_SYMBOLS)]
    for members in batches:
        values = compute_indicators(stack_bars([windows[i] for i in members]), params)
        for column, i in enumerate(members):
            out[i] = {key: None if v is None else v[:, column] for key, v in values.items()}
    return out


def regime_codes(regime: str, n: int) -> np.ndarray:
    return np.full(n, REGIMES.index(regime), dtype=np.int8)


def entry_signal(
    bars: Bars, regime: str, params: StrategyParams, values: dict[str, np.ndarray] | None = None
) -> Signal:
    """Live entry decision on the latest closed bar of a window (LIVE_WINDOW_BARS long).

    `values`: the window's `compute_indicators` when already computed (the cycle computes every
    symbol's in one batch, `window_indicators`). The checks read only the last bar: each is a
    comparison per bar, so that bar's outcome is the one the whole window would give.
    """
    if values is None:
        values = compute_indicators(bars.tail(LIVE_WINDOW_BARS), params)
    last_bar = {key: v[-1:] for key, v in values.items() if v is not None}
    code = int(evaluate_entries(last_bar, regime_codes(regime, 1), params)[0])
    reason = ENTRY if code == PASS_CODE else ENTRY_CHECKS[code]
    last = _last_values(values)
    action = "BUY" if reason == ENTRY else "HOLD"
    return Signal(action, reason, describe_entry(reason, last, regime, params), last)


def exit_signal(bars: Bars, trade: OpenTrade, regime: str, params: StrategyParams) -> Signal:
    """Live exit decision on the latest closed bar, carrying the stored high-water mark."""
    window = bars.tail(LIVE_WINDOW_BARS)
    rsi14 = ind.rsi(window.close, ind.RSI_LONG)
    atr14 = ind.atr(window.high, window.low, window.close)
    i, reason, hwm, crossed = scan_exit(
        window.close[-1:],
        rsi14[-1:],
        window.ts[-1:] + 60,
        regime_codes(regime, 1),
        trade,
        params,
        atr14[-1:],
    )
    values = {
        "close": float(window.close[-1]),
        "rsi14": float(rsi14[-1]),
        "hwm": hwm,
        "atr14": None if np.isnan(atr14[-1]) else float(atr14[-1]),
    }
    if i < 0:
        return Signal("HOLD", "HOLD", "no exit condition met", values, high_water_mark=hwm)
    if reason == PARTIAL:
        share = scale_out_share(params, trade, crossed)
        done = trade.partials_done + crossed
        detail = f"{reason} level {done} at {values['close']:,.2f}: sell {share:g}% of the position"
        return Signal("SELL", reason, detail, values, reason, hwm, done, share)
    return Signal("SELL", reason, f"{reason} at {values['close']:,.2f}", values, reason, hwm)
