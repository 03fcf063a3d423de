"""The Lab page's form: what it starts with, and the study request it reads (the inputs of
`manage.py optimize`, checked by lab.inputs with every refusal at once)."""

from dataclasses import asdict, dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.bounds import EARLIEST_DAY, LATEST_DAY, BoundsError, parse_day
from trading.backtest_runs import SEPARATORS, parse_symbols
from trading.config import load_strategy
from trading.parameters import REGIMES, RegimeParams, declared

from .checks import check_errors
from .folds import DEFAULT_RATIO
from .inputs import (
    UPBIT_FEE_PCT,
    StudyRequest,
    default_space,
    parse_param,
    request_errors,
    setting_errors,
    space_errors,
    table_range,
)
from .objectives import OBJECTIVES
from .walkforward import walk_forward_errors
from .wording import objective_label

DEFAULT_TRIALS = 100
DEFAULT_DAYS = 30


def space_text(space: dict[str, dict]) -> str:
    """The parameter lines of a search space, as the form's text box holds them."""
    return "\n".join(f"{key}={range_text(spec)}" for key, spec in space.items())


def range_text(spec: dict) -> str:
    if "choices" in spec:
        return ",".join("yes" if v is True else "no" if v is False else str(v) for v in spec["choices"])
    return f"{spec['low']}:{spec['high']}:{spec['step']}"


def default_form(now: datetime) -> dict:
    today = timezone.localtime(now).date()
    return {
        "symbols": ", ".join(load_strategy().symbols),
        "from": (today - timedelta(days=DEFAULT_DAYS)).isoformat(),
        "to": today.isoformat(),
        "regimes": list(REGIMES),
        "params": space_text(default_space(list(REGIMES))),
        "objective": "sharpe",
        "objective2": "",
        "trials": DEFAULT_TRIALS,
        "seed": 42,
        "fee": UPBIT_FEE_PCT.normalize(),
        "slippage": settings.COINPILOT_BACKTEST_SLIPPAGE_BPS,
        "min_trades": 5,
        "force_regime": "",
        "config": "",
        "walk_forward": "",
        "folds_kind": "rolling",
        "ratio": DEFAULT_RATIO,
    }


# The parameter table's units in the reader's language (a unit not listed is shown as declared).
UNITS = {
    "%": "%",
    "% of equity": _("% of equity"),
    "% of the position": _("% of the position"),
    "% profit": _("% profit"),
    "RSI points": _("RSI points"),
    "bars": _("bars"),
    "hours": _("hours"),
    "minutes": _("minutes"),
    "trades": _("trades"),
    "x ATR(14)": _("x ATR(14)"),
    "x Kelly": _("x Kelly"),
    "x average": _("x average"),
}


def unit_label(unit) -> str:
    text = str(unit or "")
    return str(UNITS.get(text, text))


def parameter_table() -> list[dict]:
    """Every tunable parameter with the range the table declares (the form's reference)."""
    return [
        {"name": name, "range": range_text(table_range(name)), "unit": unit_label(declared(info).get("unit"))}
        for name, info in RegimeParams.model_fields.items()
    ]


def read_form(data) -> tuple[StudyRequest, list[str]]:
    """The request the form asks for, and every reason to refuse it (what could not be read and
    what lab.inputs refuses), all at once. Unreadable fields stand in as their defaults."""
    days, errors = _days(data)
    regimes = [r for r in data.getlist("regimes") if r]
    space: dict[str, dict] = {}
    for line in (data.get("params") or "").splitlines():
        if line.strip():
            key, spec, refusal = parse_param(line)
            errors += [refusal] if refusal else []
            space.update({key: spec} if spec is not None else {})
    if not (data.get("params") or "").strip():
        space = default_space([r for r in regimes if r in REGIMES])
    numbers = {name: _number(data, name, kind, errors) for name, kind in NUMBERS.items()}
    version = (data.get("config") or "").strip()
    if version and not version.isdigit():
        errors.append(_not_a_version(version))
    today = timezone.localdate()
    start, end = (
        timezone.make_aware(datetime.combine(days.get(k, today), time())) for k in ("from", "to")
    )  # KST days
    objectives = [data.get("objective", "")] + ([data["objective2"]] if data.get("objective2") else [])
    req = StudyRequest(
        symbols=[s for s in SEPARATORS.split(data.get("symbols", "")) if s], start=start, end=end,
        regimes=regimes, space=space, objectives=objectives, n_trials=numbers["trials"],
        seed=numbers["seed"], fee_pct=numbers["fee"], slippage_bps=numbers["slippage"],
        min_trades=numbers["min_trades"], force_regime=(data.get("force_regime") or "").upper(),
        base_version=int(version) if version.isdigit() else None,
    )  # fmt: skip
    if len(days) == 2:
        return req, errors + request_errors(req)
    _names, symbol_errors = parse_symbols(",".join(req.symbols))  # the dates' checks need readable dates
    return req, errors + setting_errors(req) + space_errors(req) + symbol_errors


def _days(data) -> tuple[dict, list[str]]:
    """The form's KST days that could be read, and a refusal for each that could not."""
    days, errors = {}, []
    for name in ("from", "to"):
        try:
            days[name] = parse_day(data.get(name, ""))
        except BoundsError:
            errors.append(
                gettext("'%(field)s' must be a date (YYYY-MM-DD) between %(earliest)s and %(latest)s")
                % {"field": FIELDS[name], "earliest": EARLIEST_DAY, "latest": LATEST_DAY}
            )
    return days, errors


# Translators: the Lab form's date fields, named in its refusals ("'from' must be a date ...").
FIELDS = {"from": _("from"), "to": _("to")}


def _not_a_version(version: str) -> str:
    return gettext("strategy version '%(version)s' is not a version number") % {"version": version}


@dataclass(frozen=True)
class WalkForward:
    """The form's walk-forward option: lab.walkforward.create_walk_forward's keywords."""

    folds: int
    anchored: bool
    ratio: float


def read_walk_forward(data, req: StudyRequest) -> tuple[WalkForward | None, list[str]]:
    """The walk-forward option (None: an empty or 0 number of folds, a single study) and every
    reason to refuse it, checked as `optimize --walk-forward` checks it (lab.walkforward)."""
    text = (data.get("walk_forward") or "").strip()
    if text in ("", "0"):
        return None, []
    errors = []
    try:
        folds = int(text)
    except ValueError:
        folds = None
        errors.append(
            gettext("the number of walk-forward folds must be a whole number, not '%(text)s'")
            % {"text": text}
        )
    ratio_text = (data.get("ratio") or "").strip() or str(DEFAULT_RATIO)
    try:
        ratio = float(ratio_text)
    except ValueError:
        ratio = None
        errors.append(
            gettext("the in-sample / out-of-sample ratio must be a number, not '%(text)s'")
            % {"text": ratio_text}
        )
    kind = data.get("folds_kind") or "rolling"
    if kind not in FOLD_KINDS:
        errors.append(gettext("walk-forward folds are rolling or anchored, not '%(kind)s'") % {"kind": kind})
    if folds is None or ratio is None or errors:
        return None, errors
    walk = WalkForward(folds, kind == "anchored", ratio)
    dates = len(_days(data)[0]) == 2  # unreadable dates are refused already: no range to split
    return walk, walk_forward_errors(req, **asdict(walk), dates=dates)


FOLD_KINDS = ("rolling", "anchored")


def read_check(data) -> tuple[dict, list[str]]:
    """The look-ahead and warm-up check the form's symbols, days and version ask for
    (lab.checks.create_check's arguments) and every reason to refuse it, all at once."""
    days, errors = _days(data)
    version = (data.get("config") or "").strip()
    if version and not version.isdigit():
        errors.append(_not_a_version(version))
    today = timezone.localdate()
    start, end = (timezone.make_aware(datetime.combine(days.get(k, today), time())) for k in ("from", "to"))
    symbols = [s for s in SEPARATORS.split(data.get("symbols", "")) if s]
    number = int(version) if version.isdigit() else None
    args = {"symbols": symbols, "start": start, "end": end, "version": number}
    if len(days) == 2:
        return args, errors + check_errors(**args)
    return args, errors + parse_symbols(",".join(symbols))[1]


DEFAULTS = {"trials": DEFAULT_TRIALS, "seed": 42, "min_trades": 5, "fee": UPBIT_FEE_PCT, "slippage": 5}
NUMBERS = {"trials": int, "seed": int, "min_trades": int, "fee": Decimal, "slippage": Decimal}
# One sentence per field and kind: "%(text)s" is what was typed.
REFUSALS = {
    "trials": _("the number of trials must be a whole number, not '%(text)s'"),
    "seed": _("the seed must be a whole number, not '%(text)s'"),
    "min_trades": _("the minimum trades per trial must be a whole number, not '%(text)s'"),
    "fee": _("the fee (%% per fill) must be a number, not '%(text)s'"),
    "slippage": _("the slippage (bps per fill) must be a number, not '%(text)s'"),
}


def _number(data, name: str, kind: type, errors: list[str]):
    """The field's number, or its default (and the refusal) when it is not one."""
    text = (data.get(name) or "").strip()
    try:
        value = kind(text)
    except (ValueError, InvalidOperation):
        value = None
    if value is None or (kind is Decimal and not value.is_finite()):
        errors.append(str(REFUSALS[name]) % {"text": text})
        return kind(str(DEFAULTS[name]))
    return value


def objective_choices() -> list[tuple[str, str]]:
    return [(o.name, objective_label(o.name)) for o in OBJECTIVES.values()]
