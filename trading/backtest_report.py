"""The backtest report: plain text for the terminal, and a self-contained plotly HTML page.

One symbol's report (format_text, write_html, report_data) and a portfolio's
(format_portfolio_text, write_portfolio_html, portfolio_report_data) are built from the same
pieces: the figures, the breakdowns, the trade list with its scale-outs, the chart markers.
"""

from bisect import bisect_right
from datetime import UTC, datetime

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.kst import KST, kst_text
from market.regime import REGIMES

from .backtest import PortfolioResult
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


def _span(ts: np.ndarray) -> str:
    return f"{kst(int(ts[0]))} .. {kst(int(ts[-1]))} KST" if len(ts) else "no bars"


def _run_settings(result) -> str:
    return (
        f"strategy v{result.strategy_version}, risk v{result.risk_version}, "
        f"slippage {result.options.slippage_bps} bps, fee 0.05 %"
    )


def _figure_lines(result) -> list[str]:
    """The headline figures of one symbol's or a portfolio's run."""
    s = result.stats
    scale_outs = f", {s['scale_outs']} scale-outs" if s.get("scale_outs") else ""
    return [
        f"total return   {_fmt(s['total_return_pct'], ' %')}   (equity {s['final_equity_krw']:,.0f} KRW "
        f"from {s['initial_krw']:,.0f})",
        f"CAGR           {_fmt(s['cagr_pct'], ' %')}",
        f"win rate       {_fmt(s['win_rate_pct'], ' %')}   ({s['trades']} closed, {s['open_trades']} open"
        f"{scale_outs})",
        f"profit factor  {_fmt(s['profit_factor'])}",
        f"max drawdown   {_fmt(s['max_drawdown_pct'], ' %')}",
        f"Sharpe         {_fmt(s['sharpe'])}",
        f"Sortino        {_fmt(s['sortino'])}",
        f"Calmar         {_fmt(s['calmar'])}",
        f"exposure       {_fmt(s['exposure_pct'], ' %')}",
        f"average hold   {_fmt(s['avg_hold_hours'], ' h')}",
        f"risk refusals  {s['blocked_by_risk'] or 'none'}",
        *_volatility_lines(result),
    ]


def _volatility_lines(result) -> list[str]:
    """How many entries the stored high-volatility state halved (only with that history)."""
    fits = result.options.volatility
    if not fits:
        return []
    times = [at for at, _ in fits]

    def high(t: int) -> bool:  # the newest fit at or before the entry, as the engine reads it
        i = bisect_right(times, t) - 1
        return i >= 0 and fits[i][1]

    halved = sum(high(t.entry_at) for t in result.trades)
    return [
        f"volatility     {halved} of {len(result.trades)} entries halved while volatility was high "
        f"({len(fits)} stored GARCH fits)"
    ]


def _breakdown_lines(stats: dict) -> list[str]:
    """Sales by exit reason (a scale-out is its own PARTIAL_TAKE_PROFIT sale), trades by regime."""
    lines = []
    for title, key in (("by exit reason", "by_exit_reason"), ("by regime at entry", "by_regime")):
        lines += ["", f"{title}:"]
        for name, g in stats[key].items():
            lines.append(
                f"  {name:<19} {g['count']:>5} {'sales' if key == 'by_exit_reason' else 'trades'}  "
                f"win {g['win_rate_pct']:>6.2f} %  avg {g['avg_pnl_pct']:>7.3f} %  "
                f"total {g['total_pnl_krw']:>14,.0f} KRW"
            )
    return lines


def _trade_lines(trades, with_symbol: bool = False) -> list[str]:
    """The trade list in KST; each scale-out sale on its own line under its trade."""
    head = ("  symbol    " if with_symbol else "  ") + "entry             exit              regime    reason"
    lines = ["", "trades (KST):", f"{head}          pnl %"]
    for t in trades:
        exit_at = kst(t.exit_at) if t.exit_at else "(open)          "
        sold = ""
        if t.exit_price is not None:
            last = f" x {t.exits[-1].quantity}" if t.partials else ""  # the rest, after scale-outs
            sold = f" sell {t.exit_price.normalize():,f}{last}"
        who = f"  {t.symbol:<9} " if with_symbol else "  "
        lines.append(
            f"{who}{kst(t.entry_at)}  {exit_at}  {t.regime:<9} {t.exit_reason or '-':<15} "
            f"{t.pnl_pct:>7.3f}  buy {t.entry_price.normalize():,f} x {t.quantity}{sold}"
        )
        lines += [
            f"{' ' * len(who)}  scale-out {kst(p.at)}  sell {p.price.normalize():,f} x {p.quantity}  "
            f"pnl {p.pnl:,.0f} KRW ({p.pnl_pct:.3f} %)"
            for p in t.partials
        ]
    return lines


def format_text(result) -> str:
    """The full report as text (figures, breakdowns, the trade list)."""
    s = result.stats
    lines = [
        f"Backtest {result.symbol}: {_span(result.ts)}, {s['bars']:,} bars",
        f"{_run_settings(result)}, {regime_note(result)}",
        "",
        *_figure_lines(result),
        *_breakdown_lines(s),
        *_trade_lines(result.trades),
    ]
    return "\n".join(lines)


def exposure_figures(result: PortfolioResult) -> dict:
    """The capital a portfolio had in open positions, % of its equity: average and peak."""
    exposure = result.exposure_pct
    return {
        "avg_exposure_pct": round(float(np.mean(exposure)), 2) if len(exposure) else 0.0,
        "peak_exposure_pct": round(float(np.max(exposure)), 2) if len(exposure) else 0.0,
    }


def symbol_rows(result: PortfolioResult) -> list[dict]:
    """One row per symbol of a portfolio run, in the run's order: its trades, win rate, PnL (of
    closed trades, and with the open position and its scale-outs marked at the last close), profit
    factor, scale-outs and risk refusals."""
    initial = float(result.options.initial_krw)
    rows = []
    for symbol in result.symbols:
        stats, own = result.per_symbol[symbol], result.results[symbol]
        refused = stats["blocked_by_risk"]
        rows.append(
            {
                "symbol": symbol,
                "trades": stats["trades"],
                "open_trades": stats["open_trades"],
                "win_rate_pct": stats["win_rate_pct"],
                "closed_pnl_krw": stats["total_pnl_krw"],
                "pnl_krw": round(float(own.equity[-1]) - initial, 2) if len(own.equity) else 0.0,
                "profit_factor": stats["profit_factor"],
                "scale_outs": stats["scale_outs"],
                "refusals": sum(refused.values()),
                "refused_by": refused,
            }
        )
    return rows


def _symbol_table(rows: list[dict]) -> list[str]:
    lines = [
        "",
        "per symbol (PnL in KRW; 'with open' marks an open position at the last close):",
        "  symbol      trades  open    win %    closed PnL     with open  profit f.  scale-outs  refusals",
    ]
    for r in rows:
        why = ", ".join(f"{rule} {n}" for rule, n in sorted(r["refused_by"].items()))
        lines.append(
            f"  {r['symbol']:<11} {r['trades']:>6} {r['open_trades']:>5} {_fmt(r['win_rate_pct']):>8} "
            f"{r['closed_pnl_krw']:>13,.0f} {r['pnl_krw']:>13,.0f} {_fmt(r['profit_factor']):>10} "
            f"{r['scale_outs']:>11}  {r['refusals']}{f' ({why})' if why else ''}"
        )
    return lines


def format_portfolio_text(result: PortfolioResult) -> str:
    """A portfolio run as text: the account's figures, the per-symbol table, each symbol's
    regimes, the breakdowns and every trade."""
    s, use = result.stats, exposure_figures(result)
    lines = [
        f"Portfolio backtest of {len(result.symbols)} markets from one account "
        f"({', '.join(result.symbols)}): {_span(result.ts)}, {s['bars']:,} bars",
        _run_settings(result),
        "",
        *_figure_lines(result),
        f"capital in use {use['avg_exposure_pct']:.2f} % of equity on average, peak "
        f"{use['peak_exposure_pct']:.2f} %",
        *_symbol_table(symbol_rows(result)),
        "",
        "regimes:",
        *(f"  {symbol:<11} {regime_note(result.results[symbol])}" for symbol in result.symbols),
        *_breakdown_lines(s),
        *_trade_lines(result.trades, with_symbol=True),
    ]
    return "\n".join(lines)


def _thin(n: int) -> np.ndarray:
    """Indices of at most MAX_POINTS evenly spaced points (first and last kept)."""
    if n <= MAX_POINTS:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, MAX_POINTS).astype(np.int64))


def _when(epochs) -> list[datetime]:
    return [datetime.fromtimestamp(int(t), UTC).astimezone(KST) for t in epochs]


def _trade_markers(trades, group: str = "") -> list[go.Scatter]:
    """Entries, scale-out sales and final exits as three marker traces (scale-outs distinct)."""
    done = [t for t in trades if t.exit_at]
    partials = [p for t in trades for p in t.partials]
    prefix = f"{group} " if group else ""
    markers = [
        ("entry", trades, "entry_at", "entry_price", [f"{t.regime} {t.sizing}" for t in trades],
         {"color": "green", "symbol": "triangle-up", "size": 8}),
        ("scale-out", partials, "at", "price", [f"{p.reason} {p.pnl:,.0f} KRW" for p in partials],
         {"color": "orange", "symbol": "diamond", "size": 9, "line": {"width": 1, "color": "black"}}),
        ("exit", done, "exit_at", "exit_price", [f"{t.exit_reason} {t.pnl:,.0f} KRW" for t in done],
         {"color": "red", "symbol": "triangle-down", "size": 8}),
    ]  # fmt: skip
    return [
        go.Scatter(
            x=_when(getattr(item, at) for item in items),
            y=[float(getattr(item, price)) for item in items],
            mode="markers",
            name=prefix + name,
            legendgroup=group or None,
            marker=marker,
            text=text,
        )
        for name, items, at, price, text, marker in markers
        if items or name != "scale-out"  # no empty scale-out legend entry when none happened
    ]


def _write(fig, text: str, path: str) -> None:
    """The figure with plotly.js embedded (no CDN) and the text report under it, in one file."""
    summary = "<pre>" + text.replace("&", "&amp;").replace("<", "&lt;") + "</pre>"
    html = fig.to_html(include_plotlyjs=True, full_html=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(html.replace("</body>", summary + "</body>"))


def write_html(result, path: str) -> None:
    """Equity, drawdown, and price with entries/scale-outs/exits, in one offline HTML file (no CDN)."""
    first, bars = result.first, result.bars
    idx = _thin(len(result.equity))
    when = _when(bars.ts[first:][idx])
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, row_heights=[0.5, 0.3, 0.2], vertical_spacing=0.04)
    fig.add_trace(go.Scatter(x=when, y=bars.close[first:][idx], name="close", line={"width": 1}), 1, 1)
    for trace in _trade_markers(result.trades):
        fig.add_trace(trace, 1, 1)
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
    _write(fig, format_text(result), path)


def write_portfolio_html(result: PortfolioResult, path: str) -> None:
    """A portfolio run in one offline HTML file (no CDN): the account's equity, drawdown and
    exposure (% of equity in open positions), then each symbol's price with its entries,
    scale-outs and exits, then the text report."""
    heights = [320, 180, 160] + [240] * len(result.symbols)  # px: the page grows with the symbols
    fig = make_subplots(
        rows=len(heights), cols=1, shared_xaxes=True, row_heights=heights,
        vertical_spacing=40 / sum(heights),
        subplot_titles=["equity (KRW)", "drawdown %", "exposure % of equity",
                        *(f"{symbol} close" for symbol in result.symbols)],
    )  # fmt: skip
    idx = _thin(len(result.equity))
    when = _when(result.ts[idx])
    fig.add_trace(go.Scatter(x=when, y=result.equity[idx], name="equity (KRW)"), 1, 1)
    drawdown = drawdown_series(result.equity)[idx]
    fig.add_trace(go.Scatter(x=when, y=drawdown, name="drawdown %", fill="tozeroy"), 2, 1)
    exposure = result.exposure_pct[idx]
    fig.add_trace(go.Scatter(x=when, y=exposure, name="exposure % of equity", fill="tozeroy"), 3, 1)
    for row, symbol in enumerate(result.symbols, start=4):
        own = result.results[symbol]
        thin = _thin(len(own.ts))
        close = own.bars.close[own.first :][thin]
        line = go.Scatter(x=_when(own.ts[thin]), y=close, name=symbol, legendgroup=symbol, line={"width": 1})
        fig.add_trace(line, row, 1)
        for trace in _trade_markers(own.trades, symbol):
            fig.add_trace(trace, row, 1)
    fig.update_layout(
        title=f"Portfolio backtest of {len(result.symbols)} markets (strategy v{result.strategy_version}): "
        f"return {result.stats['total_return_pct']:.2f} %, "
        f"max drawdown {result.stats['max_drawdown_pct']:.2f} %",
        height=sum(heights) + 120,
    )
    _write(fig, format_portfolio_text(result), path)


def _trade_data(t) -> dict:
    """One trade as built-in types, its scale-out sales listed."""
    return {
        "symbol": t.symbol,
        "entry_at": kst(t.entry_at),
        "entry_price": float(t.entry_price),
        "quantity": float(t.quantity),
        "exit_at": kst(t.exit_at) if t.exit_at else None,
        "exit_price": float(t.exit_price) if t.exit_price is not None else None,
        "exit_reason": t.exit_reason,
        "regime": t.regime,
        "pnl": float(t.pnl),
        "pnl_pct": t.pnl_pct,
        "partials": [
            {"at": kst(p.at), "price": float(p.price), "quantity": float(p.quantity), "pnl": float(p.pnl)}
            for p in t.partials
        ],
    }


def report_data(result) -> dict:
    """The report as built-in types for the Backtest page: statistics, the text report, thinned
    series for price / equity / drawdown (KST), and the trade list."""
    first, bars = result.first, result.bars
    idx = _thin(len(result.equity))
    return {
        "mode": "single",
        "symbol": result.symbol,
        "strategy_version": result.strategy_version,
        "risk_version": result.risk_version,
        "stats": result.stats,
        "text": format_text(result),
        "t": [kst(int(t)) for t in bars.ts[first:][idx]],
        "close": [float(x) for x in bars.close[first:][idx]],
        "equity": [float(x) for x in result.equity[idx]],
        "drawdown": [float(x) for x in drawdown_series(result.equity)[idx]],
        "trades": [_trade_data(t) for t in result.trades],
    }


def portfolio_report_data(result: PortfolioResult) -> dict:
    """A portfolio run as built-in types for the Backtest page: the account's statistics and
    thinned equity / drawdown / exposure series (KST), the per-symbol table, the text report and
    every trade."""
    idx = _thin(len(result.equity))
    return {
        "mode": "portfolio",
        "symbols": list(result.symbols),
        "strategy_version": result.strategy_version,
        "risk_version": result.risk_version,
        "stats": result.stats | exposure_figures(result),
        "per_symbol": symbol_rows(result),
        "text": format_portfolio_text(result),
        "t": [kst(int(t)) for t in result.ts[idx]],
        "equity": [float(x) for x in result.equity[idx]],
        "drawdown": [float(x) for x in drawdown_series(result.equity)[idx]],
        "exposure": [float(x) for x in result.exposure_pct[idx]],
        "trades": [_trade_data(t) for t in result.trades],
    }
