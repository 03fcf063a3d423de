"""The backtest report: plain text for the terminal, and a self-contained plotly HTML page.

One symbol's report (format_text, write_html, report_data) and a portfolio's
(format_portfolio_text, write_portfolio_html, portfolio_report_data) are built from the same
pieces: the figures, the breakdowns, the trade list with its scale-outs, the chart markers.
The words follow the active language (the Backtest page's job runs in the language of whoever
started it; the command in the default one) and every figure goes through core.formatting.
"""

from bisect import bisect_right
from datetime import UTC, datetime

import numpy as np
import plotly.graph_objects as go
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext
from plotly.subplots import make_subplots

from core.formatting import krw, number, percent, price, quantity
from core.kst import KST, kst_text
from market.regime import REGIMES

from .backtest import PortfolioResult
from .performance import drawdown_series

MAX_POINTS = 4000  # the browser gets at most this many points per line, never a year of minutes


def kst(epoch: int) -> str:
    return kst_text(datetime.fromtimestamp(epoch, UTC))


def _na() -> str:
    # Translators: a figure that cannot be computed (no trades, a single day).
    return _("n/a")


def _num(value) -> str:
    """A ratio to two decimals, or n/a."""
    return _na() if value is None else number(value, 2)


def _pct(value, places: int = 2) -> str:
    """A figure already in percent ("5.00%"), or n/a."""
    return _na() if value is None else percent(value, places)


def _refusals(by_rule: dict) -> str:
    """Risk refusals by rule ("DAILY_TRADE_LIMIT 12, COOLDOWN 3"), or none."""
    return ", ".join(f"{rule} {number(n)}" for rule, n in by_rule.items()) or pgettext("no refusal", "none")


def regime_note(result) -> str:
    codes = result.regime_codes[result.first :]
    counts = np.bincount(codes, minlength=len(REGIMES))
    parts = ", ".join(
        f"{REGIMES[i]} {percent(c / max(len(codes), 1) * 100, 0)}" for i, c in enumerate(counts) if c
    )
    if result.options.regime:
        # Translators: %(regime)s is a regime code forced for the whole run (BULL, SIDEWAYS, BEAR).
        note = _("regime over the bars: %(parts)s (forced: %(regime)s)") % {
            "parts": parts,
            "regime": result.options.regime,
        }
    else:
        note = _("regime over the bars: %(parts)s") % {"parts": parts}
    if counts[REGIMES.index("UNKNOWN")] == len(codes):
        note += "; " + _("UNKNOWN everywhere means fewer than 200 hourly candles, so no entries")
    return note


def _span(ts: np.ndarray) -> str:
    if not len(ts):
        return _("no bars")
    return _("%(start)s .. %(end)s KST") % {"start": kst(int(ts[0])), "end": kst(int(ts[-1]))}


def _bars(ts: np.ndarray) -> str:
    return ngettext("%(count)s bar", "%(count)s bars", len(ts)) % {"count": number(len(ts))}


def _run_settings(result) -> str:
    return _("strategy v%(strategy)s, risk v%(risk)s, slippage %(slippage)s bps, fee %(fee)s") % {
        "strategy": result.strategy_version,
        "risk": result.risk_version,
        "slippage": number(result.options.slippage_bps),
        "fee": percent(0.05),
    }


def _figure(label: str, value: str) -> str:
    """One line of the figures: the label in a column, then the value."""
    return f"{label:<14} {value}"


def _figure_lines(result) -> list[str]:
    """The headline figures of one symbol's or a portfolio's run."""
    s = result.stats
    counts = [
        _("%(count)s closed") % {"count": number(s["trades"])},
        _("%(count)s open") % {"count": number(s["open_trades"])},
    ]
    if s.get("scale_outs"):
        counts.append(
            ngettext("%(count)s scale-out", "%(count)s scale-outs", s["scale_outs"])
            % {"count": number(s["scale_outs"])}
        )
    equity = _("(equity %(final)s from %(initial)s)") % {
        "final": krw(s["final_equity_krw"]),
        "initial": krw(s["initial_krw"]),
    }
    hours = (
        _na() if s["avg_hold_hours"] is None else _("%(hours)s h") % {"hours": number(s["avg_hold_hours"], 2)}
    )
    return [
        _figure(_("total return"), f"{_pct(s['total_return_pct'])}   {equity}"),
        _figure("CAGR", _pct(s["cagr_pct"])),
        _figure(_("win rate"), f"{_pct(s['win_rate_pct'])}   ({', '.join(counts)})"),
        _figure(_("profit factor"), _num(s["profit_factor"])),
        _figure(_("max drawdown"), _pct(s["max_drawdown_pct"])),
        _figure(_("Sharpe"), _num(s["sharpe"])),
        _figure(_("Sortino"), _num(s["sortino"])),
        _figure(_("Calmar"), _num(s["calmar"])),
        _figure(_("exposure"), _pct(s["exposure_pct"])),
        _figure(_("average hold"), hours),
        _figure(_("risk refusals"), _refusals(s["blocked_by_risk"])),
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
    text = ngettext(
        "%(halved)s of %(entries)s entry halved while volatility was high (%(fits)s stored GARCH fits)",
        "%(halved)s of %(entries)s entries halved while volatility was high (%(fits)s stored GARCH fits)",
        len(result.trades),
    )
    figures = {"halved": number(halved), "entries": number(len(result.trades)), "fits": number(len(fits))}
    return [_figure(_("volatility"), text % figures)]


def _breakdown_lines(stats: dict) -> list[str]:
    """Sales by exit reason (a scale-out is its own PARTIAL_TAKE_PROFIT sale), trades by regime."""
    lines = []
    sections = (
        (_("by exit reason:"), "by_exit_reason", lambda n: ngettext("%(count)s sale", "%(count)s sales", n)),
        (_("by regime at entry:"), "by_regime", lambda n: ngettext("%(count)s trade", "%(count)s trades", n)),
    )
    for title, key, counted in sections:
        lines += ["", title]
        for name, g in stats[key].items():
            figures = {
                "win": f"{percent(g['win_rate_pct']):>7}",
                "avg": f"{percent(g['avg_pnl_pct'], 3, sign=True):>8}",
                "total": f"{krw(g['total_pnl_krw'], sign=True):>17}",
            }
            count = counted(g["count"]) % {"count": f"{number(g['count']):>5}"}
            row = _("win %(win)s  avg %(avg)s  total %(total)s") % figures
            lines.append(f"  {name:<19} {count}  {row}")
    return lines


def _trade_lines(trades, with_symbol: bool = False) -> list[str]:
    """The trade list in KST; each scale-out sale on its own line under its trade."""
    head = "  " + (_("symbol").ljust(10) if with_symbol else "")
    head += _("entry").ljust(18) + _("exit").ljust(18) + _("regime").ljust(10) + _("reason").ljust(16)
    lines = ["", _("trades (KST):"), head + _("pnl %").rjust(7)]
    for t in trades:
        exit_at = kst(t.exit_at) if t.exit_at else _("(open)").ljust(16)
        bought = _("buy %(price)s x %(quantity)s") % {
            "price": price(t.entry_price),
            "quantity": quantity(t.quantity),
        }
        sold = ""
        if t.exit_price is not None and t.partials:  # the rest, after scale-outs
            sold = " " + _("sell %(price)s x %(quantity)s") % {
                "price": price(t.exit_price),
                "quantity": quantity(t.exits[-1].quantity),
            }
        elif t.exit_price is not None:
            sold = " " + _("sell %(price)s") % {"price": price(t.exit_price)}
        who = f"  {t.symbol:<9} " if with_symbol else "  "
        lines.append(
            f"{who}{kst(t.entry_at)}  {exit_at}  {t.regime:<9} {t.exit_reason or '-':<15} "
            f"{number(t.pnl_pct, 3):>7}  {bought}{sold}"
        )
        lines += [
            " " * len(who)
            + "  "
            + _("scale-out %(at)s  sell %(price)s x %(quantity)s  pnl %(pnl)s (%(pct)s)")
            % {
                "at": kst(p.at),
                "price": price(p.price),
                "quantity": quantity(p.quantity),
                "pnl": krw(p.pnl, sign=True),
                "pct": percent(p.pnl_pct, 3, sign=True),
            }
            for p in t.partials
        ]
    return lines


def format_text(result) -> str:
    """The full report as text (figures, breakdowns, the trade list)."""
    s = result.stats
    lines = [
        _("Backtest %(symbol)s: %(span)s, %(bars)s")
        % {"symbol": result.symbol, "span": _span(result.ts), "bars": _bars(result.ts)},
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
    columns = [
        _("trades").rjust(7),
        _("open").rjust(6),
        _("win %").rjust(9),
        _("closed PnL").rjust(14),
        _("with open").rjust(14),
        # Translators: a narrow column header, "profit factor" cut short.
        _("profit f.").rjust(11),
        _("scale-outs").rjust(12),
        "  " + _("refusals"),
    ]
    lines = [
        "",
        _("per symbol (PnL in KRW; 'with open' marks an open position at the last close):"),
        "  " + _("symbol").ljust(11) + "".join(columns),
    ]
    for r in rows:
        why = ", ".join(f"{rule} {number(n)}" for rule, n in sorted(r["refused_by"].items()))
        lines.append(
            f"  {r['symbol']:<11} {number(r['trades']):>6} {number(r['open_trades']):>5} "
            f"{_pct(r['win_rate_pct']):>8} {number(r['closed_pnl_krw'], 0):>13} "
            f"{number(r['pnl_krw'], 0):>13} "
            f"{_num(r['profit_factor']):>10} {number(r['scale_outs']):>11}  "
            f"{number(r['refusals'])}{f' ({why})' if why else ''}"
        )
    return lines


def format_portfolio_text(result: PortfolioResult) -> str:
    """A portfolio run as text: the account's figures, the per-symbol table, each symbol's
    regimes, the breakdowns and every trade."""
    s, use = result.stats, exposure_figures(result)
    head = ngettext(
        "Portfolio backtest of %(count)s market from one account (%(symbols)s): %(span)s, %(bars)s",
        "Portfolio backtest of %(count)s markets from one account (%(symbols)s): %(span)s, %(bars)s",
        len(result.symbols),
    ) % {
        "count": number(len(result.symbols)),
        "symbols": ", ".join(result.symbols),
        "span": _span(result.ts),
        "bars": _bars(result.ts),
    }
    in_use = _("%(average)s of equity on average, peak %(peak)s") % {
        "average": percent(use["avg_exposure_pct"]),
        "peak": percent(use["peak_exposure_pct"]),
    }
    lines = [
        head,
        _run_settings(result),
        "",
        *_figure_lines(result),
        _figure(_("capital in use"), in_use),
        *_symbol_table(symbol_rows(result)),
        "",
        _("regimes:"),
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
        (_("entry"), trades, "entry_at", "entry_price", [f"{t.regime} {t.sizing}" for t in trades],
         {"color": "green", "symbol": "triangle-up", "size": 8}),
        (_("scale-out"), partials, "at", "price", [f"{p.reason} {krw(p.pnl, sign=True)}" for p in partials],
         {"color": "orange", "symbol": "diamond", "size": 9, "line": {"width": 1, "color": "black"}}),
        (_("exit"), done, "exit_at", "exit_price", [f"{t.exit_reason} {krw(t.pnl, sign=True)}" for t in done],
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
        if items or at != "at"  # no empty scale-out legend entry when none happened
    ]


def _drawdown_name() -> str:
    """A chart line's name, read in the active language."""
    return _("drawdown %")


def _exposure_name() -> str:
    # a placeholder for the unit: a bare "% o" would read as a format directive to gettext's checks
    return _("exposure %(unit)s of equity") % {"unit": "%"}


def _headline(result) -> dict:
    """The return and the max drawdown of a run, for a chart's title."""
    return {
        "return": percent(result.stats["total_return_pct"], sign=True),
        "drawdown": percent(result.stats["max_drawdown_pct"]),
    }


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
    fig.add_trace(go.Scatter(x=when, y=bars.close[first:][idx], name=_("close"), line={"width": 1}), 1, 1)
    for trace in _trade_markers(result.trades):
        fig.add_trace(trace, 1, 1)
    fig.add_trace(go.Scatter(x=when, y=result.equity[idx], name=_("equity (KRW)")), 2, 1)
    fig.add_trace(
        go.Scatter(x=when, y=drawdown_series(result.equity)[idx], name=_drawdown_name(), fill="tozeroy"), 3, 1
    )
    fig.update_layout(
        title=_("Backtest %(symbol)s (strategy v%(version)s): return %(return)s, max drawdown %(drawdown)s")
        % {"symbol": result.symbol, "version": result.strategy_version, **_headline(result)},
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
        subplot_titles=[_("equity (KRW)"), _drawdown_name(), _exposure_name(),
                        *(_("%(symbol)s close") % {"symbol": symbol} for symbol in result.symbols)],
    )  # fmt: skip
    idx = _thin(len(result.equity))
    when = _when(result.ts[idx])
    fig.add_trace(go.Scatter(x=when, y=result.equity[idx], name=_("equity (KRW)")), 1, 1)
    drawdown = drawdown_series(result.equity)[idx]
    fig.add_trace(go.Scatter(x=when, y=drawdown, name=_drawdown_name(), fill="tozeroy"), 2, 1)
    exposure = result.exposure_pct[idx]
    fig.add_trace(go.Scatter(x=when, y=exposure, name=_exposure_name(), fill="tozeroy"), 3, 1)
    for row, symbol in enumerate(result.symbols, start=4):
        own = result.results[symbol]
        thin = _thin(len(own.ts))
        close = own.bars.close[own.first :][thin]
        line = go.Scatter(x=_when(own.ts[thin]), y=close, name=symbol, legendgroup=symbol, line={"width": 1})
        fig.add_trace(line, row, 1)
        for trace in _trade_markers(own.trades, symbol):
            fig.add_trace(trace, row, 1)
    title = ngettext(
        "Portfolio backtest of %(count)s market (strategy v%(version)s): "
        "return %(return)s, max drawdown %(drawdown)s",
        "Portfolio backtest of %(count)s markets (strategy v%(version)s): "
        "return %(return)s, max drawdown %(drawdown)s",
        len(result.symbols),
    )
    fig.update_layout(
        title=title
        % {"count": number(len(result.symbols)), "version": result.strategy_version, **_headline(result)},
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
