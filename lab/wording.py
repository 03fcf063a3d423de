"""The Lab's stored sentences in the reader's language.

A check's verdicts and a study's report are stored once, in English (the command line prints them
and the rows outlive a language switch), so the pages translate them when they render: a fixed
sentence through the catalog (its source marks it with gettext_noop), a sentence with figures by
recognising its English pattern and filling the translated one with the figures re-formatted. A
sentence no pattern knows is shown as stored.
"""

import re
from collections.abc import Callable

from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from core import formatting

from .objectives import OBJECTIVES

# Translators: the state of a Lab study or look-ahead check.
STATUS_LABELS = {
    "queued": pgettext_lazy("lab status", "queued"),
    "running": pgettext_lazy("lab status", "running"),
    "done": pgettext_lazy("lab status", "done"),
    "cancelled": pgettext_lazy("lab status", "cancelled"),
    "failed": pgettext_lazy("lab status", "failed"),
}
OBJECTIVE_LABELS = {
    "sharpe": _("Sharpe ratio"),
    "sortino": _("Sortino ratio"),
    "calmar": _("Calmar ratio"),
    "profit_factor": _("profit factor"),
    "return_over_drawdown": _("return / max drawdown"),
    "total_return": _("total return (%)"),
    "max_drawdown": _("max drawdown (%)"),
}
# Optuna's own words in its figures' titles, axes and traces (the objective labels are added below).
FIGURE_WORDS = {
    "Optimization History Plot": _("Optimization history"),
    "Hyperparameter Importances": _("Parameter importances"),
    "Parallel Coordinate Plot": _("Parallel coordinates"),
    "Pareto-front Plot": _("Pareto front"),
    "Trial": _("Trial"),
    "Best Trial": _("Best trial"),
    "Objective Value": _("Objective value"),
    "Best Value": _("Best value"),
    "Infeasible Trial": _("Infeasible trial"),
    "Hyperparameter": _("Parameter"),
    "Hyperparameter Importance": _("Parameter importance"),
    "Importance for Objective Value": _("Importance for the objective value"),
}


def status_label(status: str) -> str:
    """A study's or check's status in the reader's language ("queued" in English)."""
    return str(STATUS_LABELS.get(status, status))


def objective_label(name: str) -> str:
    """An objective's label ("Sharpe ratio") in the reader's language; an unknown name as it is."""
    if name in OBJECTIVE_LABELS:
        return str(OBJECTIVE_LABELS[name])
    return OBJECTIVES[name].label if name in OBJECTIVES else name


def _n(text: str) -> str:
    """A figure as the page writes it: "1000" or "1,000" -> "1,000"."""
    return formatting.number(text.replace(",", ""))


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def _value(text: str) -> str:
    """A column's value as lookahead._value wrote it ("1,234.5" or "not computed (NaN)")."""
    return gettext("not computed (NaN)") if text == "not computed (NaN)" else text


def _na(reason: str) -> str:
    return gettext("n/a: %(reason)s") % {"reason": reason}


NUM = r"[\d,]+"
# (English pattern as the code writes it, its sentence in the reader's language from the match)
PATTERNS: list[tuple[str, Callable[[dict], str]]] = [
    # lab.lookahead / lab.checks: a check's findings, notes and column rows
    (
        rf"look-ahead: (?P<column>\S+) at (?P<at>.+?) KST is (?P<value>.+?) with the data up to (?P<cut>.+?) "
        rf"KST but (?P<full>.+?) with all the data \(it changed at (?P<changed>{NUM}) of (?P<cuts>{NUM}) cut "
        r"points\): it reads bars after the decision",
        lambda m: (
            gettext(
                "look-ahead: %(column)s at %(at)s KST is %(value)s with the data up to %(cut)s KST "
                "but %(full)s with all the data (it changed at %(changed)s of %(cuts)s cut points): "
                "it reads bars after the decision"
            )
            % (
                m
                | {
                    "value": _value(m["value"]),
                    "full": _value(m["full"]),
                    "changed": _n(m["changed"]),
                    "cuts": _n(m["cuts"]),
                }
            )
        ),  # fmt: skip
    ),
    (
        rf"too little history: (?P<column>\S+) computed on (?P<window>{NUM}) bars differs from its "
        r"value with all the history; it never agrees in this data \(1e-9 relative\)",
        lambda m: (
            gettext(
                "too little history: %(column)s computed on %(window)s bars differs from its value "
                "with all the history; it never agrees in this data (1e-9 relative)"
            )
            % (m | {"window": _n(m["window"])})
        ),
    ),
    (
        rf"too little history: (?P<column>\S+) computed on (?P<window>{NUM}) bars differs from its "
        rf"value with all the history; it needs (?P<needed>{NUM}) bars to agree \(1e-9 relative\)",
        lambda m: (
            gettext(
                "too little history: %(column)s computed on %(window)s bars differs from its value "
                "with all the history; it needs %(needed)s bars to agree (1e-9 relative)"
            )
            % (m | {"window": _n(m["window"]), "needed": _n(m["needed"])})
        ),
    ),
    (
        rf"look-ahead: (?P<columns>{NUM}) columns recomputed at (?P<cuts>{NUM}) cut points",
        lambda m: (
            gettext("look-ahead: %(columns)s columns recomputed at %(cuts)s cut points")
            % {"columns": _n(m["columns"]), "cuts": _n(m["cuts"])}
        ),
    ),
    (
        rf"warm-up: (?P<column>\S+) not checked, it needs more than (?P<window>{NUM}) bars of data "
        rf"\(only (?P<bars>{NUM})\)",
        lambda m: (
            gettext(
                "warm-up: %(column)s not checked, it needs more than %(window)s bars of data (only %(bars)s)"
            )
            % (m | {"window": _n(m["window"]), "bars": _n(m["bars"])})
        ),
    ),
    (
        rf"only (?P<bars>{NUM}) candles of (?P<symbol>\S+): the check needs at least 3",
        lambda m: (
            ngettext(
                "only %(bars)s candle of %(symbol)s: the check needs at least 3",
                "only %(bars)s candles of %(symbol)s: the check needs at least 3",
                _int(m["bars"]),
            )
            % (m | {"bars": _n(m["bars"])})
        ),
    ),
    (
        rf"reads later bars: at (?P<at>.+?) KST it is (?P<value>.+?) with the data cut at (?P<cut>.+?) "
        rf"KST but (?P<full>.+?) with all the data \(changed at (?P<changed>{NUM}) of (?P<cuts>{NUM}) cuts\)",
        lambda m: (
            gettext(
                "reads later bars: at %(at)s KST it is %(value)s with the data cut at %(cut)s KST "
                "but %(full)s with all the data (changed at %(changed)s of %(cuts)s cuts)"
            )
            % (
                m
                | {
                    "value": _value(m["value"]),
                    "full": _value(m["full"]),
                    "changed": _n(m["changed"]),
                    "cuts": _n(m["cuts"]),
                }
            )
        ),  # fmt: skip
    ),
    (
        rf"no look-ahead at (?P<cuts>{NUM}) cut points",
        lambda m: (
            ngettext(
                "no look-ahead at %(cuts)s cut point", "no look-ahead at %(cuts)s cut points", _int(m["cuts"])
            )
            % {"cuts": _n(m["cuts"])}
        ),
    ),
    (
        rf"warm-up not checked: the data is shorter than its (?P<window>{NUM})-bar window",
        lambda m: (
            gettext("warm-up not checked: the data is shorter than its %(window)s-bar window")
            % {"window": _n(m["window"])}
        ),
    ),
    (
        rf"needs (?P<needed>{NUM}) bars of history; its window gives only (?P<window>{NUM})",
        lambda m: (
            gettext("needs %(needed)s bars of history; its window gives only %(window)s")
            % {"needed": _n(m["needed"]), "window": _n(m["window"])}
        ),
    ),
    (
        rf"needs (?P<needed>{NUM}) bars of history; its window gives (?P<window>{NUM})",
        lambda m: (
            gettext("needs %(needed)s bars of history; its window gives %(window)s")
            % {"needed": _n(m["needed"]), "window": _n(m["window"])}
        ),
    ),
    (
        r"the check could not run: (?P<detail>.*)",
        lambda m: gettext("the check could not run: %(detail)s") % m,
    ),
    # lab.overfitting / lab.montecarlo: why a statistic is n/a (NotApplicable, "n/a: ...")
    (
        rf"n/a: only (?P<trials>{NUM}) trials?; overfitting needs at least 2 to choose from",
        lambda m: _na(
            ngettext(
                "only %(trials)s trial; overfitting needs at least 2 to choose from",
                "only %(trials)s trials; overfitting needs at least 2 to choose from",
                _int(m["trials"]),
            )
            % {"trials": _n(m["trials"])}
        ),
    ),
    (
        rf"n/a: only (?P<periods>{NUM}) periods for (?P<blocks>{NUM}) blocks "
        r"\(at least one period per block\)",
        lambda m: _na(
            gettext("only %(periods)s periods for %(blocks)s blocks (at least one period per block)")
            % {"periods": _n(m["periods"]), "blocks": _n(m["blocks"])}
        ),
    ),
    (
        rf"n/a: only (?P<periods>{NUM}) periods: each half needs at least 2 for a Sharpe ratio",
        lambda m: _na(
            gettext("only %(periods)s periods: each half needs at least 2 for a Sharpe ratio")
            % {"periods": _n(m["periods"])}
        ),
    ),
    (
        rf"n/a: only (?P<periods>{NUM}) periods?; a Sharpe ratio needs at least 2",
        lambda m: _na(
            ngettext(
                "only %(periods)s period; a Sharpe ratio needs at least 2",
                "only %(periods)s periods; a Sharpe ratio needs at least 2",
                _int(m["periods"]),
            )
            % {"periods": _n(m["periods"])}
        ),
    ),
    (
        rf"n/a: only (?P<periods>{NUM}) periods?; the test needs at least 2",
        lambda m: _na(
            ngettext(
                "only %(periods)s period; the test needs at least 2",
                "only %(periods)s periods; the test needs at least 2",
                _int(m["periods"]),
            )
            % {"periods": _n(m["periods"])}
        ),
    ),
    (
        rf"n/a: only (?P<periods>{NUM}) periods with a return",
        lambda m: _na(
            ngettext(
                "only %(periods)s period with a return",
                "only %(periods)s periods with a return",
                _int(m["periods"]),
            )
            % {"periods": _n(m["periods"])}
        ),
    ),
    (
        rf"n/a: only (?P<trades>{NUM}) trades \(Monte Carlo needs at least (?P<least>{NUM})\)",
        lambda m: _na(
            ngettext(
                "only %(trades)s trade (Monte Carlo needs at least %(least)s)",
                "only %(trades)s trades (Monte Carlo needs at least %(least)s)",
                _int(m["trades"]),
            )
            % {"trades": _n(m["trades"]), "least": _n(m["least"])}
        ),
    ),
    # lab.study: a failed study's reason (the exception's own words stay as they are)
    (
        rf"(?P<failed>{NUM}) trials failed; the last: (?P<detail>.*)",
        lambda m: (
            ngettext(
                "%(failed)s trial failed; the last: %(detail)s",
                "%(failed)s trials failed; the last: %(detail)s",
                _int(m["failed"]),
            )
            % (m | {"failed": _n(m["failed"])})
        ),
    ),
    # lab.walkforward: a fold's failure, the reason and the fold's own words after it
    (
        rf"fold (?P<fold>{NUM}): scoring out of sample failed: (?P<detail>.*)",
        lambda m: gettext("fold %(fold)s: scoring out of sample failed: %(detail)s") % m,
    ),
    (
        rf"fold (?P<fold>{NUM}): (?P<rest>.*)",
        lambda m: gettext("fold %(fold)s: %(rest)s") % (m | {"rest": translate(m["rest"])}),
    ),
    # any other "n/a: why" (Optuna's or plotly's own words): the prefix at least
    (r"n/a: (?P<reason>.*)", lambda m: _na(gettext(m["reason"]))),
]
COMPILED = [(re.compile(pattern, re.DOTALL), build) for pattern, build in PATTERNS]


def translate(text: str | None) -> str:
    """A stored sentence of the Lab in the reader's language (as stored when no pattern knows it)."""
    if not text:
        return text or ""
    found = gettext(text)  # a fixed sentence marked with gettext_noop where it is written
    if found != text:
        return found
    for pattern, build in COMPILED:
        match = pattern.fullmatch(text)
        if match:
            return build(match.groupdict())
    return text


def translate_all(texts: list[str] | None) -> list[str]:
    return [translate(text) for text in texts or []]


def figure_words(figure: dict, labels: dict[str, str]) -> dict:
    """An Optuna figure (JSON-ready) with its titles, axis titles, trace names and dimension labels
    in the reader's language: Optuna's words and the objectives' labels (`labels`: English label ->
    translated). A copy; the stored figure is left as it is."""
    words = {key: str(value) for key, value in FIGURE_WORDS.items()} | labels

    def word(text):
        return words.get(text, text) if isinstance(text, str) else text

    def title(holder: dict) -> None:
        value = holder.get("title")
        if isinstance(value, dict) and "text" in value:
            holder["title"] = value | {"text": word(value["text"])}
        elif isinstance(value, str):
            holder["title"] = word(value)

    if figure.get("na"):
        return figure | {"na": translate(figure["na"])}
    layout = dict(figure.get("layout") or {})
    title(layout)
    for key in list(layout):
        if re.match(r"^[xy]axis\d*$", key) and isinstance(layout[key], dict):
            layout[key] = dict(layout[key])
            title(layout[key])
    data = []
    for trace in figure.get("data") or []:
        trace = dict(trace)
        if "name" in trace:
            trace["name"] = word(trace["name"])
        if isinstance(trace.get("dimensions"), list):
            trace["dimensions"] = [
                d | {"label": word(d.get("label"))} if isinstance(d, dict) else d for d in trace["dimensions"]
            ]
        data.append(trace)
    return figure | {"layout": layout, "data": data}
