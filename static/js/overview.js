// Overview: render the server's data, then refresh it every 10 s from /api/overview.
// Figures through window.CP (format.js), words through gettext (/jsi18n/).
(function () {
  "use strict";
  const script = document.currentScript;
  const CP = window.CP;
  const cls = (v) => v > 0 ? "good" : v < 0 ? "bad" : "";

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function renderPositions(positions) {
    const body = document.querySelector("#positions tbody");
    body.replaceChildren(...positions.map((p) => {
      const tr = document.createElement("tr");
      const pnl = p.unrealized_pct === null ? CP.krw(p.unrealized_pnl, true) :
        interpolate(gettext("%(pnl)s (%(pct)s)"), {pnl: CP.krw(p.unrealized_pnl, true), pct: CP.percent(p.unrealized_pct, 2, true)}, true);
      tr.append(cell(p.symbol), cell(CP.quantity(p.quantity)), cell(CP.price(p.avg_price)), cell(CP.price(p.price)),
                cell(pnl, cls(p.unrealized_pnl)), cell(CP.codeName(p.regime)), cell(p.opened_at));
      return tr;
    }));
    document.getElementById("no-positions").hidden = positions.length > 0;
  }

  function renderStatuses(statuses) {
    const body = document.querySelector("#statuses tbody");
    body.replaceChildren(...statuses.map((row) => {
      const s = row.status;
      const tr = document.createElement("tr");
      if (!s) {
        tr.append(cell(row.symbol), cell("-"), cell("-"), cell(gettext("no status (bot not run in the last 5 min)"), "muted"), cell(""), cell(""));
        return tr;
      }
      const badge = cell(CP.codeName(s.regime), "regime regime-" + s.regime);
      const age = interpolate(gettext("%(n)s s ago"), {n: CP.number(s.age_s)}, true);
      tr.append(cell(row.symbol), cell(CP.price(s.price)), badge, cell(CP.codeName(s.action), "action-" + s.action),
                cell(s.reason + (s.detail ? ": " + s.detail : "")), cell(age));
      return tr;
    }));
  }

  // A KPI amount and, in Korean, its 만/억 reading beside it.
  function kpi(id, value, signed, colour) {
    const el = document.getElementById(id);
    el.textContent = CP.krw(value, signed);
    if (colour) el.className = "kpi " + cls(value);
    const approx = document.getElementById(id + "-approx");
    if (approx) approx.textContent = CP.krwApprox(value);
  }

  function render(data) {
    kpi("kpi-equity", data.equity, false, false);
    kpi("kpi-cash", data.cash, false, false);
    kpi("kpi-realized", data.realized_today, true, true);
    kpi("kpi-unrealized", data.unrealized, true, true);
    document.getElementById("kpi-trades").textContent = interpolate(
      ngettext("%(n)s entry today", "%(n)s entries today", data.trades_today), {n: CP.number(data.trades_today)}, true);
    renderPositions(data.positions);
    renderStatuses(data.statuses);
    const time = new Date().toLocaleTimeString("en-GB", {timeZone: "Asia/Seoul", hour12: false});
    document.getElementById("refreshed").textContent = interpolate(gettext("updated %(time)s KST"), {time: time}, true);
  }

  function drawEquity(curve) {
    const el = document.getElementById("equity-chart");
    if (!el || !window.Plotly) return;
    const hover = curve.equity.map((v) => CP.krw(v));
    Plotly.newPlot(el, [{x: curve.t, y: curve.equity, customdata: hover, hovertemplate: "%{x}<br>%{customdata}<extra></extra>",
                         type: "scatter", mode: "lines", line: {shape: "hv", color: "#58a6ff"}, name: gettext("equity")}],
      {paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", font: {color: "#e6e9ee"}, margin: {t: 10, r: 10, b: 40, l: 80},
       yaxis: {title: "KRW", gridcolor: "#253040", tickformat: ",d"}, xaxis: {gridcolor: "#253040"}}, {displayModeBar: false, responsive: true});
  }

  async function refresh() {
    try {
      const response = await fetch(script.dataset.url, {headers: {"Accept": "application/json"}, credentials: "same-origin"});
      if (response.ok) render(await response.json());
    } catch (error) {
      document.getElementById("refreshed").textContent = interpolate(gettext("refresh failed: %(error)s"), {error: String(error)}, true);
    }
  }

  render(JSON.parse(document.getElementById("overview-data").textContent));
  drawEquity(JSON.parse(document.getElementById("equity-data").textContent));
  setInterval(refresh, 10000);
})();
