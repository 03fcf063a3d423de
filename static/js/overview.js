// Overview: render the server's data, then refresh it every 10 s from /api/overview.
(function () {
  "use strict";
  const script = document.currentScript;
  const krw = (v) => (v === null || v === undefined) ? "-" : Math.round(v).toLocaleString("en-US") + " KRW";
  const num = (v, digits) => (v === null || v === undefined) ? "-" : Number(v).toLocaleString("en-US", {maximumFractionDigits: digits});
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
      const pct = p.unrealized_pct === null ? "" : " (" + num(p.unrealized_pct, 2) + " %)";
      tr.append(cell(p.symbol), cell(num(p.quantity, 8)), cell(num(p.avg_price, 8)), cell(num(p.price, 8)),
                cell(krw(p.unrealized_pnl) + pct, cls(p.unrealized_pnl)), cell(p.regime), cell(p.opened_at));
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
        tr.append(cell(row.symbol), cell("-"), cell("-"), cell("no status (bot not run in the last 5 min)", "muted"), cell(""), cell(""));
        return tr;
      }
      const badge = cell(s.regime, "regime regime-" + s.regime);
      tr.append(cell(row.symbol), cell(num(s.price, 8)), badge, cell(s.action, "action-" + s.action),
                cell(s.reason + (s.detail ? ": " + s.detail : "")), cell(s.age_s + " s ago"));
      return tr;
    }));
  }

  function render(data) {
    document.getElementById("kpi-equity").textContent = krw(data.equity);
    document.getElementById("kpi-cash").textContent = krw(data.cash);
    const realized = document.getElementById("kpi-realized");
    realized.textContent = krw(data.realized_today);
    realized.className = "kpi " + cls(data.realized_today);
    const unrealized = document.getElementById("kpi-unrealized");
    unrealized.textContent = krw(data.unrealized);
    unrealized.className = "kpi " + cls(data.unrealized);
    document.getElementById("kpi-trades").textContent = data.trades_today + " entries today";
    renderPositions(data.positions);
    renderStatuses(data.statuses);
    document.getElementById("refreshed").textContent = "updated " + new Date().toLocaleTimeString("en-GB", {timeZone: "Asia/Seoul", hour12: false}) + " KST";
  }

  function drawEquity(curve) {
    const el = document.getElementById("equity-chart");
    if (!el || !window.Plotly) return;
    Plotly.newPlot(el, [{x: curve.t, y: curve.equity, type: "scatter", mode: "lines", line: {shape: "hv", color: "#58a6ff"}, name: "equity"}],
      {paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", font: {color: "#e6e9ee"}, margin: {t: 10, r: 10, b: 40, l: 80},
       yaxis: {title: "KRW", gridcolor: "#253040"}, xaxis: {gridcolor: "#253040"}}, {displayModeBar: false, responsive: true});
  }

  async function refresh() {
    try {
      const response = await fetch(script.dataset.url, {headers: {"Accept": "application/json"}, credentials: "same-origin"});
      if (response.ok) render(await response.json());
    } catch (error) {
      document.getElementById("refreshed").textContent = "refresh failed: " + error;
    }
  }

  render(JSON.parse(document.getElementById("overview-data").textContent));
  drawEquity(JSON.parse(document.getElementById("equity-data").textContent));
  setInterval(refresh, 10000);
})();
