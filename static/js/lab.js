// Lab study page: while the study runs, poll its progress (trials done, best so far, ETA) and
// reload when it ends, so the server renders the report; once ended, draw Optuna's figures from
// their JSON with the local plotly.js. No inline script (the page's CSP).
(function () {
  "use strict";
  const card = document.getElementById("progress-card");
  const text = (id, value) => { document.getElementById(id).textContent = value; };
  const number = (v, digits) => window.CP.number(v, digits);
  // The study's state in the page's language (the server renders the same words).
  const STATUS = {
    queued: pgettext("lab status", "queued"), running: pgettext("lab status", "running"),
    done: pgettext("lab status", "done"), cancelled: pgettext("lab status", "cancelled"),
    failed: pgettext("lab status", "failed"),
  };

  function show(state) {
    text("study-status", STATUS[state.status] || state.status);
    document.getElementById("study-status").className = "status-" + state.status;
    text("study-done", number(state.done));
    text("study-pruned", number(state.pruned));
    text("study-failed", number(state.failed));
    text("study-running", number(state.running));
    const front = (n) => interpolate(ngettext("Pareto front of %(n)s trial", "Pareto front of %(n)s trials", n),
      {n: number(n)}, true);
    text("study-best", state.best_value === null ? (state.pareto.length ? front(state.pareto.length) : gettext("none yet"))
      : number(state.best_value, 4));
    text("study-eta", state.eta_seconds === null ? ""
      : interpolate(gettext("about %(seconds)s s left"), {seconds: number(state.eta_seconds, 0)}, true));
    document.getElementById("study-bar").value = state.done;
    const error = document.getElementById("study-error");
    error.textContent = state.error || "";
    error.hidden = !state.error;
  }

  async function poll() {
    try {
      const response = await fetch(card.dataset.url, {credentials: "same-origin"});
      const state = await response.json();
      show(state);
      if (state.finished) return window.location.reload();
    } catch (e) {
      // a missed poll (server restarting): try again
    }
    setTimeout(poll, 2000);
  }

  function drawFigures() {
    const holder = document.getElementById("lab-figures");
    if (!holder) return;
    const figures = JSON.parse(holder.textContent);
    for (const [name, figure] of Object.entries(figures)) {
      if (figure.na) continue;
      const layout = Object.assign({}, figure.layout, {
        paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", font: {color: "#e6e9ee"},
        height: 420, margin: {t: 50, r: 30, b: 60, l: name === "importances" ? 220 : 80}});
      for (const key of Object.keys(layout)) {  // the site's dark grid on every axis
        if (/^[xy]axis/.test(key)) layout[key] = Object.assign({gridcolor: "#253040", zerolinecolor: "#3a4656"}, layout[key]);
      }
      Plotly.newPlot("figure-" + name, figure.data, layout, {displayModeBar: false, responsive: true});
    }
  }

  if (card.dataset.finished === "1") drawFigures();
  else poll();
})();
