// Backtest run: poll the job until it finishes, then draw it: one symbol (price + fills, equity,
// drawdown) or a portfolio (the account's figures, equity, drawdown and exposure, one row per
// symbol). No inline script (the page's CSP).
(function () {
  "use strict";
  const url = document.currentScript.dataset.url;
  const fmt = (v, digits, suffix) => (v === null || v === undefined) ? "n/a"
    : Number(v).toLocaleString("en-US", {maximumFractionDigits: digits}) + (suffix || "");

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
    stat("Total return", fmt(s.total_return_pct, 2, " %")), stat("Win rate", fmt(s.win_rate_pct, 1, " %")),
    stat("Max drawdown", fmt(s.max_drawdown_pct, 2, " %")), stat("Sharpe", fmt(s.sharpe, 2)),
    stat("Profit factor", fmt(s.profit_factor, 2)), stat("Trades", fmt(s.trades, 0))];

  function drawSymbol(r) {
    const s = r.stats;
    document.getElementById("stats").replaceChildren(...accountStats(s));
    document.getElementById("report-text").textContent = r.text;
    document.getElementById("report").hidden = false;  // before plotting: plotly sizes to its container
    const entries = r.trades, exits = r.trades.filter((t) => t.exit_at);
    const grid = "#253040";
    Plotly.newPlot("backtest-chart", [
      {x: r.t, y: r.close, name: "close", type: "scatter", mode: "lines", line: {width: 1, color: "#8a96a3"}},
      {x: entries.map((t) => t.entry_at), y: entries.map((t) => t.entry_price), name: "entry", mode: "markers", type: "scatter",
       marker: {symbol: "triangle-up", size: 9, color: "#58a6ff"}},
      {x: exits.map((t) => t.exit_at), y: exits.map((t) => t.exit_price), name: "exit", mode: "markers", type: "scatter",
       text: exits.map((t) => t.exit_reason + " " + fmt(t.pnl, 0) + " KRW"), marker: {symbol: "triangle-down", size: 9, color: "#e3b341"}},
      {x: r.t, y: r.equity, name: "equity (KRW)", type: "scatter", mode: "lines", yaxis: "y2", line: {color: "#3fb950"}},
      {x: r.t, y: r.drawdown, name: "drawdown %", type: "scatter", mode: "lines", fill: "tozeroy", yaxis: "y3", line: {color: "#f85149"}},
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
    const refusals = Object.entries(r.refused_by).map(([rule, n]) => rule + " " + n).join(", ");
    tr.append(cell(r.symbol), cell(fmt(r.trades, 0)), cell(fmt(r.open_trades, 0)), cell(fmt(r.win_rate_pct, 2, " %")),
      cell(fmt(r.closed_pnl_krw, 0), tone(r.closed_pnl_krw)), cell(fmt(r.pnl_krw, 0), tone(r.pnl_krw)),
      cell(fmt(r.profit_factor, 2)), cell(fmt(r.scale_outs, 0)),
      cell(r.refusals ? r.refusals + " (" + refusals + ")" : "0"));
    return tr;
  }

  function drawPortfolio(r) {
    const s = r.stats;
    document.getElementById("stats").replaceChildren(
      ...accountStats(s), stat("Scale-outs", fmt(s.scale_outs, 0)), stat("Avg exposure", fmt(s.avg_exposure_pct, 1, " %")));
    document.querySelector("#per-symbol tbody").replaceChildren(...r.per_symbol.map(symbolRow));
    document.getElementById("report-text").textContent = r.text;
    document.getElementById("report").hidden = false;  // before plotting: plotly sizes to its container
    const grid = "#253040";
    Plotly.newPlot("backtest-chart", [
      {x: r.t, y: r.equity, name: "equity (KRW)", type: "scatter", mode: "lines", line: {color: "#3fb950"}},
      {x: r.t, y: r.drawdown, name: "drawdown %", type: "scatter", mode: "lines", fill: "tozeroy", yaxis: "y2", line: {color: "#f85149"}},
      {x: r.t, y: r.exposure, name: "exposure % of equity", type: "scatter", mode: "lines", fill: "tozeroy", yaxis: "y3", line: {color: "#58a6ff"}},
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
      ["Total return", fmt(s.total_return_pct, 2, " %")], ["CAGR", fmt(s.cagr_pct, 2, " %")],
      ["Win rate", fmt(s.win_rate_pct, 2, " %") + " (" + fmt(s.trades, 0) + " closed, " + fmt(s.open_trades, 0) + " open)"],
      ["Profit factor", fmt(s.profit_factor, 2)], ["Max drawdown", fmt(s.max_drawdown_pct, 2, " %")],
      ["Sharpe", fmt(s.sharpe, 2)], ["Sortino", fmt(s.sortino, 2)], ["Calmar", fmt(s.calmar, 2)],
      ["Exposure", fmt(s.exposure_pct, 1, " %")], ["Average hold", fmt(s.avg_hold_hours, 1, " h")],
      ["Risk refusals", s.blocked_by_risk ? Object.entries(s.blocked_by_risk).map(([k, n]) => k + " " + n).join(", ") || "none" : "none"],
    ];
    document.querySelector("#figures tbody").replaceChildren(...figures.map(([k, v]) => row([cell(k), cell(v)])));
    const none = (text) => { const td = cell(text, "muted"); td.colSpan = 10; return row([td]); };
    const groups = (id, rows, empty) => {
      const lines = Object.entries(rows || {}).map(([name, g]) => row([cell(name), cell(fmt(g.count, 0)), cell(fmt(g.win_rate_pct, 2)),
        cell(fmt(g.avg_pnl_pct, 3), tone(g.avg_pnl_pct)), cell(fmt(g.total_pnl_krw, 0), tone(g.total_pnl_krw))]));
      document.querySelector(id + " tbody").replaceChildren(...(lines.length ? lines : [none(empty)]));
    };
    groups("#by-exit-reason", s.by_exit_reason, "No sale in this run.");
    groups("#by-regime", s.by_regime, "No trade in this run.");
    const shown = r.trades.slice(0, MAX_TRADE_ROWS);
    document.getElementById("trades-shown").textContent = r.trades.length > shown.length
      ? "(first " + shown.length + " of " + r.trades.length + ")" : "(" + r.trades.length + ")";
    document.querySelector("#trade-list tbody").replaceChildren(...(shown.length ? [] : [none("No trade in this run.")]), ...shown.map((t) => row([
      cell(t.symbol), cell(t.entry_at), cell(t.exit_at || "(open)"), cell(t.regime), cell(t.exit_reason || "-"),
      cell(fmt(t.entry_price, 8)), cell(fmt(t.quantity, 8)), cell(t.exit_price === null ? "-" : fmt(t.exit_price, 8)),
      cell(fmt(t.pnl, 0), tone(t.pnl)), cell(fmt(t.pnl_pct, 3), tone(t.pnl_pct))])));
  }

  const draw = (r) => { drawTables(r); return r.per_symbol ? drawPortfolio(r) : drawSymbol(r); };

  async function poll() {
    const response = await fetch(url, {credentials: "same-origin"});
    const run = await response.json();
    document.getElementById("run-status").textContent = run.status || "unknown";
    document.getElementById("run-stage").textContent = run.stage || "";
    document.getElementById("run-bar").style.width = (run.pct || 0) + "%";
    if (run.status === "finished") return draw(run.report);
    if (run.status === "failed" || run.error) {
      const error = document.getElementById("run-error");
      error.textContent = run.error || "the run failed";
      error.hidden = false;
      return;
    }
    setTimeout(poll, 1000);
  }
  poll();
})();
