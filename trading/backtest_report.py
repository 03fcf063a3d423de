"""The backtest report: plain text for the terminal, and a self-contained plotly HTML page."""

from datetime import UTC, datetime

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.kst import KST, kst_text
from market.regime import REGIMES

from .performance import drawdown_series

MAX_POINTS = 4000  # the browser gets at most this many points per line, never a year of minutes


def kst(epoch: int) -> str:
    return kst_text(datetime.fromtimestamp(epoch, UTC))


def _fmt(value, suffix: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value:,.2f}{suffix}" if isinstance(value, float) else f"{value}{suffix}"


def regime_note(result) -> str:
    codes = result.regime_codes[result.first :]
    counts = np.bincount(codes, minlength=len(REGIMES))
    parts = [f"{REGIMES[i]} {c / max(len(codes), 1) * 100:.0f}%" for i, c in enumerate(counts) if c]
    forced = f" (forced: {result.options.regime})" if result.options.regime else ""
    note = f"regime over the bars: {', '.join(parts)}{forced}"
    if counts[REGIMES.index("UNKNOWN")] == len(codes):
        note += "; UNKNOWN everywhere means fewer than 200 hourly candles, so no entries"
    return note


def format_text(result) -> str:
    """The full report as text (figures, breakdowns, the trade list)."""
    s, bars = result.stats, result.bars
    span = f"{kst(int(bars.ts[result.first]))} .. {kst(int(bars.ts[-1]))} KST" if s["bars"] else "no bars"
    lines = [
        f"Backtest {result.symbol}: {span}, {s['bars']:,} bars",
        f"strategy v{result.strategy_version}, risk v{result.risk_version}, "
        f"slippage {result.options.slippage_bps} bps, fee 0.05 %, {regime_note(result)}",
        "",
        f"total return   {_fmt(s['total_return_pct'], ' %')}   (equity {s['final_equity_krw']:,.0f} KRW "
        f"from {s['initial_krw']:,.0f})",
        f"CAGR           {_fmt(s['cagr_pct'], ' %')}",
        f"win rate       {_fmt(s['win_rate_pct'], ' %')}   ({s['trades']} closed, {s['open_trades']} open)",
        f"profit factor  {_fmt(s['profit_factor'])}",
        f"max drawdown   {_fmt(s['max_drawdown_pct'], ' %')}",
        f"Sharpe         {_fmt(s['sharpe'])}",
        f"Sortino        {_fmt(s['sortino'])}",
        f"Calmar         {_fmt(s['calmar'])}",
        f"exposure       {_fmt(s['exposure_pct'], ' %')}",
        f"average hold   {_fmt(s['avg_hold_hours'], ' h')}",
        f"risk refusals  {s['blocked_by_risk'] or 'none'}",
    ]
    for title, key in (("by exit reason", "by_exit_reason"), ("by regime at entry", "by_regime")):
        lines += ["", f"{title}:"]
        for name, g in s[key].items():
            lines.append(
                f"  {name:<15} {g['count']:>5} trades  win {g['win_rate_pct']:>6.2f} %  "
                f"avg {g['avg_pnl_pct']:>7.3f} %  total {g['total_pnl_krw']:>14,.0f} KRW"
            )
    lines += ["", "trades (KST):", "  entry             exit              regime    reason          pnl %"]
    for t in result.trades:
        exit_at = kst(t.exit_at) if t.exit_at else "(open)          "
        lines.append(
            f"  {kst(t.entry_at)}  {exit_at}  {t.regime:<9} {t.exit_reason or '-':<15} "
            f"{t.pnl_pct:>7.3f}  buy {t.entry_price.normalize():,f} x {t.quantity}"
            + (f" sell {t.exit_price.normalize():,f}" if t.exit_price else "")
        )
    return "\n".join(lines)


def _thin(n: int) -> np.ndarray:
    """Indices of at most MAX_POINTS evenly spaced points (first and last kept)."""
    if n <= MAX_POINTS:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, MAX_POINTS).astype(np.int64))


def write_html(result, path: str) -> None:
    """Equity, drawdown, and price with entries/exits, in one offline HTML file (no CDN)."""
    first, bars = result.first, result.bars
    idx = _thin(len(result.equity))
    when = [datetime.fromtimestamp(int(t), UTC).astimezone(KST) for t in bars.ts[first:][idx]]
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, row_heights=[0.5, 0.3, 0.2], vertical_spacing=0.04)
    fig.add_trace(go.Scatter(x=when, y=bars.close[first:][idx], name="close", line={"width": 1}), 1, 1)
    for side, attr, color, symbol in (
        ("entry", "entry", "green", "triangle-up"),
        ("exit", "exit", "red", "triangle-down"),
    ):
        done = [t for t in result.trades if getattr(t, f"{attr}_at")]
        fig.add_trace(
            go.Scatter(
                x=[datetime.fromtimestamp(getattr(t, f"{attr}_at"), UTC).astimezone(KST) for t in done],
                y=[float(getattr(t, f"{attr}_price")) for t in done],
                mode="markers",
                name=side,
                marker={"color": color, "symbol": symbol, "size": 8},
                text=[t.exit_reason or t.regime for t in done],
            ),
            1,
            1,
        )
    fig.add_trace(go.Scatter(x=when, y=result.equity[idx], name="equity (KRW)"), 2, 1)
    fig.add_trace(
        go.Scatter(x=when, y=drawdown_series(result.equity)[idx], name="drawdown %", fill="tozeroy"), 3, 1
    )
    fig.update_layout(
        title=f"Backtest {result.symbol} (strategy v{result.strategy_version}): "
        f"return {result.stats['total_return_pct']:.2f} %, "
        f"max drawdown {result.stats['max_drawdown_pct']:.2f} %",
        height=900,
    )
    summary = "<pre>" + format_text(result).replace("&", "&amp;").replace("<", "&lt;") + "</pre>"
    html = fig.to_html(include_plotlyjs=True, full_html=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(html.replace("</body>", summary + "</body>"))


def report_data(result) -> dict:
    """The report as built-in types for the Backtest page: statistics, the text report, thinned
    series for price / equity / drawdown (KST), and the trade list."""
    first, bars = result.first, result.bars
    idx = _thin(len(result.equity))
    return {
        "symbol": result.symbol,
        "strategy_version": result.strategy_version,
        "risk_version": result.risk_version,
        "stats": result.stats,
        "text": format_text(result),
        "t": [kst(int(t)) for t in bars.ts[first:][idx]],
        "close": [float(x) for x in bars.close[first:][idx]],
        "equity": [float(x) for x in result.equity[idx]],
        "drawdown": [float(x) for x in drawdown_series(result.equity)[idx]],
        "trades": [
            {
                "entry_at": kst(t.entry_at),
                "entry_price": float(t.entry_price),
                "quantity": float(t.quantity),
                "exit_at": kst(t.exit_at) if t.exit_at else None,
                "exit_price": float(t.exit_price) if t.exit_price is not None else None,
                "exit_reason": t.exit_reason,
                "regime": t.regime,
                "pnl": float(t.pnl),
                "pnl_pct": t.pnl_pct,
            }
            for t in result.trades
        ],
    }
