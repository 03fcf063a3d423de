"""The strategy parameters of one regime, declared once.

Each field of `RegimeParams` is one parameter: its type, bounds, label (`title`), help text
(`description`), unit, default, the defaults of regimes that differ, and the range an optimiser may
search. Everything else is derived from these declarations: the validation in
`config.parse_strategy` (with the refusals worded here), the admin form, the defaults of a new
database (`config.load_defaults`) and the table in the README (`manage.py strategy_params`).

Plain pydantic, no Django: an optimiser or a script may import it on its own.
"""

import math
from typing import Annotated, Any, Literal, get_args, get_origin

import annotated_types
from pydantic import (
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

REGIMES = ("BULL", "SIDEWAYS", "BEAR")
MAX_LOOKBACK_BARS = 200  # the live window (strategy.LIVE_WINDOW_BARS) must cover every lookback
MAX_TIME_LIMIT_HOURS = 24 * 30
MA_FILTER_LABELS = {
    "above": "close above MA20",
    "proximity_or_above": "close near or above MA20 (see proximity)",
    "none": "no moving-average filter",
}


def _whole(value):
    """A whole number; 10.0 is read as 10 (versions saved by hand may hold it), 2.5 is refused."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PydanticCustomError("number", "not a number")
    if value != int(value):
        raise PydanticCustomError("whole_number", "not a whole number")
    return int(value)


# A finite int or float, kept as given: 45 stays 45 in entry reasons ("max 45") and stored JSON.
Number = StrictInt | Annotated[StrictFloat, AllowInfNan(False)]
Whole = Annotated[int, BeforeValidator(_whole)]


def param(
    default,
    *,
    title: str,
    help: str,
    unit: str = "",
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    search: tuple | None = None,
    per_regime: dict[str, Any] | None = None,
    noun: str = "",
    labels: dict[str, str] | None = None,
) -> Any:
    """One parameter: `default` holds in every regime not named in `per_regime`.

    `search` is (low, high, step) for a number; a yes/no or a choice is searched over all its
    values. `noun` words a refusal ("an RSI level must be between 0 and 100"); `labels` name the
    values of a choice in the admin.
    """
    if not set(per_regime or {}) <= set(REGIMES):
        raise ValueError(f"per_regime names an unknown regime: {per_regime}")
    extra = {
        "unit": unit,
        "search": search,
        "per_regime": per_regime or {},
        "noun": noun,
        "labels": labels or {},
    }
    return Field(default, ge=ge, gt=gt, le=le, title=title, description=help, json_schema_extra=extra)


class RegimeParams(BaseModel):
    """Entry and exit parameters of one regime."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # --- entry
    rsi_14_max: Number = param(
        55, per_regime={"SIDEWAYS": 45, "BEAR": 40}, title="Max RSI(14)", ge=0, le=100,
        noun="an RSI level", search=(35, 70, 5),
        help="Entry check 1: no entry while RSI(14) is above this level (0-100).",
    )  # fmt: skip
    rsi_7_trigger: Number = param(
        35, per_regime={"SIDEWAYS": 30, "BEAR": 25}, title="RSI(7) dip level", ge=0, le=100,
        noun="an RSI level", search=(15, 45, 5),
        help="Entry check 2: RSI(7) must have dipped to or below this level within the lookback ...",
    )  # fmt: skip
    rsi_7_recover: Number = param(
        40, per_regime={"SIDEWAYS": 35, "BEAR": 30}, title="RSI(7) recovery level", ge=0, le=100,
        noun="an RSI level", search=(20, 50, 5),
        help="... and be back at or above this level now.",
    )  # fmt: skip
    rsi_7_lookback: Whole = param(
        10, title="RSI(7) dip lookback", unit="bars", ge=1, le=MAX_LOOKBACK_BARS, search=(5, 30, 5),
        help="How many 1-minute bars back the dip may be.",
    )  # fmt: skip
    min_rsi_7_bounce_pct: Number = param(
        3.0, title="Min RSI(7) bounce", unit="RSI points", ge=0, le=100, search=(0.0, 10.0, 1.0),
        help="Entry check 3: RSI(7) now minus its lowest value in the lookback must be at least this.",
    )  # fmt: skip
    ma_filter: Literal[tuple(MA_FILTER_LABELS)] = param(  # type: ignore[valid-type]
        "above", per_regime={"SIDEWAYS": "none", "BEAR": "proximity_or_above"},
        title="Moving-average filter", labels=MA_FILTER_LABELS,
        help="Entry check 4: where the close must be against MA20.",
    )  # fmt: skip
    ma_proximity_pct: Number = param(
        3.0, title="MA20 proximity", unit="%", ge=0, le=50, search=(0.5, 5.0, 0.5),
        help="With 'near or above MA20': how far below MA20 the close may be.",
    )  # fmt: skip
    require_price_above_bb_lower: StrictBool = param(
        True, title="Refuse below the lower Bollinger band",
        help="Entry check 5 (falling knife): no entry while the close is under the lower band.",
    )  # fmt: skip
    volume_min_ratio: Number = param(
        0.5, title="Min volume ratio", unit="x average", ge=0, le=100, search=(0.0, 2.0, 0.25),
        help="Entry check 6: the latest volume divided by its average must be at least this.",
    )  # fmt: skip
    volume_surge_check: StrictBool = param(
        False, per_regime={"BEAR": True}, title="Refuse on a volume surge",
        help="Entry check 7: treat a surge as panic selling.",
    )  # fmt: skip
    volume_surge_ratio: Number = param(
        2.0, title="Volume surge ratio", unit="x average", gt=0, le=100, search=(1.5, 5.0, 0.5),
        help="With the surge check on: no entry at or above this volume ratio.",
    )  # fmt: skip
    bb_enabled: StrictBool = param(
        False, per_regime={"SIDEWAYS": True}, title="Require a lower-band touch and recovery",
        help="Entry check 8 (used in SIDEWAYS only): the low touched the lower band and the close recovered.",
    )  # fmt: skip
    bb_touch_lookback: Whole = param(
        30, title="Band touch lookback", unit="bars", ge=1, le=MAX_LOOKBACK_BARS, search=(10, 60, 10),
        help="How many 1-minute bars back the touch may be.",
    )  # fmt: skip
    ai_prefilter_max_drop_pct_6h: Number | None = param(
        None, per_regime={"BEAR": 5.0}, title="AI pre-filter: max 6 h drop", unit="%", ge=0, le=100,
        search=(2.0, 10.0, 1.0),
        help="BEAR only: skip the AI (no entry) when the price fell more than this over 6 hours. "
        "Empty: no such pre-filter.",
    )  # fmt: skip
    # --- exit
    take_profit_pct: Number = param(
        5.0, per_regime={"SIDEWAYS": 3.0, "BEAR": 2.5}, title="Take profit", unit="%", gt=0, le=100,
        search=(1.0, 10.0, 0.5),
        help="Exit when the price is this far above the average entry price.",
    )  # fmt: skip
    stop_loss_pct: Number = param(
        3.0, per_regime={"SIDEWAYS": 2.5, "BEAR": 2.0}, title="Stop loss", unit="%", gt=0, le=50,
        search=(0.5, 6.0, 0.5),
        help="Exit when the price is this far below the average entry price; "
        "not larger than the take profit.",
    )  # fmt: skip
    trailing_stop_pct: Number = param(
        2.0, per_regime={"SIDEWAYS": 1.5, "BEAR": 1.2}, title="Trailing stop", unit="%", gt=0, le=50,
        search=(0.5, 4.0, 0.25),
        help="Once active, exit when the price falls this far below its highest price since entry.",
    )  # fmt: skip
    trailing_activation_pct: Number = param(
        1.0, per_regime={"BEAR": 0.8}, title="Trailing stop activation", unit="% profit", ge=0, le=100,
        search=(0.0, 3.0, 0.25),
        help="The trailing stop starts once the price was this far above the entry price.",
    )  # fmt: skip
    rsi_overbought: Number = param(
        75, per_regime={"SIDEWAYS": 70, "BEAR": 65}, title="RSI(14) overbought level", ge=0, le=100,
        noun="an RSI level", search=(60, 85, 5),
        help="Exit when RSI(14) reaches this level ...",
    )  # fmt: skip
    rsi_exit_min_profit_pct: Number = param(
        1.0, per_regime={"SIDEWAYS": 0.5, "BEAR": 0.5}, title="Min profit for the RSI exit", unit="%",
        ge=0, le=100, search=(0.0, 3.0, 0.5),
        help="... and the profit is at least this.",
    )  # fmt: skip
    time_limit_hours: Number = param(
        48, per_regime={"SIDEWAYS": 24, "BEAR": 8}, title="Time limit", unit="hours", gt=0,
        le=MAX_TIME_LIMIT_HOURS, search=(4, 72, 4),
        help="Exit a position held longer than this.",
    )  # fmt: skip
    # --- position management (every option off by default: the v3.1 behaviour)
    atr_stop_k: Number | None = param(
        None, title="ATR stop loss", unit="x ATR(14)", gt=0, le=20, search=(1.0, 6.0, 0.5),
        help="Instead of the percentage: stop this many ATR(14) below the entry price (ATR at the "
        "entry bar). Empty: the percentage stop.",
    )  # fmt: skip
    atr_take_profit_k: Number | None = param(
        None, title="ATR take profit", unit="x ATR(14)", gt=0, le=50, search=(1.0, 12.0, 0.5),
        help="Instead of the percentage: take profit this many ATR(14) above the entry price (ATR "
        "at the entry bar). Empty: the percentage take profit.",
    )  # fmt: skip
    atr_trailing_k: Number | None = param(
        None, title="ATR trailing stop", unit="x ATR(14)", gt=0, le=20, search=(1.0, 6.0, 0.5),
        help="Instead of the percentage: once active, exit this many ATR(14) (of the current bar) "
        "below the highest price since entry. Empty: the percentage trailing stop.",
    )  # fmt: skip
    partial_tp_1_pct: Number | None = param(
        None, title="Scale-out level 1", unit="% profit", gt=0, le=100, search=(0.5, 5.0, 0.5),
        help="Sell part of the position once the price is this far above the entry price. "
        "Empty: no scale-out.",
    )  # fmt: skip
    partial_tp_1_sell_pct: Number = param(
        50, title="Scale-out level 1: sell", unit="% of the position", gt=0, le=100,
        search=(10, 90, 10), help="Share of the quantity bought at entry sold at level 1.",
    )  # fmt: skip
    partial_tp_2_pct: Number | None = param(
        None, title="Scale-out level 2", unit="% profit", gt=0, le=100, search=(1.0, 8.0, 0.5),
        help="A second, higher level (needs level 1). Empty: none.",
    )  # fmt: skip
    partial_tp_2_sell_pct: Number = param(
        25, title="Scale-out level 2: sell", unit="% of the position", gt=0, le=100,
        search=(10, 90, 10), help="Share of the quantity bought at entry sold at level 2.",
    )  # fmt: skip
    partial_tp_3_pct: Number | None = param(
        None, title="Scale-out level 3", unit="% profit", gt=0, le=100, search=(1.5, 10.0, 0.5),
        help="A third, higher level (needs level 2). Empty: none.",
    )  # fmt: skip
    partial_tp_3_sell_pct: Number = param(
        25, title="Scale-out level 3: sell", unit="% of the position", gt=0, le=100,
        search=(10, 90, 10), help="Share of the quantity bought at entry sold at level 3.",
    )  # fmt: skip
    breakeven_after_partial: StrictBool = param(
        False, title="Stop to break-even after a scale-out",
        help="After the first scale-out level sold, the stop loss moves up to the entry price.",
    )  # fmt: skip
    reentry_cooldown_minutes: Number = param(
        0, title="Re-entry cooldown", unit="minutes", ge=0, le=1440, search=(0, 240, 30),
        help="No new entry in a symbol for this long after it was sold (0: none); the regime "
        "at the new entry decides.",
    )  # fmt: skip
    risk_per_trade_pct: Number | None = param(
        None, title="Risk per trade", unit="% of equity", gt=0, le=10, search=(0.25, 3.0, 0.25),
        help="Size each entry so that its stop loss costs this share of equity: size = risk / stop "
        "distance, never above the max position size. Empty: the fixed max position size.",
    )  # fmt: skip
    kelly_fraction: Number | None = param(
        None, title="Kelly cap fraction", unit="x Kelly", gt=0, le=1, search=(0.1, 1.0, 0.05),
        help="Cap the size at this fraction of the Kelly bet from the symbol's last closed trades "
        "in this regime (0.25: a quarter Kelly). Empty: no Kelly cap.",
    )  # fmt: skip
    kelly_trades: Whole = param(
        30, title="Kelly cap: trades", unit="trades", ge=5, le=500, search=(10, 100, 10),
        help="How many of the latest closed trades the Kelly cap reads; with fewer it does nothing.",
    )  # fmt: skip

    def partial_levels(self) -> tuple[tuple[float, float], ...]:
        """The scale-out levels set, lowest first: ((profit %, sell % of the entry quantity), ...)."""
        levels = []
        for k in (1, 2, 3):
            at = getattr(self, f"partial_tp_{k}_pct")
            if at is None:
                break
            levels.append((at, getattr(self, f"partial_tp_{k}_sell_pct")))
        return tuple(levels)

    @model_validator(mode="after")
    def _rules_between_parameters(self):
        broken = rule_violations(self)
        if broken:
            raise PydanticCustomError("rules", "; ".join(broken), {"messages": broken})
        return self


def rule_violations(p: RegimeParams) -> list[str]:
    """Settings each valid on its own that make no sense together."""
    errors = []
    if p.rsi_7_trigger >= p.rsi_7_recover:
        errors.append(
            f"rsi_7_trigger ({p.rsi_7_trigger}) must be below rsi_7_recover ({p.rsi_7_recover}): "
            "RSI(7) first dips to the trigger, then recovers above it"
        )
    if p.stop_loss_pct > p.take_profit_pct:
        errors.append(
            f"stop loss ({p.stop_loss_pct}%) is larger than take profit ({p.take_profit_pct}%): "
            "every win would be smaller than every loss"
        )
    if p.volume_surge_check and p.volume_surge_ratio <= p.volume_min_ratio:
        errors.append(
            f"volume_surge_ratio ({p.volume_surge_ratio}) must be above volume_min_ratio "
            f"({p.volume_min_ratio}), or no volume could ever pass"
        )
    if p.atr_stop_k is not None and p.atr_take_profit_k is not None and p.atr_stop_k > p.atr_take_profit_k:
        errors.append(
            f"ATR stop loss ({p.atr_stop_k}x) is larger than ATR take profit ({p.atr_take_profit_k}x): "
            "every win would be smaller than every loss"
        )
    return errors + _scale_out_violations(p)


def _scale_out_violations(p: RegimeParams) -> list[str]:
    errors = []
    for k in (2, 3):
        if getattr(p, f"partial_tp_{k}_pct") is not None and getattr(p, f"partial_tp_{k - 1}_pct") is None:
            errors.append(f"scale-out level {k} is set but level {k - 1} is empty: fill the levels in order")
    levels = p.partial_levels()
    for (low, _), (high, _) in zip(levels, levels[1:], strict=False):
        if high <= low:
            errors.append(f"scale-out levels must rise: {high}% is not above {low}%")
    sold = sum(share for _, share in levels)
    if sold > 100:
        errors.append(f"the scale-out levels sell {sold}% of the position: at most 100%")
    if levels and p.atr_take_profit_k is None and levels[-1][0] >= p.take_profit_pct:
        errors.append(
            f"scale-out level {len(levels)} ({levels[-1][0]}%) is not below the take profit "
            f"({p.take_profit_pct}%): the take profit would sell everything first"
        )
    return errors


# --- reading the declarations


def declared(info: FieldInfo) -> dict:
    """What param() declared beyond pydantic's own arguments."""
    return info.json_schema_extra  # type: ignore[return-value]  # always a dict: see param()


def kind(info: FieldInfo) -> type:
    """bool, str (a choice), int or float: what the admin field and the refusal words follow."""
    if info.annotation in (bool, int):
        return info.annotation
    return str if get_origin(info.annotation) is Literal else float


def label(info: FieldInfo) -> str:
    """The title with its unit, as the admin shows it: "Take profit (%)"."""
    unit = declared(info)["unit"]
    return f"{info.title} ({unit})" if unit else str(info.title)


def optional(info: FieldInfo) -> bool:
    return type(None) in get_args(info.annotation)


def choices(info: FieldInfo) -> tuple[str, ...]:
    return get_args(info.annotation) if kind(info) is str else ()


def bounds(info: FieldInfo) -> tuple[float | None, float | None, bool]:
    """(lowest, highest, whether the lowest itself is refused)."""
    low = high = None
    above = False
    for limit in info.metadata:
        if isinstance(limit, annotated_types.Ge):
            low = limit.ge
        elif isinstance(limit, annotated_types.Gt):
            low, above = limit.gt, True
        elif isinstance(limit, annotated_types.Le):
            high = limit.le
    return low, high, above


def search_space(model: type[RegimeParams]) -> dict[str, tuple]:
    """What an optimiser may try: (low, high, step) for a number, the values of a yes/no or choice."""
    space = {}
    for name, info in model.model_fields.items():
        if kind(info) is bool:
            space[name] = (False, True)
        elif kind(info) is str:
            space[name] = choices(info)
        else:
            space[name] = declared(info)["search"]
    return space


def regime_defaults(model: type[RegimeParams], regime: str) -> dict:
    """The default block of `regime`, values as declared (55 stays an int)."""
    return {
        name: declared(info)["per_regime"].get(regime, info.default)
        for name, info in model.model_fields.items()
    }


# --- refusals in the words a trader reads (config prefixes the regime)

BOUND_ERRORS = {"greater_than", "greater_than_equal", "less_than_equal"}


def out_of_bounds(name: str, value, info: FieldInfo) -> str:
    low, high, above = bounds(info)
    unit, noun = declared(info)["unit"], declared(info)["noun"]
    if noun:
        return f"{name} is {value}, {noun} must be between {low} and {high}"
    if unit.startswith("%"):
        if value > high:
            return f"{name} is {value}%, it must be at most {high}%"
        if above and value == low:
            return f"{name} must be above {low}%"
        return f"{name} is {value}%, it must be between {low} and {high}"
    if unit == "x average":
        if value > high:
            return f"{name} is {value}, it must be at most {high}x the average"
        return f"{name} is {value}, it must be {'above' if above else 'at least'} {low}"
    span = f"above {low} and at most {high}" if above else f"between {low} and {high}"
    return f"{name} must be {span} {unit}".rstrip()


def field_refusal(model: type[RegimeParams], name: str, value, error: str) -> str:
    """One field's refusal from the pydantic error type."""
    info = model.model_fields[name]
    if error in BOUND_ERRORS:
        return out_of_bounds(name, value, info)
    if kind(info) is bool:
        return f"{name} must be yes or no, not {value!r}"
    if kind(info) is str:
        return f"{name} '{value}' must be one of {', '.join(choices(info))}"
    if error == "whole_number":
        unit = declared(info)["unit"]
        return f"{name} must be a whole number{f' of {unit}' if unit else ''}, not {value}"
    return f"{name} must be a number{' or empty' if optional(info) else ''}, not {value!r}"


def refusals(model: type[RegimeParams], exc: ValidationError, block: dict) -> list[str]:
    """The messages of a refused block: one per field, then the rules between fields."""
    messages, seen = [], set()
    for error in exc.errors():
        if not error["loc"]:
            messages += error["ctx"]["messages"]
            continue
        name = error["loc"][0]
        if name in seen:
            continue  # a number is tried as int and as float: one message
        seen.add(name)
        if error["type"] == "extra_forbidden":
            messages.append(f"unknown setting '{name}'")
        else:
            messages.append(field_refusal(model, str(name), block[name], error["type"]))
    return messages


def validate_block(model: type[RegimeParams], block: dict) -> tuple[RegimeParams | None, list[str]]:
    """(parameters, []) or (None, what is wrong); every parameter must be named, none added."""
    missing = [f"'{name}' is missing" for name in model.model_fields if name not in block]
    if missing:
        unknown = [f"unknown setting '{key}'" for key in block if key not in model.model_fields]
        return None, unknown + missing
    try:
        return model.model_validate(block), []
    except ValidationError as exc:
        return None, refusals(model, exc, block)


# --- documentation


def _shown(value) -> str:
    if value is None:
        return "empty"
    return "yes" if value is True else "no" if value is False else str(value)


def _bounds_text(info: FieldInfo) -> str:
    if kind(info) is bool:
        return "yes / no"
    if kind(info) is str:
        return " / ".join(f"`{c}`" for c in choices(info))
    low, high, above = bounds(info)
    text = f"above {low}, up to {high}" if above else f"{low} to {high}"
    return text + (", or empty" if optional(info) else "")


def _searched_text(info: FieldInfo) -> str:
    if kind(info) in (bool, str):
        return "all"
    low, high, step = declared(info)["search"]
    return f"{low} to {high} step {step}"


def markdown_table(model: type[RegimeParams]) -> str:
    """The parameter table of the README."""
    head = ["Parameter", "Meaning", *REGIMES, "Bounds", "Searched"]
    defaults = {regime: regime_defaults(model, regime) for regime in REGIMES}
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name, info in model.model_fields.items():
        cells = [
            f"`{name}`",
            f"{label(info)}: {info.description}",
            *(_shown(defaults[regime][name]) for regime in REGIMES),
            _bounds_text(info),
            _searched_text(info),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


TABLE_START = "<!-- parameter table: generated by `manage.py strategy_params --readme`, do not edit -->"
TABLE_END = "<!-- end of the parameter table -->"


def with_table(readme: str, table: str) -> str:
    """`readme` with the text between the table markers replaced by `table`."""
    head, start, rest = readme.partition(TABLE_START)
    _, end, tail = rest.partition(TABLE_END)
    if not (start and end):
        raise ValueError("the README lacks the parameter table markers")
    return f"{head}{TABLE_START}\n{table}{TABLE_END}{tail}"
