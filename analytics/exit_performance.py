"""Exit performance: how each regime x exit_reason did, and what to tune.

Pure functions over `Exit` rows (analytics/exits.py). "Rose >= 2 % within 24 h" is judged on the
tracked post-exit windows (1h/4h/12h/24h): the highest change_pct among them. Rates are taken over
the exits that have the data (post-exit windows for early exits, PnL for over-holds) and are None
without any. The Exit analysis page calls `exit_analysis()`.
"""

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from statistics import median

from .exits import Exit, load_exits
from .post_exit import WINDOWS

# PARTIAL_TAKE_PROFIT is not judged as an early exit: a scale-out sells a share on purpose and
# keeps the rest for a further rise, so a rise after it is the plan working, not a missed gain. It
# is its own group (count, PnL, hold, post-exit moves) and feeds no rule (analytics/suggestions.py).
EARLY_EXIT_REASONS = ("TRAILING_STOP", "TAKE_PROFIT")
EARLY_RISE_PCT = 2.0
RATE_TRIGGER = 50.0  # a rule fires at >= 50 %
MIN_RULE_EXITS = 5  # a rule also needs this many exits of its kind with data (one outlier is no pattern)


@dataclass(frozen=True)
class GroupStats:
    """One row of the regime x exit_reason table."""

    regime: str
    exit_reason: str
    count: int
    avg_pnl_pct: float | None
    avg_hold_hours: float | None
    avg_post_24h_pct: float | None
    median_post_24h_pct: float | None
    min_post_24h_pct: float | None
    max_post_24h_pct: float | None
    early_exit_rate: float | None  # TRAILING_STOP / TAKE_PROFIT only (not PARTIAL_TAKE_PROFIT)
    over_hold_rate: float | None  # TIME_LIMIT only
    early_exits: int = 0  # numerators and denominators, for the suggestion texts
    early_base: int = 0
    over_holds: int = 0
    over_base: int = 0


def rose_early(exit_: Exit) -> bool | None:
    """Did the price rise >= 2 % within 24 h of the exit? None without any tracked window."""
    changes = [exit_.post_changes[w] for w in WINDOWS if w in exit_.post_changes]
    return max(changes) >= EARLY_RISE_PCT if changes else None


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def _rate(hits: int, base: int) -> float | None:
    return round(100 * hits / base, 1) if base else None


def group_stats(regime: str, reason: str, exits: list[Exit]) -> GroupStats:
    """The table row of one group of exits."""
    post_24h = [e.post_changes["24h"] for e in exits if "24h" in e.post_changes]
    early = [rose_early(e) for e in exits] if reason in EARLY_EXIT_REASONS else []
    early = [flag for flag in early if flag is not None]
    losses = [e.pnl < 0 for e in exits if e.pnl is not None] if reason == "TIME_LIMIT" else []
    return GroupStats(
        regime=regime,
        exit_reason=reason,
        count=len(exits),
        avg_pnl_pct=_mean([e.pnl_pct for e in exits if e.pnl_pct is not None]),
        avg_hold_hours=_mean([e.hold_hours for e in exits if e.hold_hours is not None]),
        avg_post_24h_pct=_mean(post_24h),
        median_post_24h_pct=round(median(post_24h), 2) if post_24h else None,
        min_post_24h_pct=round(min(post_24h), 2) if post_24h else None,
        max_post_24h_pct=round(max(post_24h), 2) if post_24h else None,
        early_exit_rate=_rate(sum(early), len(early)) if reason in EARLY_EXIT_REASONS else None,
        over_hold_rate=_rate(sum(losses), len(losses)) if reason == "TIME_LIMIT" else None,
        early_exits=sum(early),
        early_base=len(early),
        over_holds=sum(losses),
        over_base=len(losses),
    )


def exit_table(exits: list[Exit]) -> list[GroupStats]:
    """regime x exit_reason rows, sorted by regime then exit_reason."""
    groups: dict[tuple[str, str], list[Exit]] = defaultdict(list)
    for exit_ in exits:
        groups[(exit_.regime, exit_.exit_reason)].append(exit_)
    return [group_stats(regime, reason, groups[(regime, reason)]) for regime, reason in sorted(groups)]


def pnl_by_exit_reason(exits: list[Exit]) -> dict[str, list[float]]:
    """{exit_reason: [PnL %, ...]} for the box plot (exits with known PnL)."""
    out: dict[str, list[float]] = defaultdict(list)
    for exit_ in exits:
        if exit_.pnl_pct is not None:
            out[exit_.exit_reason].append(round(exit_.pnl_pct, 4))
    return dict(sorted(out.items()))


def post_exit_curve(exits: list[Exit]) -> dict[str, dict[str, float | None]]:
    """{exit_reason: {"1h": avg change %, ..., "24h": ...}} over the tracked windows."""
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: {w: [] for w in WINDOWS})
    for exit_ in exits:
        for window, change in exit_.post_changes.items():
            if window in WINDOWS:
                values[exit_.exit_reason][window].append(change)
    return {reason: {w: _mean(v) for w, v in curve.items()} for reason, curve in sorted(values.items())}


def exit_analysis(now: datetime, days: int = 7, strategy=None) -> dict:
    """Everything the Exit analysis page shows for the last `days` days, as plain data."""
    from .suggestions import suggest

    exits = load_exits(now - timedelta(days=days), now)
    table = exit_table(exits)
    return {
        "days": days,
        "sells": len(exits),
        "table": [asdict(row) for row in table],
        "suggestions": suggest(exits, table, strategy=strategy).as_dict(),
        "pnl_by_exit_reason": pnl_by_exit_reason(exits),
        "post_exit_curve": post_exit_curve(exits),
    }
