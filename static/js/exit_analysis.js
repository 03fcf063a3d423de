// Exit analysis: PnL box plot per exit reason, average post-exit curve 1h..24h, regime x reason heatmap.
// Words through the language catalog (/jsi18n/), figures through window.CP (format.js).
(function () {
  "use strict";
  const d = JSON.parse(document.getElementById("exit-data").textContent);
  if (!d.sells || !window.Plotly) return;
  const layout = (extra) => Object.assign({paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", font: {color: "#e6e9ee"},
    margin: {t: 10, r: 10, b: 50, l: 60}, xaxis: {gridcolor: "#253040"}, yaxis: {gridcolor: "#253040"}}, extra || {});
  const config = {displayModeBar: false, responsive: true};

  Plotly.newPlot("pnl-box", Object.entries(d.pnl_by_exit_reason).map(([reason, values]) =>
    ({y: values, name: reason, type: "box", boxpoints: "outliers"})),
    layout({showlegend: false, yaxis: {title: gettext("PnL (%)"), gridcolor: "#253040"}}), config);

  const windows = ["1h", "4h", "12h", "24h"];
  // Translators: the hours after a sell at which the price is tracked, on the chart's axis.
  const windowLabels = windows.map((w) => interpolate(gettext("%(hours)s h"), {hours: w.replace("h", "")}, true));
  if (!Object.keys(d.post_exit_curve).length) {
    const note = document.getElementById("post-curve");
    note.className = "muted";
    note.textContent = gettext("No price tracked after these exits yet: the tracker stores each one 1 h, 4 h, 12 h and 24 h after the sell.");
  } else Plotly.newPlot("post-curve", Object.entries(d.post_exit_curve).map(([reason, curve]) =>
    ({x: windowLabels, y: windows.map((w) => curve[w]), name: reason, type: "scatter", mode: "lines+markers"})),
    layout({xaxis: {title: gettext("time after the exit"), gridcolor: "#253040"},
      yaxis: {title: gettext("change since exit (%)"), gridcolor: "#253040"}, legend: {orientation: "h"}}), config);

  const regimes = [...new Set(d.table.map((r) => r.regime))];
  const reasons = [...new Set(d.table.map((r) => r.exit_reason))];
  const cell = (regime, reason) => { const row = d.table.find((r) => r.regime === regime && r.exit_reason === reason); return row ? row.avg_pnl_pct : null; };
  const z = regimes.map((g) => reasons.map((r) => cell(g, r)));
  // Each cell prints its value: colour alone does not say +0.4 % from +2.1 %.
  const labels = z.map((row) => row.map((v) => v === null ? "" : window.CP.percent(v, 2, true)));
  const hover = "%{y} · %{x}<br>" + interpolate(gettext("avg PnL %(value)s"), {value: "%{text}"}, true) + "<extra></extra>";
  Plotly.newPlot("heatmap", [{type: "heatmap", x: reasons, y: regimes, z, text: labels, texttemplate: "%{text}",
    textfont: {color: "#e6e9ee"}, hovertemplate: hover,
    colorscale: [[0, "#f85149"], [0.5, "#182029"], [1, "#3fb950"]], zmid: 0, colorbar: {title: {text: gettext("avg PnL (%)")}}}],
    layout({margin: {t: 10, r: 10, b: 50, l: 90}}), config);
})();
