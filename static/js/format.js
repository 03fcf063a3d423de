// How pages' scripts write figures: the same rules as core/formatting.py (thousands separators, whole
// won, coin quantities to 8 decimals, percentages with their unit), with the unit words from the
// language catalog (/jsi18n/, loaded before this file). Missing values read "-".
(function () {
  "use strict";
  const korean = (document.documentElement.lang || "en").startsWith("ko");
  const missing = (v) => v === null || v === undefined || v === "" || !Number.isFinite(Number(v));
  const grouped = (v, min, max, signed) => (signed && Number(v) > 0 ? "+" : "") +
    Number(v).toLocaleString("en-US", {minimumFractionDigits: min, maximumFractionDigits: max});

  const number = (v, digits) => missing(v) ? "-" : grouped(v, digits || 0, digits || 0);
  const krw = (v, signed) => {
    if (missing(v)) return "-";
    const won = Math.round(Number(v)) || 0;  // no "-0"
    // gettext and interpolate by name (from /jsi18n/), so makemessages finds the string here.
    return interpolate(gettext("%(amount)s KRW"), {amount: grouped(won, 0, 0, signed)}, true);
  };
  const krwApprox = (v) => {
    if (missing(v) || !korean || Math.abs(Number(v)) < 1e6) return "";  // from 100만, as core/formatting.py
    let rest = Math.floor(Math.abs(Number(v)) / 1e4) * 1e4;
    const parts = [];
    for (const [unit, name] of [[1e12, "조"], [1e8, "억"], [1e4, "만"]]) {
      const count = Math.floor(rest / unit);
      if (count) { parts.push(count.toLocaleString("en-US") + name); rest -= count * unit; }
    }
    return "약 " + (Number(v) < 0 ? "-" : "") + parts.join(" ") + " 원";
  };
  const price = (v) => missing(v) ? "-" : (Math.abs(Number(v)) >= 100 ? grouped(v, 0, 0) : grouped(v, 0, 8));
  const quantity = (v) => missing(v) ? "-" : grouped(v, 0, 8);
  const percent = (v, digits, signed) => missing(v) ? "-" :
    grouped(v, digits === undefined ? 2 : digits, digits === undefined ? 2 : digits, signed) + "%";

  // A stored code named for the reader: BUY / 매수, BULL / 상승장 (trading/glossary.py CODE_NAMES).
  // Called by name (pgettext), so makemessages finds the strings; /jsi18n/ defines it before this file.
  const NAMES = {
    BUY: pgettext("order side", "BUY"), SELL: pgettext("order side", "SELL"),
    BULL: pgettext("market regime", "BULL"), SIDEWAYS: pgettext("market regime", "SIDEWAYS"),
    BEAR: pgettext("market regime", "BEAR"), UNKNOWN: pgettext("market regime", "UNKNOWN"),
    HOLD: pgettext("bot action", "HOLD"), BLOCKED: pgettext("bot action", "BLOCKED"),
    VETOED: pgettext("bot action", "VETOED"), SKIPPED: pgettext("bot action", "SKIPPED"),
    ERROR: pgettext("bot action", "ERROR"),
  };
  const codeName = (code) => NAMES[code] || code || "";

  window.CP = Object.assign(window.CP || {}, {number, krw, krwApprox, price, quantity, percent, codeName});
})();
