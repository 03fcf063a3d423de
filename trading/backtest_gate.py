"""Quick backtest gate (optional, off by default).

Before the first entry of a KST day on a symbol, backtest the last N days of that symbol with
the active configuration; when the result misses any threshold, refuse entries on that symbol
for the rest of the day. The verdict is cached in Redis per (symbol, KST day), so the backtest
runs at most once per symbol per day.
"""

import json
import logging
from datetime import datetime, timedelta

from django.conf import settings

from core.kst import KST
from core.redis_conn import get_redis

from .backtest import BacktestOptions, load_bars, run_backtest
from .config import load_risk, load_strategy

log = logging.getLogger(__name__)

KEY = "trading:backtest_gate:{symbol}:{day}"
DEFAULT_THRESHOLDS = {
    "min_return_pct": 3.0,
    "min_win_rate_pct": 35.0,
    "min_profit_factor": 1.3,
    "min_sharpe": 0.8,
    "max_drawdown_pct": 20.0,
}


def misses(stats: dict, thresholds: dict) -> list[str]:
    """Every threshold the backtest statistics miss, in words (a figure that is n/a misses)."""
    checks = [
        ("total_return_pct", "min_return_pct", "return {v:.2f} % < {t} %", lambda v, t: v >= t),
        ("win_rate_pct", "min_win_rate_pct", "win rate {v:.1f} % < {t} %", lambda v, t: v >= t),
        ("profit_factor", "min_profit_factor", "profit factor {v:.2f} < {t}", lambda v, t: v >= t),
        ("sharpe", "min_sharpe", "Sharpe {v:.2f} < {t}", lambda v, t: v >= t),
        ("max_drawdown_pct", "max_drawdown_pct", "max drawdown {v:.2f} % > {t} %", lambda v, t: v <= t),
    ]
    out = []
    for stat, limit, text, ok in checks:
        value, threshold = stats.get(stat), thresholds[limit]
        if value is None:
            out.append(f"{stat.replace('_pct', '').replace('_', ' ')} n/a (no closed trades)")
        elif not ok(value, threshold):
            out.append(text.format(v=value, t=threshold))
    return out


def gate_refusal(symbol: str, now: datetime) -> str | None:
    """Why entries on `symbol` are refused today by the backtest gate, or None (also when off)."""
    if not settings.COINPILOT_BACKTEST_GATE:
        return None
    day = now.astimezone(KST).date()
    key = KEY.format(symbol=symbol, day=day.isoformat())
    cached = get_redis().get(key)
    if cached is not None:
        return json.loads(cached)["refusal"]
    refusal = _run(symbol, now)
    midnight = datetime(day.year, day.month, day.day, tzinfo=KST) + timedelta(days=1)
    ttl = max(60, int((midnight - now).total_seconds()))
    get_redis().set(key, json.dumps({"refusal": refusal}), ex=ttl)
    return refusal


def _run(symbol: str, now: datetime) -> str | None:
    days = settings.COINPILOT_BACKTEST_GATE_DAYS
    thresholds = DEFAULT_THRESHOLDS | getattr(settings, "COINPILOT_BACKTEST_GATE_THRESHOLDS", {})
    bars, first = load_bars(symbol, now - timedelta(days=days), now)
    if len(bars) < 2:
        return f"backtest gate: no candles for the last {days} days"
    result = run_backtest(symbol, bars, load_strategy(), load_risk(), BacktestOptions(start=first))
    failed = misses(result.stats, thresholds)
    if not failed:
        return None
    log.info("backtest gate refuses %s today: %s", symbol, "; ".join(failed))
    return f"backtest gate ({days} days): " + "; ".join(failed)
