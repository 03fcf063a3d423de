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
        return "", None, f"'{text}' is not REGIME.parameter=LOW:HIGH[:STEP], e.g. SIDEWAYS.rsi_14_max=30:60"
    regime, name, spec = match.group(1).upper(), match.group(2), match.group(3)
    key = f"{regime}.{name}"
    if name not in RegimeParams.model_fields:
        return key, None, f"{key}: unknown parameter '{name}' (manage.py strategy_params lists them)"
    if spec is None or spec == "":
        return key, table_range(name), ""
    if ":" in spec:
        parts = spec.split(":")
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            numbers = []
        if len(parts) not in (2, 3) or len(numbers) != len(parts) or not all(map(math.isfinite, numbers)):
            return key, None, f"{key}: '{spec}' is not a range LOW:HIGH or LOW:HIGH:STEP of numbers"
        default_step = table_range(name).get("step")
        step = numbers[2] if len(numbers) == 3 else default_step
        return key, {"low": _plain(numbers[0]), "high": _plain(numbers[1]), "step": _plain(step)}, ""
    values = [_choice(v.strip()) for v in spec.split(",") if v.strip()]
    return key, {"choices": values}, ""


def _plain(number):
    """30.0 -> 30 (a whole number stays whole in the stored request and in trial parameters)."""
    return int(number) if isinstance(number, float) and number.is_integer() else number


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
            return [f"{key}: the choice list is empty; try some of {_listed(allowed)}"]
        wrong = [v for v in values if v not in allowed or isinstance(v, bool) != (kind(info) is bool)]
        return [f"{key}: {_listed(wrong)} is not one of {_listed(allowed)}"] if wrong else []
    if "choices" in spec:
        return [f"{key} is a number: give a range LOW:HIGH, e.g. {key}={_range_text(table_range(name))}"]
    low, high, step = spec["low"], spec["high"], spec["step"]
    errors = []
    if low >= high:
        errors.append(f"{key}: the range {low} to {high} is empty; the low end must be below the high end")
    lowest, highest, above = bounds(info)
    for end in (low, high):
        if (lowest is not None and (end < lowest or (above and end == lowest))) or (
            highest is not None and end > highest
        ):
            errors.append(f"{key}: {out_of_bounds(key, end, info)}")
    if step is None or step <= 0:
        errors.append(f"{key}: the step must be above 0, not {step}")
    elif kind(info) is int and not float(step).is_integer():
        unit = declared(info)["unit"] or "units"
        errors.append(f"{key} counts whole {unit}: the step must be whole, not {step}")
    elif low < high and step > high - low:
        errors.append(f"{key}: the step {step} is larger than the range {low} to {high}")
    return errors


def _listed(values) -> str:
    return ", ".join("yes" if v is True else "no" if v is False else str(v) for v in values)


def _range_text(spec: dict) -> str:
    return f"{spec['low']}:{spec['high']}:{spec['step']}"


def space_errors(req: StudyRequest) -> list[str]:
    errors = []
    if not req.space:
        errors.append("name at least one parameter to tune, e.g. SIDEWAYS.rsi_14_max=30:60")
    for key, spec in req.space.items():
        regime, _, name = key.partition(".")
        if regime not in REGIMES:
            errors.append(f"{key}: unknown regime '{regime}'; the regimes are {', '.join(REGIMES)}")
        elif name not in RegimeParams.model_fields:
            errors.append(f"{key}: unknown parameter '{name}' (manage.py strategy_params lists them)")
        elif regime not in req.regimes:
            errors.append(f"{key}: {regime} is not among the regimes to tune ({', '.join(req.regimes)})")
        else:
            errors += range_errors(key, spec)
    return errors


def setting_errors(req: StudyRequest) -> list[str]:
    errors = []
    unknown = [r for r in req.regimes if r not in REGIMES]
    if not req.regimes or unknown:
        named = _listed(unknown) or "none named"
        errors.append(f"regimes to tune: {named}; choose from {', '.join(REGIMES)}")
    if req.force_regime and req.force_regime not in REGIMES:
        errors.append(f"every bar as regime '{req.force_regime}': choose one of {', '.join(REGIMES)}")
    elif req.force_regime and req.regimes and req.regimes != [req.force_regime]:
        errors.append(
            f"with every bar treated as {req.force_regime} only {req.force_regime} parameters are used: "
            f"tune {req.force_regime} alone"
        )
    errors += objective_errors(req.objectives)
    if not 1 <= req.n_trials <= settings.LAB_MAX_TRIALS:
        most = settings.LAB_MAX_TRIALS
        errors.append(f"{req.n_trials:,} trials asked: from 1 to {most:,} (LAB_MAX_TRIALS)")
    if not 0 <= req.seed <= MAX_SEED:
        errors.append(f"the seed must be a whole number from 0 to {MAX_SEED:,}")
    if not UPBIT_FEE_PCT <= req.fee_pct <= MAX_FEE_PCT:
        errors.append(
            f"fee {req.fee_pct} % per fill: from Upbit's {UPBIT_FEE_PCT.normalize()} % to {MAX_FEE_PCT} % "
            "(every simulated fill pays Upbit's fee; more is charged as extra slippage)"
        )
    if not 0 <= req.slippage_bps <= MAX_SLIPPAGE_BPS:
        errors.append(f"slippage {req.slippage_bps} bps: from 0 to {MAX_SLIPPAGE_BPS} bps (10 %)")
    if not 1 <= req.min_trades <= MAX_MIN_TRADES:
        errors.append(f"minimum trades per trial: from 1 to {MAX_MIN_TRADES:,}, not {req.min_trades}")
    return errors


def objective_errors(names: list[str]) -> list[str]:
    known = ", ".join(OBJECTIVES)
    errors = [f"unknown objective '{n}': choose from {known}" for n in names if n not in OBJECTIVES]
    if not names or len(names) > 2:
        errors.append("choose one objective, or two for a Pareto front (e.g. total_return and max_drawdown)")
    elif len(names) == 2 and names[0] == names[1]:
        errors.append(f"the two objectives are both {names[0]}: choose two different figures")
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
            where = "" if low_spec and high_spec else " in the base version"
            below = "below" if strict else "at or below"
            errors.append(
                f"{regime}: {lower} (at least {smallest}) can never be {below} {upper} (at most {largest})"
                f"{where}: no trial could run; widen or move the ranges"
            )
    return errors


def market_errors(req: StudyRequest) -> list[str]:
    """Symbols, dates, the stored candles in the range, the base version."""
    _, errors = parse_symbols(",".join(req.symbols))
    symbols = [s for s in map(listing.normalise, req.symbols) if s and listing.format_error(s) is None]
    if req.end <= req.start:
        errors.append("the end date must be after the start date")
    elif (req.end - req.start).days > MAX_DAYS:
        errors.append(f"at most {MAX_DAYS} days per study, not {(req.end - req.start).days}")
    else:
        for symbol in dict.fromkeys(symbols):
            stored = Candle.objects.filter(
                symbol=symbol, interval="1m", timestamp__gte=req.start, timestamp__lt=req.end
            )[:2].count()
            if stored < 2:
                errors.append(
                    f"no candles stored for {symbol} between {req.start:%Y-%m-%d} and {req.end:%Y-%m-%d}: "
                    "backfill them first (manage.py backfill)"
                )
    try:
        load_strategy(req.base_version)
    except ConfigError as exc:
        errors += exc.messages
    return errors


def request_errors(req: StudyRequest) -> list[str]:
    """Every reason to refuse the request (empty: it may be stored and started)."""
    errors = setting_errors(req) + space_errors(req)
    if not errors:  # the order of a pair is read on ranges that are valid on their own
        errors += order_errors(req)
    return errors + market_errors(req)
