"""A study request and every reason to refuse it, at once and in a trader's words.

Nothing is stored or started for a refused request (`lab.study.create_study` stores only what
`request_errors` passes). The searchable range of each parameter and its hard bounds come from the
one parameter table (trading/parameters.py).
"""

import math
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext as _

from core.formatting import number
from market import listing
from market.models import Candle
from trading.backtest_runs import MAX_DAYS, parse_symbols
from trading.config import ConfigError, load_strategy
from trading.fills import FEE_RATE
from trading.parameters import REGIMES, RegimeParams, bounds, choices, declared, kind, out_of_bounds

from .objectives import OBJECTIVES
from .space import ORDERED

UPBIT_FEE_PCT = FEE_RATE * 100  # 0.05 %: what every simulated fill pays
MAX_FEE_PCT = Decimal("1")
MAX_SLIPPAGE_BPS = Decimal("1000")  # 10 %, as `manage.py backtest`
MAX_SEED = 2**31 - 1
MAX_MIN_TRADES = 10_000
# Tuned when the operator names no parameter: the entry thresholds and the exits that decide most.
DEFAULT_TUNED = ("rsi_14_max", "rsi_7_trigger", "rsi_7_recover", "take_profit_pct", "stop_loss_pct",
                 "trailing_stop_pct")  # fmt: skip
PARAM_RE = re.compile(r"^\s*([A-Za-z]+)\.([a-z0-9_]+)\s*(?:=\s*(.*?)\s*)?$")


@dataclass(frozen=True)
class StudyRequest:
    """What the operator asks for, parsed but not yet checked."""

    symbols: list[str]
    start: datetime
    end: datetime
    regimes: list[str]
    space: dict[str, dict]  # "SIDEWAYS.rsi_14_max": {"low", "high", "step"} or {"choices": [...]}
    objectives: list[str]
    n_trials: int
    seed: int = 42
    fee_pct: Decimal = UPBIT_FEE_PCT
    slippage_bps: Decimal = Decimal("5")
    min_trades: int = 5
    force_regime: str = ""
    base_version: int | None = None  # None: the active strategy version


def table_range(name: str) -> dict:
    """A parameter's searchable range as the parameter table declares it."""
    info = RegimeParams.model_fields[name]
    if kind(info) is bool:
        return {"choices": [False, True]}
    if kind(info) is str:
        return {"choices": list(choices(info))}
    low, high, step = declared(info)["search"]
    return {"low": low, "high": high, "step": step}


def default_space(regimes: list[str]) -> dict[str, dict]:
    """The parameters tuned when none are named, with the table's ranges."""
    return {f"{regime}.{name}": table_range(name) for regime in regimes for name in DEFAULT_TUNED}


def parse_param(text: str) -> tuple[str, dict | None, str]:
    """`SIDEWAYS.rsi_14_max=30:60[:5]`, `BEAR.ma_filter=above,none` or `SIDEWAYS.take_profit_pct`
    (the table's range) -> (key, range or None, refusal)."""
    match = PARAM_RE.match(text or "")
    if not match:
        return (
            "",
            None,
            _("'%(text)s' is not REGIME.parameter=LOW:HIGH[:STEP], e.g. SIDEWAYS.rsi_14_max=30:60")
            % {"text": text},
        )
    regime, name, spec = match.group(1).upper(), match.group(2), match.group(3)
    key = f"{regime}.{name}"
    if name not in RegimeParams.model_fields:
        return key, None, _unknown_parameter(key, name)
    if spec is None or spec == "":
        return key, table_range(name), ""
    if ":" in spec:
        parts = spec.split(":")
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            numbers = []
        if len(parts) not in (2, 3) or len(numbers) != len(parts) or not all(map(math.isfinite, numbers)):
            return (
                key,
                None,
                _("%(key)s: '%(spec)s' is not a range LOW:HIGH or LOW:HIGH:STEP of numbers")
                % {
                    "key": key,
                    "spec": spec,
                },
            )
        default_step = table_range(name).get("step")
        step = numbers[2] if len(numbers) == 3 else default_step
        return key, {"low": _plain(numbers[0]), "high": _plain(numbers[1]), "step": _plain(step)}, ""
    values = [_choice(v.strip()) for v in spec.split(",") if v.strip()]
    return key, {"choices": values}, ""


def _unknown_parameter(key: str, name: str) -> str:
    return _("%(key)s: unknown parameter '%(name)s' (manage.py strategy_params lists them)") % {
        "key": key,
        "name": name,
    }


def _plain(value):
    """30.0 -> 30 (a whole number stays whole in the stored request and in trial parameters)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _choice(text: str):
    lowered = text.lower()
    return {"yes": True, "true": True, "no": False, "false": False}.get(lowered, text)


def range_errors(key: str, spec: dict) -> list[str]:
    """Why one parameter's range cannot be searched (outside its bounds, empty, not its kind)."""
    name = key.split(".", 1)[1]
    info = RegimeParams.model_fields[name]
    if kind(info) in (bool, str):
        allowed = [False, True] if kind(info) is bool else list(choices(info))
        values = spec.get("choices")
        if not values:
            return [
                _("%(key)s: the choice list is empty; try some of %(allowed)s")
                % {"key": key, "allowed": _listed(allowed)}
            ]
        wrong = [v for v in values if v not in allowed or isinstance(v, bool) != (kind(info) is bool)]
        if not wrong:
            return []
        return [
            _("%(key)s: %(wrong)s is not one of %(allowed)s")
            % {"key": key, "wrong": _listed(wrong), "allowed": _listed(allowed)}
        ]
    if "choices" in spec:
        return [
            _("%(key)s is a number: give a range LOW:HIGH, e.g. %(key)s=%(example)s")
            % {"key": key, "example": _range_text(table_range(name))}
        ]
    low, high, step = spec["low"], spec["high"], spec["step"]
    errors = []
    if low >= high:
        errors.append(
            _("%(key)s: the range %(low)s to %(high)s is empty; the low end must be below the high end")
            % {"key": key, "low": low, "high": high}
        )
    lowest, highest, above = bounds(info)
    for end in (low, high):
        if (lowest is not None and (end < lowest or (above and end == lowest))) or (
            highest is not None and end > highest
        ):
            errors.append(f"{key}: {out_of_bounds(key, end, info)}")
    if step is None or step <= 0:
        errors.append(_("%(key)s: the step must be above 0, not %(step)s") % {"key": key, "step": step})
    elif kind(info) is int and not float(step).is_integer():
        unit = declared(info)["unit"] or _("units")
        errors.append(
            _("%(key)s counts whole %(unit)s: the step must be whole, not %(step)s")
            % {"key": key, "unit": unit, "step": step}
        )
    elif low < high and step > high - low:
        errors.append(
            _("%(key)s: the step %(step)s is larger than the range %(low)s to %(high)s")
            % {"key": key, "step": step, "low": low, "high": high}
        )
    return errors


def _listed(values) -> str:
    # yes / no are what the form's text box takes for a choice: kept as typed
    return ", ".join("yes" if v is True else "no" if v is False else str(v) for v in values)


def _range_text(spec: dict) -> str:
    return f"{spec['low']}:{spec['high']}:{spec['step']}"


def space_errors(req: StudyRequest) -> list[str]:
    errors = []
    if not req.space:
        errors.append(_("name at least one parameter to tune, e.g. SIDEWAYS.rsi_14_max=30:60"))
    for key, spec in req.space.items():
        regime, _dot, name = key.partition(".")
        if regime not in REGIMES:
            errors.append(
                _("%(key)s: unknown regime '%(regime)s'; the regimes are %(regimes)s")
                % {"key": key, "regime": regime, "regimes": ", ".join(REGIMES)}
            )
        elif name not in RegimeParams.model_fields:
            errors.append(_unknown_parameter(key, name))
        elif regime not in req.regimes:
            errors.append(
                _("%(key)s: %(regime)s is not among the regimes to tune (%(regimes)s)")
                % {"key": key, "regime": regime, "regimes": ", ".join(req.regimes)}
            )
        else:
            errors += range_errors(key, spec)
    return errors


def setting_errors(req: StudyRequest) -> list[str]:
    errors = []
    unknown = [r for r in req.regimes if r not in REGIMES]
    if not req.regimes or unknown:
        named = _listed(unknown) or _("none named")
        errors.append(
            _("regimes to tune: %(named)s; choose from %(regimes)s")
            % {"named": named, "regimes": ", ".join(REGIMES)}
        )
    if req.force_regime and req.force_regime not in REGIMES:
        errors.append(
            _("every bar as regime '%(regime)s': choose one of %(regimes)s")
            % {"regime": req.force_regime, "regimes": ", ".join(REGIMES)}
        )
    elif req.force_regime and req.regimes and req.regimes != [req.force_regime]:
        errors.append(
            _(
                "with every bar treated as %(regime)s only %(regime)s parameters are used: "
                "tune %(regime)s alone"
            )
            % {"regime": req.force_regime}
        )
    errors += objective_errors(req.objectives)
    if not 1 <= req.n_trials <= settings.LAB_MAX_TRIALS:
        most = settings.LAB_MAX_TRIALS
        errors.append(
            _("%(trials)s trials asked: from 1 to %(most)s (LAB_MAX_TRIALS)")
            % {"trials": number(req.n_trials), "most": number(most)}
        )
    if not 0 <= req.seed <= MAX_SEED:
        errors.append(_("the seed must be a whole number from 0 to %(most)s") % {"most": number(MAX_SEED)})
    if not UPBIT_FEE_PCT <= req.fee_pct <= MAX_FEE_PCT:
        errors.append(
            _(
                "fee %(fee)s %% per fill: from Upbit's %(upbit)s %% to %(most)s %% "
                "(every simulated fill pays Upbit's fee; more is charged as extra slippage)"
            )
            % {"fee": req.fee_pct, "upbit": UPBIT_FEE_PCT.normalize(), "most": MAX_FEE_PCT}
        )
    if not 0 <= req.slippage_bps <= MAX_SLIPPAGE_BPS:
        errors.append(
            _("slippage %(slippage)s bps: from 0 to %(most)s bps (10 %%)")
            % {"slippage": req.slippage_bps, "most": MAX_SLIPPAGE_BPS}
        )
    if not 1 <= req.min_trades <= MAX_MIN_TRADES:
        errors.append(
            _("minimum trades per trial: from 1 to %(most)s, not %(trades)s")
            % {"most": number(MAX_MIN_TRADES), "trades": req.min_trades}
        )
    return errors


def objective_errors(names: list[str]) -> list[str]:
    known = ", ".join(OBJECTIVES)
    errors = [
        _("unknown objective '%(name)s': choose from %(known)s") % {"name": n, "known": known}
        for n in names
        if n not in OBJECTIVES
    ]
    if not names or len(names) > 2:
        errors.append(
            _("choose one objective, or two for a Pareto front (e.g. total_return and max_drawdown)")
        )
    elif len(names) == 2 and names[0] == names[1]:
        errors.append(
            _("the two objectives are both %(name)s: choose two different figures") % {"name": names[0]}
        )
    return errors


def order_errors(req: StudyRequest) -> list[str]:
    """Ranges of a pair kept in order (lab.space.ORDERED) that can never be in order, against each
    other or against the base version's value of the partner that is not tuned."""
    try:
        base = load_strategy(req.base_version)
    except ConfigError:
        return []  # said by market_errors
    errors = []
    for regime in req.regimes:
        for lower, upper, strict in ORDERED:
            low_spec, high_spec = req.space.get(f"{regime}.{lower}"), req.space.get(f"{regime}.{upper}")
            if not (low_spec or high_spec) or "choices" in (low_spec or {}) or "choices" in (high_spec or {}):
                continue
            smallest = low_spec["low"] if low_spec else getattr(base.regimes[regime], lower)
            largest = high_spec["high"] if high_spec else getattr(base.regimes[regime], upper)
            if (
                smallest is None
                or largest is None
                or smallest < largest
                or (smallest == largest and not strict)
            ):
                continue
            figures = {
                "regime": regime,
                "lower": lower,
                "smallest": smallest,
                "upper": upper,
                "largest": largest,
            }
            if strict and low_spec and high_spec:
                text = _(
                    "%(regime)s: %(lower)s (at least %(smallest)s) can never be below %(upper)s "
                    "(at most %(largest)s): no trial could run; widen or move the ranges"
                )
            elif strict:
                text = _(
                    "%(regime)s: %(lower)s (at least %(smallest)s) can never be below %(upper)s "
                    "(at most %(largest)s) in the base version: no trial could run; widen or move the ranges"
                )
            elif low_spec and high_spec:
                text = _(
                    "%(regime)s: %(lower)s (at least %(smallest)s) can never be at or below %(upper)s "
                    "(at most %(largest)s): no trial could run; widen or move the ranges"
                )
            else:
                text = _(
                    "%(regime)s: %(lower)s (at least %(smallest)s) can never be at or below %(upper)s "
                    "(at most %(largest)s) in the base version: no trial could run; widen or move the ranges"
                )
            errors.append(text % figures)
    return errors


def market_errors(req: StudyRequest) -> list[str]:
    """Symbols, dates, the stored candles in the range, the base version."""
    _names, errors = parse_symbols(",".join(req.symbols))
    symbols = [s for s in map(listing.normalise, req.symbols) if s and listing.format_error(s) is None]
    if req.end <= req.start:
        errors.append(_("the end date must be after the start date"))
    elif (req.end - req.start).days > MAX_DAYS:
        errors.append(too_many_days(req))
    else:
        for symbol in dict.fromkeys(symbols):
            stored = Candle.objects.filter(
                symbol=symbol, interval="1m", timestamp__gte=req.start, timestamp__lt=req.end
            )[:2].count()
            if stored < 2:
                errors.append(
                    _(
                        "no candles stored for %(symbol)s between %(start)s and %(end)s: "
                        "backfill them first (manage.py backfill)"
                    )
                    % {"symbol": symbol, "start": f"{req.start:%Y-%m-%d}", "end": f"{req.end:%Y-%m-%d}"}
                )
    try:
        load_strategy(req.base_version)
    except ConfigError as exc:
        errors += exc.messages
    return errors


def too_many_days(req: StudyRequest) -> str:
    """A study's refusal of a range longer than MAX_DAYS (a check says it in its own terms)."""
    return _("at most %(most)s days per study, not %(days)s") % {
        "most": number(MAX_DAYS),
        "days": number((req.end - req.start).days),
    }


def request_errors(req: StudyRequest) -> list[str]:
    """Every reason to refuse the request (empty: it may be stored and started)."""
    errors = setting_errors(req) + space_errors(req)
    if not errors:  # the order of a pair is read on ranges that are valid on their own
        errors += order_errors(req)
    return errors + market_errors(req)
