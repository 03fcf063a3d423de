"""Backtest statistics: returns, risk-adjusted ratios, drawdown, and trade breakdowns.

Ratios are annualised from daily returns (KST days, 365 per year: crypto trades every day).
A ratio that cannot be computed (no trades, no losing day, a single day) is None, not a number
that looks meaningful.
"""

import math
from collections import defaultdict

import numpy as np

DAYS_PER_YEAR = 365
KST_OFFSET = 9 * 3600


def max_drawdown_pct(equity: np.ndarray) -> float:
    """Largest fall from a running peak, in percent (0 for a curve that never falls)."""
    if len(equity) == 0:
        return 0.0
    peak = np.maximum.accumulate(equity)
    return float(np.max((peak - equity) / peak) * 100)


def drawdown_series(equity: np.ndarray) -> np.ndarray:
    peak = np.maximum.accumulate(equity)
    return (equity - peak) / peak * 100


def daily_returns(ts: np.ndarray, equity: np.ndarray, initial: float) -> np.ndarray:
    """Returns between the last equity marks of consecutive KST days (first vs the initial cash)."""
    day = (np.asarray(ts, dtype=np.int64) + KST_OFFSET) // 86400
    last = np.flatnonzero(np.append(day[1:] != day[:-1], True))
    closes = np.concatenate([[initial], equity[last]])
    return closes[1:] / closes[:-1] - 1


def sharpe(returns: np.ndarray) -> float | None:
    if len(returns) < 2 or np.std(returns, ddof=1) == 0:
        return None
    return float(np.mean(returns) / np.std(returns, ddof=1) * math.sqrt(DAYS_PER_YEAR))


def sortino(returns: np.ndarray) -> float | None:
    downside = np.sqrt(np.mean(np.minimum(returns, 0) ** 2)) if len(returns) else 0
    if len(returns) < 2 or downside == 0:
        return None
    return float(np.mean(returns) / downside * math.sqrt(DAYS_PER_YEAR))


def cagr_pct(initial: float, final: float, seconds: float) -> float | None:
    years = seconds / (365.25 * 86400)
    if years <= 0 or initial <= 0 or final <= 0:
        return None
    try:
        return float(((final / initial) ** (1 / years) - 1) * 100)
    except OverflowError:  # minutes of data annualised: no meaningful figure
        return None


def breakdown(trades, key) -> dict[str, dict]:
    """Closed trades grouped by `key(trade)`: count, win rate, average and total PnL."""
    groups = defaultdict(list)
    for t in trades:
        groups[key(t)].append(t)
    return {
        name: {
            "count": len(group),
            "win_rate_pct": round(sum(t.pnl > 0 for t in group) / len(group) * 100, 2),
            "avg_pnl_pct": round(sum(t.pnl_pct for t in group) / len(group), 4),
            "total_pnl_krw": float(sum(t.pnl for t in group)),
        }
        for name, group in sorted(groups.items())
    }


def sales(trades) -> list:
    """Every sale of these trades (scale-outs and final exits), each with its reason and PnL."""
    return [sale for t in trades for sale in getattr(t, "exits", ()) if sale.reason]


def trade_stats(trades, blocked: dict | None = None) -> dict:
    """Figures that need no equity curve (one symbol of a portfolio): counts, wins, PnL."""
    closed = [t for t in trades if t.exit_at is not None]
    wins = [t for t in closed if t.pnl > 0]
    gross_win = float(sum(t.pnl for t in wins))
    gross_loss = -float(sum(t.pnl for t in closed if t.pnl < 0))
    partial = [s for s in sales(trades) if s.reason == "PARTIAL_TAKE_PROFIT"]
    return {
        "trades": len(closed),
        "open_trades": len(trades) - len(closed),
        "win_rate_pct": round(len(wins) / len(closed) * 100, 2) if closed else None,
        "profit_factor": round(gross_win / gross_loss, 4) if gross_loss > 0 else None,
        "total_pnl_krw": round(float(sum(t.pnl for t in closed)), 2),
        "avg_hold_hours": round(sum(t.hold_hours for t in closed) / len(closed), 3) if closed else None,
        "scale_outs": len(partial),
        "by_exit_reason": breakdown(sales(trades), lambda s: s.reason),
        "by_regime": breakdown(closed, lambda t: t.regime),
        "blocked_by_risk": dict(blocked or {}),
    }


def summarize(result) -> dict:
    """Every figure of the backtest report, as built-in types (JSON-ready).

    `result` is one symbol's or a portfolio's: its `ts`, `equity` and `in_position` from the first
    decision on, its trades and refusals. Exits are counted per sale: a scale-out is its own row
    under PARTIAL_TAKE_PROFIT; the win rate and profit factor count whole positions.
    """
    initial = float(result.options.initial_krw)
    equity = result.equity
    final = float(equity[-1]) if len(equity) else initial
    ts = result.ts
    mdd = max_drawdown_pct(equity)
    span = float(ts[-1] + 60 - ts[0]) if len(ts) else 0.0
    cagr = cagr_pct(initial, final, span)
    rets = daily_returns(ts, equity, initial) if len(ts) else np.array([])
    trades = trade_stats(result.trades, result.blocked)
    return {
        "bars": int(len(ts)),
        "initial_krw": initial,
        "final_equity_krw": round(final, 2),
        "total_return_pct": round((final / initial - 1) * 100, 4),
        "cagr_pct": cagr,
        "win_rate_pct": trades["win_rate_pct"],
        "profit_factor": trades["profit_factor"],
        "max_drawdown_pct": round(mdd, 4),
        "sharpe": sharpe(rets),
        "sortino": sortino(rets),
        "calmar": round(cagr / mdd, 4) if cagr is not None and mdd > 0 else None,
        "exposure_pct": round(float(np.mean(result.in_position)) * 100, 2) if len(ts) else 0.0,
        "avg_hold_hours": trades["avg_hold_hours"],
        "trades": trades["trades"],
        "open_trades": trades["open_trades"],
        "scale_outs": trades["scale_outs"],
        "by_exit_reason": trades["by_exit_reason"],
        "by_regime": trades["by_regime"],
        "blocked_by_risk": dict(result.blocked),
    }
