// Backtest run: poll the job until it finishes, then draw it: one symbol (price + fills, equity,
// drawdown) or a portfolio (the account's figures, equity, drawdown and exposure, one row per
// symbol). No inline script (the page's CSP).
(function () {
  "use strict";
  const url = document.currentScript.dataset.url;
  // figures through the one formatter (static/js/format.js); a figure that cannot be computed reads "n/a"
  const NA = gettext("n/a");
  const known = (v) => v !== null && v !== undefined;
  const pct = (v, digits, signed) => known(v) ? CP.percent(v, digits, signed) : NA;
  const num = (v, digits) => known(v) ? CP.number(v, digits) : NA;
  const krw = (v) => known(v) ? CP.krw(v, true) : NA;
  const count = (v) => num(v, 0);
  const hours = (v) => known(v) ? interpolate(gettext("%(hours)s h"), {hours: CP.number(v, 1)}, true) : NA;
  const refusalList = (byRule) => Object.entries(byRule || {}).map(([rule, n]) => rule + " " + CP.number(n)).join(", ");

  function stat(label, value) {
    const card = document.createElement("div");
    card.className = "card";
    const h = document.createElement("h2");
    h.textContent = label;
    const v = document.createElement("div");
    v.className = "kpi";
    v.textContent = value;
    card.append(h, v);
    return card;
  }

  // the figure cards of any run, one symbol or a portfolio
  const accountStats = (s) => [
    stat(gettext("Total return"), pct(s.total_return_pct, 2, true)), stat(gettext("Win rate"), pct(s.win_rate_pct, 1)),
    stat(gettext("Max drawdown"), pct(s.max_drawdown_pct, 2)), stat(gettext("Sharpe"), num(s.sharpe, 2)),
    stat(gettext("Profit factor"), num(s.profit_factor, 2)), stat(gettext("Trades"), count(s.trades))];

  function drawSymbol(r) {
    const s = r.stats;
    document.getElementById("stats").replaceChildren(...accountStats(s));
    document.getElementById("report-text").textContent = r.text;
    document.getElementById("report").hidden = false;  // before plotting: plotly sizes to its container
    const entries = r.trades, exits = r.trades.filter((t) => t.exit_at);
    const grid = "#253040";
    Plotly.newPlot("backtest-chart", [
      {x: r.t, y: r.close, name: gettext("close"), type: "scatter", mode: "lines", line: {width: 1, color: "#8a96a3"}},
      {x: entries.map((t) => t.entry_at), y: entries.map((t) => t.entry_price), name: gettext("entry"), mode: "markers", type: "scatter",
       marker: {symbol: "triangle-up", size: 9, color: "#58a6ff"}},
      {x: exits.map((t) => t.exit_at), y: exits.map((t) => t.exit_price), name: gettext("exit"), mode: "markers", type: "scatter",
       text: exits.map((t) => t.exit_reason + " " + krw(t.pnl)), marker: {symbol: "triangle-down", size: 9, color: "#e3b341"}},
      {x: r.t, y: r.equity, name: gettext("equity (KRW)"), type: "scatter", mode: "lines", yaxis: "y2", line: {color: "#3fb950"}},
      {x: r.t, y: r.drawdown, name: gettext("drawdown %"), type: "scatter", mode: "lines", fill: "tozeroy", yaxis: "y3", line: {color: "#f85149"}},
    ], {paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", font: {color: "#e6e9ee"}, margin: {t: 10, r: 10, b: 40, l: 80},
        legend: {orientation: "h", y: 1.05}, xaxis: {gridcolor: grid},
        yaxis: {domain: [0.45, 1], gridcolor: grid}, yaxis2: {domain: [0.2, 0.42], gridcolor: grid}, yaxis3: {domain: [0, 0.17], gridcolor: grid}},
      {displayModeBar: false, responsive: true});
  }

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  function symbolRow(r) {
    const tr = document.createElement("tr");
    tr.append(cell(r.symbol), cell(count(r.trades)), cell(count(r.open_trades)), cell(pct(r.win_rate_pct, 2)),
      cell(num(r.closed_pnl_krw, 0), tone(r.closed_pnl_krw)), cell(num(r.pnl_krw, 0), tone(r.pnl_krw)),
      cell(num(r.profit_factor, 2)), cell(count(r.scale_outs)),
      cell(r.refusals ? count(r.refusals) + " (" + refusalList(r.refused_by) + ")" : "0"));
    return tr;
  }

  function drawPortfolio(r) {
    const s = r.stats;
    document.getElementById("stats").replaceChildren(
      ...accountStats(s), stat(gettext("Scale-outs"), count(s.scale_outs)), stat(gettext("Avg exposure"), pct(s.avg_exposure_pct, 1)));
    document.querySelector("#per-symbol tbody").replaceChildren(...r.per_symbol.map(symbolRow));
    document.getElementById("report-text").textContent = r.text;
    document.getElementById("report").hidden = false;  // before plotting: plotly sizes to its container
    const grid = "#253040";
    Plotly.newPlot("backtest-chart", [
      {x: r.t, y: r.equity, name: gettext("equity (KRW)"), type: "scatter", mode: "lines", line: {color: "#3fb950"}},
      {x: r.t, y: r.drawdown, name: gettext("drawdown %"), type: "scatter", mode: "lines", fill: "tozeroy", yaxis: "y2", line: {color: "#f85149"}},
      {x: r.t, y: r.exposure, name: interpolate(gettext("exposure %(unit)s of equity"), {unit: "%"}, true), type: "scatter", mode: "lines", fill: "tozeroy", yaxis: "y3", line: {color: "#58a6ff"}},
    ], {paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", font: {color: "#e6e9ee"}, margin: {t: 10, r: 10, b: 40, l: 80},
        legend: {orientation: "h", y: 1.05}, xaxis: {gridcolor: grid},
        yaxis: {domain: [0.5, 1], gridcolor: grid}, yaxis2: {domain: [0.26, 0.46], gridcolor: grid},
        yaxis3: {domain: [0, 0.22], gridcolor: grid, rangemode: "tozero"}},
      {displayModeBar: false, responsive: true});
  }

  const tone = (v) => v > 0 ? "good" : (v < 0 ? "bad" : "");
  const row = (cells) => { const tr = document.createElement("tr"); tr.append(...cells); return tr; };
  const MAX_TRADE_ROWS = 500;  // a year can hold thousands: the plain-text report has them all

  // The report's sections as tables (the plain text stays below, folded, for copying).
  function drawTables(r) {
    const s = r.stats;
    const figures = [
      [gettext("Total return"), pct(s.total_return_pct, 2, true)], ["CAGR", pct(s.cagr_pct, 2, true)],
      [gettext("Win rate"), pct(s.win_rate_pct, 2) + " " + interpolate(gettext("(%(closed)s closed, %(open)s open)"),
        {closed: count(s.trades), open: count(s.open_trades)}, true)],
      [gettext("Profit factor"), num(s.profit_factor, 2)], [gettext("Max drawdown"), pct(s.max_drawdown_pct, 2)],
      [gettext("Sharpe"), num(s.sharpe, 2)], [gettext("Sortino"), num(s.sortino, 2)], [gettext("Calmar"), num(s.calmar, 2)],
      [gettext("Exposure"), pct(s.exposure_pct, 1)], [gettext("Average hold"), hours(s.avg_hold_hours)],
      [gettext("Risk refusals"), refusalList(s.blocked_by_risk) || pgettext("no refusal", "none")],
    ];
    document.querySelector("#figures tbody").replaceChildren(...figures.map(([k, v]) => row([cell(k), cell(v)])));
    const none = (text) => { const td = cell(text, "muted"); td.colSpan = 10; return row([td]); };
    const groups = (id, rows, empty) => {
      const lines = Object.entries(rows || {}).map(([name, g]) => row([cell(name), cell(count(g.count)), cell(num(g.win_rate_pct, 2)),
        cell(num(g.avg_pnl_pct, 3), tone(g.avg_pnl_pct)), cell(num(g.total_pnl_krw, 0), tone(g.total_pnl_krw))]));
      document.querySelector(id + " tbody").replaceChildren(...(lines.length ? lines : [none(empty)]));
    };
    groups("#by-exit-reason", s.by_exit_reason, gettext("No sale in this run."));
    groups("#by-regime", s.by_regime, gettext("No trade in this run."));
    const shown = r.trades.slice(0, MAX_TRADE_ROWS);
    document.getElementById("trades-shown").textContent = r.trades.length > shown.length
      ? interpolate(gettext("(first %(shown)s of %(total)s)"), {shown: count(shown.length), total: count(r.trades.length)}, true)
      : "(" + count(r.trades.length) + ")";
    document.querySelector("#trade-list tbody").replaceChildren(...(shown.length ? [] : [none(gettext("No trade in this run."))]), ...shown.map((t) => row([
      cell(t.symbol), cell(t.entry_at), cell(t.exit_at || gettext("(open)")), cell(CP.codeName(t.regime)), cell(t.exit_reason || "-"),
      cell(CP.price(t.entry_price)), cell(CP.quantity(t.quantity)), cell(t.exit_price === null ? "-" : CP.price(t.exit_price)),
      cell(num(t.pnl, 0), tone(t.pnl)), cell(num(t.pnl_pct, 3), tone(t.pnl_pct))])));
  }

  const draw = (r) => { drawTables(r); return r.per_symbol ? drawPortfolio(r) : drawSymbol(r); };

  async function poll() {
    const response = await fetch(url, {credentials: "same-origin"});
    const run = await response.json();
    document.getElementById("run-status").textContent = run.status_label || run.status || gettext("unknown");
    document.getElementById("run-stage").textContent = run.stage || "";
    document.getElementById("run-bar").style.width = (run.pct || 0) + "%";
    if (run.status === "finished") return draw(run.report);
    if (run.status === "failed" || run.error) {
      const error = document.getElementById("run-error");
      error.textContent = run.error || gettext("the run failed");
      error.hidden = false;
      return;
    }
    setTimeout(poll, 1000);
  }
  poll();
})();
