// Market: candlesticks + MA20/Bollinger, volume, RSI(14), regime shading, BUY/SELL/scale-out markers.
// The data comes from its own URL (data-src): the page stays small and a browser that has this
// version of the data gets a 304.
(function () {
  "use strict";
  const el = document.getElementById("market-chart");
  if (!el || !window.Plotly) return;
  fetch(el.dataset.src, {credentials: "same-origin"})
    .then((response) => {
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return response.json();
    })
    .then(draw, () => {  // a failed fetch; an error while drawing stays an error in the console
      el.style.height = "auto";
      el.className = "error";
      el.textContent = gettext("The chart's data could not be loaded. Reload the page to try again.");
    });

  function draw(d) {
    if (!d.points) return;
    const CP = window.CP;
    // Literal gettext("...") calls: makemessages finds the strings only so.
    const krwPrice = (v) => interpolate(gettext("%(amount)s KRW"), {amount: CP.price(v)}, true);

    const line = (y, name, color, dash) => ({x: d.t, y, name, type: "scatter", mode: "lines", line: {color, width: 1, dash}, yaxis: "y"});
    const buys = d.trades.filter((t) => t.side === "BUY");
    // A scale-out (PARTIAL_TAKE_PROFIT) sells part of a position: its own marker, apart from full exits.
    const isPartial = (t) => t.side === "SELL" && t.reason === "PARTIAL_TAKE_PROFIT";
    const sells = d.trades.filter((t) => t.side === "SELL" && !isPartial(t));
    const partials = d.trades.filter(isPartial);
    const pnlText = (t) => t.pnl ? CP.krw(t.pnl, true) : gettext("n/a");
    const partialText = (t) => interpolate(gettext("scale-out level %(level)s, %(quantity)s %(coin)s sold, PnL %(pnl)s"), {
      level: t.level || "?", quantity: CP.quantity(t.qty), coin: d.symbol.replace(/^KRW-/, ""), pnl: pnlText(t)}, true);
    // Hover text of a full exit: the exit reason code and the trade's PnL when known.
    const sellText = (t) => t.pnl ? interpolate(gettext("%(reason)s, PnL %(pnl)s"), {reason: t.reason, pnl: pnlText(t)}, true) : t.reason;
    const priceHover = "%{x}<br>%{customdata}<br>%{text}<extra></extra>";
    const traces = [
      {x: d.t, open: d.open, high: d.high, low: d.low, close: d.close, type: "candlestick", name: d.symbol, yaxis: "y",
       increasing: {line: {color: "#3fb950"}}, decreasing: {line: {color: "#f85149"}}},
      line(d.ma20, "MA20", "#d29922"),
      line(d.bb_upper, gettext("BB upper"), "#8a96a3", "dot"),
      line(d.bb_lower, gettext("BB lower"), "#8a96a3", "dot"),
      {x: buys.map((t) => t.t), y: buys.map((t) => t.price), name: gettext("BUY"), type: "scatter", mode: "markers", yaxis: "y",
       customdata: buys.map((t) => krwPrice(t.price)), text: buys.map(() => gettext("BUY")), hovertemplate: priceHover,
       marker: {symbol: "triangle-up", size: 11, color: "#58a6ff"}},
      {x: sells.map((t) => t.t), y: sells.map((t) => t.price), name: gettext("SELL"), type: "scatter", mode: "markers", yaxis: "y",
       customdata: sells.map((t) => krwPrice(t.price)), text: sells.map(sellText), hovertemplate: priceHover,
       marker: {symbol: "triangle-down", size: 11, color: "#e3b341"}},
      ...(partials.length ? [{x: partials.map((t) => t.t), y: partials.map((t) => t.price), name: gettext("SELL part (scale-out)"),
       type: "scatter", mode: "markers", yaxis: "y", text: partials.map(partialText),
       customdata: partials.map((t) => krwPrice(t.price)), hovertemplate: priceHover,
       marker: {symbol: "diamond", size: 11, color: "#db61a2", line: {color: "#e6e9ee", width: 1}}}] : []),
      {x: d.t, y: d.volume, name: gettext("volume"), type: "bar", yaxis: "y2", marker: {color: "#3a4552"}},
      {x: d.t, y: d.rsi14, name: "RSI(14)", type: "scatter", mode: "lines", yaxis: "y3", line: {color: "#a371f7", width: 1}},
    ];
    const colors = {BULL: "rgba(63,185,80,0.10)", SIDEWAYS: "rgba(210,153,34,0.08)", BEAR: "rgba(248,81,73,0.10)", UNKNOWN: "rgba(0,0,0,0)"};
    const shapes = d.regimes.map((r) => ({type: "rect", xref: "x", yref: "paper", x0: r.start, x1: r.end, y0: 0.3, y1: 1,
                                          fillcolor: colors[r.regime], line: {width: 0}, layer: "below"}));
    shapes.push({type: "line", xref: "paper", yref: "y3", x0: 0, x1: 1, y0: 70, y1: 70, line: {color: "#8a96a3", dash: "dot", width: 1}});
    shapes.push({type: "line", xref: "paper", yref: "y3", x0: 0, x1: 1, y0: 30, y1: 30, line: {color: "#8a96a3", dash: "dot", width: 1}});
    const grid = "#253040";
    Plotly.newPlot(el, traces, {
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", font: {color: "#e6e9ee"}, shapes,
      margin: {t: 10, r: 10, b: 40, l: 80}, showlegend: true, legend: {orientation: "h", y: 1.04},
      // Anchored to the bottom panel: date labels under the RSI, not over the volume bars.
      xaxis: {rangeslider: {visible: false}, gridcolor: grid, anchor: "y3", range: d.x_range},
      yaxis: {domain: [0.3, 1], gridcolor: grid, title: {text: gettext("Price (KRW)")}},
      yaxis2: {domain: [0.16, 0.28], gridcolor: grid, title: {text: gettext("Volume")}},
      yaxis3: {domain: [0, 0.14], gridcolor: grid, range: [0, 100], title: {text: "RSI(14)"}},
    }, {displayModeBar: false, responsive: true});
  }
})();
