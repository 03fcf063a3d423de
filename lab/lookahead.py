"""Look-ahead and warm-up checks of a strategy config, like freqtrade's lookahead-analysis and
recursive-analysis, on the columns the backtester decides from.

- Look-ahead: every column is recomputed on the data cut at many bars; a value at or before the
  cut that differs from the value computed on all the data used bars after it.
- Warm-up: every column is recomputed from a later start (no history before it) and compared
  with the value computed on all the history; the bar from which they agree is the history the
  column needs. The live cycle computes the indicators on `LIVE_WINDOW_BARS` bars, and the
  hourly regime job reads `LOOKBACK_HOURS` hours: a column that needs more history than its
  window decides differently live than in the backtest.

Values agree when equal, both NaN, or within 1e-9 relative. Exits read the same columns (close,
RSI(14), ATR(14), the regime), so checking the columns covers them.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from core.kst import kst_text
from market.regime import LOOKBACK_HOURS, REGIMES, UNKNOWN_CODE, regime_codes_per_bar
from trading.config import StrategyParams
from trading.strategy import BAR_FIELDS, LIVE_WINDOW_BARS, Bars, compute_indicators, evaluate_entries

RELATIVE_TOLERANCE = 1e-9
DEFAULT_CUTS = 50
DEFAULT_STARTS = 5
REGIME_WARMUP_BARS = LOOKBACK_HOURS * 60  # the hourly job's window, in 1-minute bars
# Columns that read the hourly regime get the regime job's window; the others the live window.
REGIME_COLUMNS = ("regime", "entry")

Columns = Callable[[Bars, StrategyParams], dict[str, np.ndarray]]


@dataclass
class CheckResult:
    """passed: no finding; findings: one sentence per problem; notes: what was (not) checked."""

    passed: bool = True
    findings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    history_needed: dict[str, int] = field(default_factory=dict)  # warm-up: bars each column needs
    # per column, for a table: the first look-ahead found (epoch s of the bar and of the cut, the
    # values with the cut data and with all of it, at how many of how many cuts) ...
    lookahead: dict[str, dict] = field(default_factory=dict)
    windows: dict[str, int] = field(default_factory=dict)  # ... and the history its window gives
    columns: list[str] = field(default_factory=list)  # every column checked
    cuts: int = 0

    def add(self, other: "CheckResult") -> "CheckResult":
        self.findings += other.findings
        self.notes += other.notes
        self.history_needed |= other.history_needed
        self.lookahead |= other.lookahead
        self.windows |= other.windows
        self.columns += [name for name in other.columns if name not in self.columns]
        self.cuts = max(self.cuts, other.cuts)
        self.passed = not self.findings
        return self


def strategy_columns(bars: Bars, params: StrategyParams) -> dict[str, np.ndarray]:
    """Every column the backtester decides from: the indicators, the hourly regime, and the code
    of the first failing entry check per bar, with the hourly regime and with each trading
    regime forced (so every regime's lookbacks are checked even on data too short for a regime)."""
    values = compute_indicators(bars, params, atr=True)
    codes = regime_codes_per_bar(bars.ts, bars.close)
    out = {name: column for name, column in values.items() if name != "close"}
    out["regime"] = codes
    out["entry"] = evaluate_entries(values, codes, params)
    for code, regime in enumerate(REGIMES[:UNKNOWN_CODE]):
        forced = np.full(len(bars), code, dtype=np.int8)
        out[f"entry_{regime}"] = evaluate_entries(values, forced, params)
    return out


def agree(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per bar: equal, both NaN, or within RELATIVE_TOLERANCE of each other."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        close = np.abs(x - y) <= RELATIVE_TOLERANCE * np.maximum(np.abs(x), np.abs(y))
    return (x == y) | (np.isnan(x) & np.isnan(y)) | close


def _value(v) -> str:
    v = float(v)
    return "not computed (NaN)" if np.isnan(v) else f"{v:,.10g}"


def _json(v) -> float | None:
    v = float(v)
    return None if np.isnan(v) else v


def _time(bars: Bars, i: int) -> str:
    return kst_text(datetime.fromtimestamp(int(bars.ts[i]), UTC)) + " KST"


def _slice(bars: Bars, start: int, stop: int) -> Bars:
    return Bars(*(getattr(bars, name)[start:stop] for name in BAR_FIELDS))


def lookahead_check(
    bars: Bars,
    params: StrategyParams,
    *,
    cuts: int = DEFAULT_CUTS,
    seed: int = 0,
    columns: Columns = strategy_columns,
) -> CheckResult:
    """Recompute `columns` on the data cut at `cuts` random bars; report every column whose value
    at or before a cut differs from its value on all the data."""
    n = len(bars)
    if n < 3:
        raise ValueError(f"only {n} bars: the look-ahead check needs at least 3")
    full = columns(bars, params)
    ends = np.sort(np.random.default_rng(seed).choice(np.arange(1, n - 1), min(cuts, n - 2), replace=False))
    first: dict[str, tuple[int, int, float]] = {}  # column: (bar, cut, value with the data to the cut)
    counts: dict[str, int] = {}
    for end in ends:
        cut = columns(_slice(bars, 0, end + 1), params)
        for name, column in cut.items():
            differ = np.flatnonzero(~agree(column, full[name][: end + 1]))
            if len(differ):
                counts[name] = counts.get(name, 0) + 1
                if name not in first or differ[0] < first[name][0]:
                    first[name] = (int(differ[0]), int(end), float(column[differ[0]]))
    result = CheckResult(
        notes=[f"look-ahead: {len(full)} columns recomputed at {len(ends)} cut points"],
        columns=list(full),
        cuts=len(ends),
    )
    for name, (i, end, value) in first.items():
        result.lookahead[name] = {
            "bar": int(bars.ts[i]), "cut": int(bars.ts[end]), "value": _json(value),
            "full": _json(full[name][i]), "changed": counts[name], "cuts": len(ends),
        }  # fmt: skip
        result.findings.append(
            f"look-ahead: {name} at {_time(bars, i)} is {_value(value)} with the data up "
            f"to {_time(bars, end)} but {_value(full[name][i])} with all the data "
            f"(it changed at {counts[name]} of {len(ends)} cut points): it reads bars after the decision"
        )
    result.passed = not result.findings
    return result


def history_needed(short: np.ndarray, full: np.ndarray) -> int:
    """Bars of history from which the values computed from a later start (`short`) agree for good
    with the values computed on all the history: the value at index k has k + 1 bars behind it.
    len(short) + 1 when even the last value differs."""
    differ = np.flatnonzero(~agree(short, full))
    return int(differ[-1]) + 2 if len(differ) else 1


def warmup_check(
    bars: Bars,
    params: StrategyParams,
    *,
    warmup: int = LIVE_WINDOW_BARS,
    regime_warmup: int = REGIME_WARMUP_BARS,
    starts: int = DEFAULT_STARTS,
    seed: int = 0,
    columns: Columns = strategy_columns,
) -> CheckResult:
    """Recompute `columns` from `starts` later starts and report every column that needs more
    history than its window (`warmup` bars; `regime_warmup` for the regime and the entries that
    read it) to agree with its value on all the history."""
    full = columns(bars, params)
    windows = {name: regime_warmup if name in REGIME_COLUMNS else warmup for name in full}
    needed: dict[str, int] = {}
    never: set[str] = set()  # columns whose last value still differed
    rng = np.random.default_rng(seed)
    for window in sorted(set(windows.values())):
        if len(bars) < window + 2:  # at least one bar cut off and one past the window
            continue
        for s in rng.integers(1, len(bars) - window, size=starts):
            later = columns(_slice(bars, int(s), len(bars)), params)
            for name in (name for name, w in windows.items() if w == window):
                bars_needed = history_needed(later[name], full[name][s:])
                needed[name] = max(needed.get(name, 0), bars_needed)
                if bars_needed > len(bars) - s:
                    never.add(name)
    result = CheckResult(history_needed=needed, windows=windows, columns=list(full))
    result.notes += [
        f"warm-up: {name} not checked, it needs more than {w:,} bars of data (only {len(bars):,})"
        for name, w in windows.items()
        if name not in needed
    ]
    for name, bars_needed in needed.items():
        if bars_needed > windows[name]:
            agrees = "never agrees in this data" if name in never else f"needs {bars_needed:,} bars to agree"
            result.findings.append(
                f"too little history: {name} computed on {windows[name]:,} bars differs from its value "
                f"with all the history; it {agrees} (1e-9 relative)"
            )
    result.passed = not result.findings
    return result


def check_strategy(
    bars: Bars, params: StrategyParams, *, seed: int = 0, columns: Columns = strategy_columns
) -> CheckResult:
    """Both checks with their defaults: one result for the command and the Lab page."""
    result = lookahead_check(bars, params, seed=seed, columns=columns)
    return result.add(warmup_check(bars, params, seed=seed, columns=columns))


def column_rows(result: CheckResult) -> list[dict]:
    """One row per column, JSON-ready, in plain words: whether it reads later bars (the first bar
    and cut where it did) and how much history it needs against the history its window gives."""
    rows = []
    for name in result.columns:
        leak, needed, window = (
            result.lookahead.get(name),
            result.history_needed.get(name),
            result.windows.get(name),
        )
        if leak:
            at, cut = (kst_text(datetime.fromtimestamp(leak[k], UTC)) for k in ("bar", "cut"))
            lookahead = (
                f"reads later bars: at {at} KST it is {_value(_nan(leak['value']))} with the data cut at "
                f"{cut} KST but {_value(_nan(leak['full']))} with all the data (changed at "
                f"{leak['changed']} of {leak['cuts']} cuts)"
            )
        else:
            lookahead = f"no look-ahead at {result.cuts} cut points"
        if needed is None:
            warmup_ok, warmup = (
                None,
                f"warm-up not checked: the data is shorter than its {window or 0:,}-bar window",
            )
        elif needed > (window or 0):
            warmup_ok, warmup = False, f"needs {needed:,} bars of history; its window gives only {window:,}"
        else:
            warmup_ok, warmup = True, f"needs {needed:,} bars of history; its window gives {window:,}"
        rows.append({
            "column": name, "lookahead_ok": leak is None, "lookahead": lookahead,
            "cut": leak["cut"] if leak else None, "history_needed": needed, "window": window,
            "warmup_ok": warmup_ok, "warmup": warmup,
            "passed": leak is None and warmup_ok is not False,
        })  # fmt: skip
    return rows


def _nan(v: float | None) -> float:
    return float("nan") if v is None else v
