"""A trial's parameter values, drawn from the study's search space.

Some parameters must stay in order (a stop loss not above the take profit, the RSI(7) trigger
below its recovery level; trading/parameters.py `rule_violations`). When one of such a pair is
tuned, its range is narrowed to the values the other allows (the other's value in this trial,
or the base version's), so the optimiser does not spend trials on combinations the strategy
refuses. Rules not listed here still refuse a trial, which is then pruned with the reason.
"""

import math

import optuna

from trading.config import StrategyParams
from trading.parameters import RegimeParams, kind

# (lower, upper, strictly below): pairs the strategy keeps in order.
ORDERED = (
    ("rsi_7_trigger", "rsi_7_recover", True),
    ("stop_loss_pct", "take_profit_pct", False),
    ("atr_stop_k", "atr_take_profit_k", False),
    ("partial_tp_1_pct", "partial_tp_2_pct", True),
    ("partial_tp_2_pct", "partial_tp_3_pct", True),
)
RANK = {"rsi_7_recover": 1, "take_profit_pct": 1, "atr_take_profit_k": 1, "partial_tp_2_pct": 1,
        "partial_tp_3_pct": 2}  # fmt: skip


class Impossible(ValueError):
    """No value of a range fits the other parameter of its pair."""


def suggest(trial: optuna.Trial, space: dict[str, dict], base: StrategyParams) -> dict[str, dict]:
    """The trial's values, per regime: {"SIDEWAYS": {"rsi_14_max": 45, ...}}."""
    values: dict[str, dict] = {}
    # the lower of each pair first, so the upper one can be narrowed to it
    for key in sorted(space, key=lambda k: RANK.get(k.split(".", 1)[1], 0)):
        regime, name = key.split(".", 1)
        chosen = values.setdefault(regime, {})
        spec = space[key]
        if "choices" in spec:
            chosen[name] = trial.suggest_categorical(key, spec["choices"])
            continue
        low, high = narrowed(spec, name, regime, space, chosen, base)
        if low > high:
            raise Impossible(f"{key}: no value from {spec['low']} to {spec['high']} keeps {order_of(name)}")
        chosen[name] = _suggest_number(trial, key, name, spec, low, high)
    return values


def narrowed(spec: dict, name: str, regime: str, space: dict, chosen: dict, base: StrategyParams):
    """The part of a numeric range that keeps `name` in order with its partner."""
    low, high = spec["low"], spec["high"]
    for lower, upper, strict in ORDERED:
        if name == upper:
            other = chosen[lower] if lower in chosen else getattr(base.regimes[regime], lower)
            if other is not None:
                low = max(low, _grid_above(spec, other, strict))
        elif name == lower:
            partner = space.get(f"{regime}.{upper}")
            other = partner["high"] if partner and "high" in partner else getattr(base.regimes[regime], upper)
            if other is not None:
                high = min(high, _grid_below(spec, other, strict))
    return low, high


def _grid_above(spec: dict, value, strict: bool):
    """The smallest value of the range's grid (low + k x step) at or above `value` (above, strict)."""
    k = max(0, math.ceil(round((value - spec["low"]) / spec["step"], 9)))
    if strict and spec["low"] + k * spec["step"] <= value:
        k += 1
    return spec["low"] + k * spec["step"]


def _grid_below(spec: dict, value, strict: bool):
    """The largest grid value at or below `value` (below, strict); under low when there is none."""
    k = math.floor(round((value - spec["low"]) / spec["step"], 9))
    if strict and spec["low"] + k * spec["step"] >= value:
        k -= 1
    return spec["low"] + k * spec["step"]


def order_of(name: str) -> str:
    """The order `name` must keep, as a refusal says it: "stop_loss_pct <= take_profit_pct"."""
    return " and ".join(f"{a} {'<' if strict else '<='} {b}" for a, b, strict in ORDERED if name in (a, b))


def _suggest_number(trial: optuna.Trial, key: str, name: str, spec: dict, low, high):
    # int or float follows the declared range, whatever the narrowing: one kind per parameter
    whole = kind(RegimeParams.model_fields[name]) is int or all(
        isinstance(v, int) for v in (spec["low"], spec["high"], spec["step"])
    )
    if whole:
        return trial.suggest_int(key, int(low), int(high), step=int(spec["step"]))
    return trial.suggest_float(key, float(low), float(high), step=float(spec["step"]))
