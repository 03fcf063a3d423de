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


def _(message: str) -> str:
    """Marks a declared text (a label, a help text, a unit) for makemessages, as gettext_noop does:
    the admin translates it where it is shown, and the README table keeps the English."""
    return message


def gettext(message: str) -> str:
    """`message` in the active language when Django runs (the admin, the bot, the lab), as written
    otherwise: this module stays usable without Django settings."""
    try:
        from django.conf import settings
        from django.utils.translation import gettext as translated
    except ImportError:
        return message
    return translated(message) if settings.configured else message


REGIMES = ("BULL", "SIDEWAYS", "BEAR")
MAX_LOOKBACK_BARS = 200  # the live window (strategy.LIVE_WINDOW_BARS) must cover every lookback
MAX_TIME_LIMIT_HOURS = 24 * 30
# Percent units that are no format strings ("% o" would read as one to xgettext).
# xgettext:no-python-format
PCT_OF_EQUITY = _("% of equity")
# xgettext:no-python-format
PCT_OF_POSITION = _("% of the position")
# xgettext:no-python-format
PCT_PROFIT = _("% profit")
MA_FILTER_LABELS = {
    "above": _("close above MA20"),
    "proximity_or_above": _("close near or above MA20 (see proximity)"),
    "none": _("no moving-average filter"),
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
        55, per_regime={"SIDEWAYS": 45, "BEAR": 40}, title=_("Max RSI(14)"), ge=0, le=100,
        noun=_("an RSI level"), search=(35, 70, 5),
        help=_("Entry check 1: no entry while RSI(14) is above this level (0-100)."),
    )  # fmt: skip
    rsi_7_trigger: Number = param(
        35, per_regime={"SIDEWAYS": 30, "BEAR": 25}, title=_("RSI(7) dip level"), ge=0, le=100,
        noun=_("an RSI level"), search=(15, 45, 5),
        help=_("Entry check 2: RSI(7) must have dipped to or below this level within the lookback ..."),
    )  # fmt: skip
    rsi_7_recover: Number = param(
        40, per_regime={"SIDEWAYS": 35, "BEAR": 30}, title=_("RSI(7) recovery level"), ge=0, le=100,
        noun=_("an RSI level"), search=(20, 50, 5),
        help=_("... and be back at or above this level now."),
    )  # fmt: skip
    rsi_7_lookback: Whole = param(
        10, title=_("RSI(7) dip lookback"), unit=_("bars"), ge=1, le=MAX_LOOKBACK_BARS, search=(5, 30, 5),
        help=_("How many 1-minute bars back the dip may be."),
    )  # fmt: skip
    min_rsi_7_bounce_pct: Number = param(
        3.0, title=_("Min RSI(7) bounce"), unit=_("RSI points"), ge=0, le=100, search=(0.0, 10.0, 1.0),
        help=_("Entry check 3: RSI(7) now minus its lowest value in the lookback must be at least this."),
    )  # fmt: skip
    ma_filter: Literal[tuple(MA_FILTER_LABELS)] = param(  # type: ignore[valid-type]
        "above", per_regime={"SIDEWAYS": "none", "BEAR": "proximity_or_above"},
        title=_("Moving-average filter"), labels=MA_FILTER_LABELS,
        help=_("Entry check 4: where the close must be against MA20."),
    )  # fmt: skip
    ma_proximity_pct: Number = param(
        3.0, title=_("MA20 proximity"), unit="%", ge=0, le=50, search=(0.5, 5.0, 0.5),
        help=_("With 'near or above MA20': how far below MA20 the close may be."),
    )  # fmt: skip
    require_price_above_bb_lower: StrictBool = param(
        True, title=_("Refuse below the lower Bollinger band"),
        help=_("Entry check 5 (falling knife): no entry while the close is under the lower band."),
    )  # fmt: skip
    volume_min_ratio: Number = param(
        0.5, title=_("Min volume ratio"), unit=_("x average"), ge=0, le=100, search=(0.0, 2.0, 0.25),
        help=_("Entry check 6: the latest volume divided by its average must be at least this."),
    )  # fmt: skip
    volume_surge_check: StrictBool = param(
        False, per_regime={"BEAR": True}, title=_("Refuse on a volume surge"),
        help=_("Entry check 7: treat a surge as panic selling."),
    )  # fmt: skip
    volume_surge_ratio: Number = param(
        2.0, title=_("Volume surge ratio"), unit=_("x average"), gt=0, le=100, search=(1.5, 5.0, 0.5),
        help=_("With the surge check on: no entry at or above this volume ratio."),
    )  # fmt: skip
    bb_enabled: StrictBool = param(
        False, per_regime={"SIDEWAYS": True}, title=_("Require a lower-band touch and recovery"),
        help=_(
            "Entry check 8 (used in SIDEWAYS only): the low touched the lower band and the close recovered."
        ),
    )  # fmt: skip
    bb_touch_lookback: Whole = param(
        30, title=_("Band touch lookback"), unit=_("bars"), ge=1, le=MAX_LOOKBACK_BARS, search=(10, 60, 10),
        help=_("How many 1-minute bars back the touch may be."),
    )  # fmt: skip
    ai_prefilter_max_drop_pct_6h: Number | None = param(
        None, per_regime={"BEAR": 5.0}, title=_("AI pre-filter: max 6 h drop"), unit="%", ge=0, le=100,
        search=(2.0, 10.0, 1.0),
        help=_(
            "BEAR only: skip the AI (no entry) when the price fell more than this over 6 hours. "
            "Empty: no such pre-filter."
        ),
    )  # fmt: skip
    # --- exit
    take_profit_pct: Number = param(
        5.0, per_regime={"SIDEWAYS": 3.0, "BEAR": 2.5}, title=_("Take profit"), unit="%", gt=0, le=100,
        search=(1.0, 10.0, 0.5),
        help=_("Exit when the price is this far above the average entry price."),
    )  # fmt: skip
    stop_loss_pct: Number = param(
        3.0, per_regime={"SIDEWAYS": 2.5, "BEAR": 2.0}, title=_("Stop loss"), unit="%", gt=0, le=50,
        search=(0.5, 6.0, 0.5),
        help=_(
            "Exit when the price is this far below the average entry price; "
            "not larger than the take profit."
        ),
    )  # fmt: skip
    trailing_stop_pct: Number = param(
        2.0, per_regime={"SIDEWAYS": 1.5, "BEAR": 1.2}, title=_("Trailing stop"), unit="%", gt=0, le=50,
        search=(0.5, 4.0, 0.25),
        help=_("Once active, exit when the price falls this far below its highest price since entry."),
    )  # fmt: skip
    trailing_activation_pct: Number = param(
        1.0, per_regime={"BEAR": 0.8}, title=_("Trailing stop activation"), unit=PCT_PROFIT, ge=0, le=100,
        search=(0.0, 3.0, 0.25),
        help=_("The trailing stop starts once the price was this far above the entry price."),
    )  # fmt: skip
    rsi_overbought: Number = param(
        75, per_regime={"SIDEWAYS": 70, "BEAR": 65}, title=_("RSI(14) overbought level"), ge=0, le=100,
        noun=_("an RSI level"), search=(60, 85, 5),
        help=_("Exit when RSI(14) reaches this level ..."),
    )  # fmt: skip
    rsi_exit_min_profit_pct: Number = param(
        1.0, per_regime={"SIDEWAYS": 0.5, "BEAR": 0.5}, title=_("Min profit for the RSI exit"), unit="%",
        ge=0, le=100, search=(0.0, 3.0, 0.5),
        help=_("... and the profit is at least this."),
    )  # fmt: skip
    time_limit_hours: Number = param(
        48, per_regime={"SIDEWAYS": 24, "BEAR": 8}, title=_("Time limit"), unit=_("hours"), gt=0,
        le=MAX_TIME_LIMIT_HOURS, search=(4, 72, 4),
        help=_("Exit a position held longer than this."),
    )  # fmt: skip
    # --- position management (every option off by default: the v3.1 behaviour)
    atr_stop_k: Number | None = param(
        None, title=_("ATR stop loss"), unit=_("x ATR(14)"), gt=0, le=20, search=(1.0, 6.0, 0.5),
        help=_(
            "Instead of the percentage: stop this many ATR(14) below the entry price (ATR at the "
            "entry bar). Empty: the percentage stop."
        ),
    )  # fmt: skip
    atr_take_profit_k: Number | None = param(
        None, title=_("ATR take profit"), unit=_("x ATR(14)"), gt=0, le=50, search=(1.0, 12.0, 0.5),
        help=_(
            "Instead of the percentage: take profit this many ATR(14) above the entry price (ATR "
            "at the entry bar). Empty: the percentage take profit."
        ),
    )  # fmt: skip
    atr_trailing_k: Number | None = param(
        None, title=_("ATR trailing stop"), unit=_("x ATR(14)"), gt=0, le=20, search=(1.0, 6.0, 0.5),
        help=_(
            "Instead of the percentage: once active, exit this many ATR(14) (of the current bar) "
            "below the highest price since entry. Empty: the percentage trailing stop."
        ),
    )  # fmt: skip
    partial_tp_1_pct: Number | None = param(
        None, title=_("Scale-out level 1"), unit=PCT_PROFIT, gt=0, le=100, search=(0.5, 5.0, 0.5),
        help=_(
            "Sell part of the position once the price is this far above the entry price. "
            "Empty: no scale-out."
        ),
    )  # fmt: skip
    partial_tp_1_sell_pct: Number = param(
        50, title=_("Scale-out level 1: sell"), unit=PCT_OF_POSITION, gt=0, le=100,
        search=(10, 90, 10), help=_("Share of the quantity bought at entry sold at level 1."),
    )  # fmt: skip
    partial_tp_2_pct: Number | None = param(
        None, title=_("Scale-out level 2"), unit=PCT_PROFIT, gt=0, le=100, search=(1.0, 8.0, 0.5),
        help=_("A second, higher level (needs level 1). Empty: none."),
    )  # fmt: skip
    partial_tp_2_sell_pct: Number = param(
        25, title=_("Scale-out level 2: sell"), unit=PCT_OF_POSITION, gt=0, le=100,
        search=(10, 90, 10), help=_("Share of the quantity bought at entry sold at level 2."),
    )  # fmt: skip
    partial_tp_3_pct: Number | None = param(
        None, title=_("Scale-out level 3"), unit=PCT_PROFIT, gt=0, le=100, search=(1.5, 10.0, 0.5),
        help=_("A third, higher level (needs level 2). Empty: none."),
    )  # fmt: skip
    partial_tp_3_sell_pct: Number = param(
        25, title=_("Scale-out level 3: sell"), unit=PCT_OF_POSITION, gt=0, le=100,
        search=(10, 90, 10), help=_("Share of the quantity bought at entry sold at level 3."),
    )  # fmt: skip
    breakeven_after_partial: StrictBool = param(
        False, title=_("Stop to break-even after a scale-out"),
        help=_("After the first scale-out level sold, the stop loss moves up to the entry price."),
    )  # fmt: skip
    reentry_cooldown_minutes: Number = param(
        0, title=_("Re-entry cooldown"), unit=_("minutes"), ge=0, le=1440, search=(0, 240, 30),
        help=_(
            "No new entry in a symbol for this long after it was sold (0: none); the regime "
            "at the new entry decides."
        ),
    )  # fmt: skip
    risk_per_trade_pct: Number | None = param(
        None, title=_("Risk per trade"), unit=PCT_OF_EQUITY, gt=0, le=10, search=(0.25, 3.0, 0.25),
        help=_(
            "Size each entry so that its stop loss costs this share of equity: size = risk / stop "
            "distance, never above the max position size. Empty: the fixed max position size."
        ),
    )  # fmt: skip
    kelly_fraction: Number | None = param(
        None, title=_("Kelly cap fraction"), unit=_("x Kelly"), gt=0, le=1, search=(0.1, 1.0, 0.05),
        help=_(
            "Cap the size at this fraction of the Kelly bet from the symbol's last closed trades "
            "in this regime (0.25: a quarter Kelly). Empty: no Kelly cap."
        ),
    )  # fmt: skip
    kelly_trades: Whole = param(
        30, title=_("Kelly cap: trades"), unit=_("trades"), ge=5, le=500, search=(10, 100, 10),
        help=_("How many of the latest closed trades the Kelly cap reads; with fewer it does nothing."),
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
        # Translators: keep rsi_7_trigger / rsi_7_recover as written, followed by a space or a
        # bracket: the admin replaces them with the parameters' labels.
        text = gettext(
            "rsi_7_trigger (%(trigger)s) must be below rsi_7_recover (%(recover)s): "
            "RSI(7) first dips to the trigger, then recovers above it"
        )
        errors.append(text % {"trigger": p.rsi_7_trigger, "recover": p.rsi_7_recover})
    if p.stop_loss_pct > p.take_profit_pct:
        text = gettext(
            "stop loss (%(stop)s%%) is larger than take profit (%(take)s%%): "
            "every win would be smaller than every loss"
        )
        errors.append(text % {"stop": p.stop_loss_pct, "take": p.take_profit_pct})
    if p.volume_surge_check and p.volume_surge_ratio <= p.volume_min_ratio:
        # Translators: keep volume_surge_ratio / volume_min_ratio as written, followed by a space.
        text = gettext(
            "volume_surge_ratio (%(surge)s) must be above volume_min_ratio (%(minimum)s), "
            "or no volume could ever pass"
        )
        errors.append(text % {"surge": p.volume_surge_ratio, "minimum": p.volume_min_ratio})
    if p.atr_stop_k is not None and p.atr_take_profit_k is not None and p.atr_stop_k > p.atr_take_profit_k:
        text = gettext(
            "ATR stop loss (%(stop)sx) is larger than ATR take profit (%(take)sx): "
            "every win would be smaller than every loss"
        )
        errors.append(text % {"stop": p.atr_stop_k, "take": p.atr_take_profit_k})
    return errors + _scale_out_violations(p)


def _scale_out_violations(p: RegimeParams) -> list[str]:
    errors = []
    for k in (2, 3):
        if getattr(p, f"partial_tp_{k}_pct") is not None and getattr(p, f"partial_tp_{k - 1}_pct") is None:
            text = gettext(
                "scale-out level %(level)s is set but level %(previous)s is empty: fill the levels in order"
            )
            errors.append(text % {"level": k, "previous": k - 1})
    levels = p.partial_levels()
    for (low, _), (high, _) in zip(levels, levels[1:], strict=False):
        if high <= low:
            errors.append(
                gettext("scale-out levels must rise: %(high)s%% is not above %(low)s%%")
                % {"high": high, "low": low}
            )
    sold = sum(share for _, share in levels)
    if sold > 100:
        errors.append(
            gettext("the scale-out levels sell %(sold)s%% of the position: at most 100%%") % {"sold": sold}
        )
    if levels and p.atr_take_profit_k is None and levels[-1][0] >= p.take_profit_pct:
        text = gettext(
            "scale-out level %(level)s (%(at)s%%) is not below the take profit (%(take)s%%): "
            "the take profit would sell everything first"
        )
        errors.append(text % {"level": len(levels), "at": levels[-1][0], "take": p.take_profit_pct})
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


# Translators of the refusals below: keep %(name)s followed by a space or a bracket; the admin
# replaces the parameter's name with its label.
def out_of_bounds(name: str, value, info: FieldInfo) -> str:
    low, high, above = bounds(info)
    unit, noun = declared(info)["unit"], declared(info)["noun"]
    args = {
        "name": name,
        "value": value,
        "low": low,
        "high": high,
        "noun": gettext(noun) if noun else "",
        "unit": gettext(unit) if unit else "",
    }
    if noun:
        return gettext("%(name)s is %(value)s, %(noun)s must be between %(low)s and %(high)s") % args
    if unit.startswith("%"):
        if value > high:
            return gettext("%(name)s is %(value)s%%, it must be at most %(high)s%%") % args
        if above and value == low:
            return gettext("%(name)s must be above %(low)s%%") % args
        return gettext("%(name)s is %(value)s%%, it must be between %(low)s and %(high)s") % args
    if unit == "x average":
        if value > high:
            return gettext("%(name)s is %(value)s, it must be at most %(high)sx the average") % args
        if above:
            return gettext("%(name)s is %(value)s, it must be above %(low)s") % args
        return gettext("%(name)s is %(value)s, it must be at least %(low)s") % args
    if above:
        return (gettext("%(name)s must be above %(low)s and at most %(high)s %(unit)s") % args).rstrip()
    return (gettext("%(name)s must be between %(low)s and %(high)s %(unit)s") % args).rstrip()


def field_refusal(model: type[RegimeParams], name: str, value, error: str) -> str:
    """One field's refusal from the pydantic error type."""
    info = model.model_fields[name]
    if error in BOUND_ERRORS:
        return out_of_bounds(name, value, info)
    if kind(info) is bool:
        return gettext("%(name)s must be yes or no, not %(value)s") % {"name": name, "value": repr(value)}
    if kind(info) is str:
        text = gettext("%(name)s '%(value)s' must be one of %(choices)s")
        return text % {"name": name, "value": value, "choices": ", ".join(choices(info))}
    if error == "whole_number":
        unit = declared(info)["unit"]
        if unit:
            text = gettext("%(name)s must be a whole number of %(unit)s, not %(value)s")
            return text % {"name": name, "unit": gettext(unit), "value": value}
        return gettext("%(name)s must be a whole number, not %(value)s") % {"name": name, "value": value}
    if optional(info):
        return gettext("%(name)s must be a number or empty, not %(value)s") % {
            "name": name,
            "value": repr(value),
        }
    return gettext("%(name)s must be a number, not %(value)s") % {"name": name, "value": repr(value)}


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
            messages.append(gettext("unknown setting '%(name)s'") % {"name": name})
        else:
            messages.append(field_refusal(model, str(name), block[name], error["type"]))
    return messages


def validate_block(model: type[RegimeParams], block: dict) -> tuple[RegimeParams | None, list[str]]:
    """(parameters, []) or (None, what is wrong); every parameter must be named, none added."""
    missing = [
        gettext("'%(name)s' is missing") % {"name": name} for name in model.model_fields if name not in block
    ]
    if missing:
        unknown = [
            gettext("unknown setting '%(name)s'") % {"name": key}
            for key in block
            if key not in model.model_fields
        ]
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
