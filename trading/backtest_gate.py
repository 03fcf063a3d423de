"""Quick backtest gate (optional, off by default).

Before the first entry of a KST day on a symbol, backtest the last N days of that symbol with
the active configuration; when the result misses any threshold, refuse entries on that symbol
for the rest of the day. The verdict is cached in Redis per (symbol, KST day), so the backtest
runs at most once per symbol per day. The refusal is worded in the active language when the
backtest runs (it is recorded as the refusal's description).
"""

import json
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from core.formatting import number, percent
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
    at_least, at_most = (lambda v, t: v >= t), (lambda v, t: v <= t)
    checks = [
        ("total_return_pct", "min_return_pct", _("return"), lambda v: percent(v, 2), at_least),
        ("win_rate_pct", "min_win_rate_pct", _("win rate"), lambda v: percent(v, 1), at_least),
        ("profit_factor", "min_profit_factor", _("profit factor"), lambda v: number(v, 2), at_least),
        ("sharpe", "min_sharpe", _("Sharpe"), lambda v: number(v, 2), at_least),
        ("max_drawdown_pct", "max_drawdown_pct", _("max drawdown"), lambda v: percent(v, 2), at_most),
    ]
    out = []
    for stat, limit, name, shown, ok in checks:
        value, threshold = stats.get(stat), thresholds[limit]
        if value is None:
            out.append(_("%(figure)s n/a (no closed trades)") % {"figure": name})
        elif not ok(value, threshold):
            # Translators: a backtest figure below its minimum ("<") or above its maximum (">").
            text = (
                _("%(figure)s %(value)s < %(threshold)s")
                if ok is at_least
                else _("%(figure)s %(value)s > %(threshold)s")
            )
            out.append(text % {"figure": name, "value": shown(value), "threshold": shown(threshold)})
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
        return ngettext(
            "backtest gate: no candles for the last %(days)s day",
            "backtest gate: no candles for the last %(days)s days",
            days,
        ) % {"days": number(days)}
    result = run_backtest(symbol, bars, load_strategy(), load_risk(), BacktestOptions(start=first))
    failed = misses(result.stats, thresholds)
    if not failed:
        return None
    log.info("backtest gate refuses %s today: %s", symbol, "; ".join(failed))
    return ngettext(
        "backtest gate (%(days)s day): %(misses)s", "backtest gate (%(days)s days): %(misses)s", days
    ) % {"days": number(days), "misses": "; ".join(failed)}
