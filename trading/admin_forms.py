"""Admin forms for the versioned configuration: one typed field per parameter, in trader words.

The rules stay in `config.parse_strategy` / `config.parse_risk`; these forms only turn their
messages into errors on the field they concern (parameter names replaced by the field labels).
The number inputs carry the same bounds as HTML min/max, so the browser stops obvious slips early.
"""

import re

from django import forms
from django.utils import translation
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy
from django.utils.translation import gettext_lazy as _
from pydantic.fields import FieldInfo

from . import config, parameters
from .models import RiskConfig, StrategyConfig

# Fields that share a row on the page; a parameter missing here still gets a row of its own.
LAYOUT = [
    ("rsi_14_max",),
    ("rsi_7_trigger", "rsi_7_recover", "rsi_7_lookback"),
    ("min_rsi_7_bounce_pct",),
    ("ma_filter", "ma_proximity_pct"),
    ("require_price_above_bb_lower",),
    ("volume_min_ratio", "volume_surge_check", "volume_surge_ratio"),
    ("bb_enabled", "bb_touch_lookback"),
    ("ai_prefilter_max_drop_pct_6h",),
    ("take_profit_pct", "stop_loss_pct"),
    ("trailing_stop_pct", "trailing_activation_pct"),
    ("rsi_overbought", "rsi_exit_min_profit_pct"),
    ("time_limit_hours",),
    ("atr_stop_k", "atr_take_profit_k", "atr_trailing_k"),
    ("partial_tp_1_pct", "partial_tp_1_sell_pct"),
    ("partial_tp_2_pct", "partial_tp_2_sell_pct"),
    ("partial_tp_3_pct", "partial_tp_3_sell_pct"),
    ("breakeven_after_partial",),
    ("reentry_cooldown_minutes",),
    ("risk_per_trade_pct",),
    ("kelly_fraction", "kelly_trades"),
]
REGIME_HELP = {
    # xgettext:no-python-format
    "BULL": _("Used while the hourly MA50 is at least 2 % above MA200."),
    # xgettext:no-python-format
    "SIDEWAYS": _("Used while the hourly MA50 is within 2 % of MA200."),
    # xgettext:no-python-format
    "BEAR": _("Used while the hourly MA50 is at least 2 % below MA200."),
}


def field_name(regime: str, name: str) -> str:
    """The form field of one regime's parameter: BULL__take_profit_pct."""
    return f"{regime}__{name}"


def label_of(name: str, info: dict) -> str:
    """The label with its unit, translated when shown: "Take profit (%)"."""
    label, unit, _help = info[name]
    return format_lazy("{} ({})", label, unit) if unit else label


def _translated(text: str) -> str:
    return gettext(text) if text else ""  # gettext("") is the catalog's header


def strategy_params(model: type[parameters.RegimeParams]) -> dict[str, tuple[str, str, str]]:
    """name: (label, unit, help text) of every parameter in the active language, from the parameter table."""
    return {
        name: (
            _translated(info.title),
            _translated(parameters.declared(info)["unit"]),
            _translated(info.description),
        )
        for name, info in model.model_fields.items()
    }


def parameter_label(info: FieldInfo) -> str:
    """parameters.label in the language of the page it is shown on (the form class is built once)."""
    unit = parameters.declared(info)["unit"]
    title = gettext_lazy(info.title)
    return format_lazy("{} ({})", title, gettext_lazy(unit)) if unit else title


def _html_bounds(info: FieldInfo) -> dict:
    """The HTML min/max of a parameter: the bounds the validation enforces."""
    low, high, _ = parameters.bounds(info)
    return {key: value for key, value in (("min", low), ("max", high)) if value is not None}


def parameter_field(info: FieldInfo) -> forms.Field:
    """A typed form field for one strategy parameter, as the parameter table declares it."""
    common = {"label": parameter_label(info), "help_text": gettext_lazy(info.description)}
    kind = parameters.kind(info)
    if kind is bool:
        return forms.BooleanField(required=False, **common)
    if kind is str:
        labels = parameters.declared(info)["labels"]
        choices = [(c, gettext_lazy(labels.get(c, c))) for c in parameters.choices(info)]
        return forms.ChoiceField(choices=choices, **common)
    attrs = _html_bounds(info) | {"step": "1" if kind is int else "any", "style": "width: 7em"}
    if kind is int:
        invalid = {"invalid": _("Enter a whole number, e.g. 10.")}
        return forms.IntegerField(widget=forms.NumberInput(attrs), error_messages=invalid, **common)
    invalid = {"invalid": _("Enter a number, e.g. 3 or 2.5.")}
    return forms.FloatField(
        required=not parameters.optional(info),
        widget=forms.NumberInput(attrs),
        error_messages=invalid,
        **common,
    )


def parameter_fields() -> dict[str, forms.Field]:
    return {
        field_name(regime, name): parameter_field(info)
        for regime in config.TRADING_REGIMES
        for name, info in config.RegimeParams.model_fields.items()
    }


def regime_rows(regime: str) -> list[tuple[str, ...]]:
    """The fieldset rows of one regime: LAYOUT first, then any parameter LAYOUT lacks."""
    names = config.RegimeParams.model_fields
    placed = {name for row in LAYOUT for name in row}
    rows = [row for row in LAYOUT if all(n in names for n in row)]
    rows += [(name,) for name in names if name not in placed]
    return [tuple(field_name(regime, n) for n in row) for row in rows]


def _humane(text: str, info: dict) -> str:
    """Parameter names in a rule's message replaced by what the trader sees on the page."""
    for name in sorted(info, key=len, reverse=True):
        text = re.sub(rf"\b{name}\b", str(info[name][0]), text)
    return text[:1].upper() + text[1:]


def _first_mentioned(text: str, names) -> str | None:
    hits = [(m.start(), n) for n in names if (m := re.search(rf"\b{n}\b", text))]
    return min(hits)[1] if hits else None


# Rule messages that speak of a parameter in words rather than by its name.
PHRASES = {  # the first that begins the message wins
    "stop loss": "stop_loss_pct",
    "ATR stop loss": "atr_stop_k",
    "scale-out level 2 is set": "partial_tp_2_pct",
    "scale-out level 3 is set": "partial_tp_3_pct",
    "scale-out levels must rise": "partial_tp_2_pct",
    "the scale-out levels sell": "partial_tp_1_sell_pct",
    "scale-out level 1 ": "partial_tp_1_pct",
    "scale-out level 2 ": "partial_tp_2_pct",
    "scale-out level 3 ": "partial_tp_3_pct",
}


def strategy_error(message: str, english: str | None = None) -> tuple[str | None, str]:
    """(form field or None, trader text) for one message of parse_strategy. The field is found in
    the message's English words: pass them as `english` when `message` is a translation."""
    head, sep, rest = message.partition(": ")
    if head == "symbols" and sep:
        return "symbols", rest[:1].upper() + rest[1:]
    if head not in config.TRADING_REGIMES or not sep:
        return None, message
    english_rest = (english or message).partition(": ")[2]
    name = _first_mentioned(english_rest, config.RegimeParams.model_fields)
    phrase = next((p for p in PHRASES if english_rest.startswith(p)), None)
    if phrase:
        name = PHRASES[phrase]
    text = _humane(rest, strategy_params(config.RegimeParams))
    return (field_name(head, name), text) if name else (None, f"{head}: {text}")


def _json_number(value, before):
    """Keep whole numbers whole when the version had them so (45 stays 45, not 45.0)."""
    if isinstance(value, float) and value.is_integer() and type(before) is int:
        return int(value)
    return value


class StrategyFormBase(forms.ModelForm):
    """Symbols plus one typed field per parameter and regime; saving rebuilds the per-regime blocks."""

    symbols = forms.CharField(
        label=_("Symbols"),
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text=_("Upbit KRW markets, separated by commas or new lines, e.g. KRW-BTC, KRW-ETH."),
        error_messages={"required": _("List at least one market to trade, such as KRW-BTC.")},
    )

    class Meta:
        model = StrategyConfig
        fields = ["note"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        source = self.instance if self.instance.pk else None
        data = config.load_defaults()
        # A parameter added after the version shown starts at its default.
        stored = source.params if source else {}
        self.source_params = {r: data["regimes"][r] | stored.get(r, {}) for r in config.TRADING_REGIMES}
        # The admin's ModelForm puts the model's symbols list in `initial`: show it as text.
        symbols = self.initial.get("symbols", source.symbols if source else data["symbols"])
        self.initial["symbols"] = ", ".join(symbols) if isinstance(symbols, list | tuple) else symbols
        for regime, block in self.source_params.items():
            for name, value in block.items():
                self.initial.setdefault(field_name(regime, name), value)

    def clean_symbols(self) -> list[str]:
        return [s for s in re.split(r"[\s,]+", self.cleaned_data["symbols"].upper()) if s]

    def params_from(self, cleaned: dict) -> dict:
        """The per-regime parameter blocks, nested as StrategyConfig.params stores them."""
        return {
            regime: {
                name: _json_number(cleaned[field_name(regime, name)], self.source_params[regime].get(name))
                for name in config.RegimeParams.model_fields
            }
            for regime in config.TRADING_REGIMES
        }

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned  # a field that is not even a number: that message first
        params = self.params_from(cleaned)
        # The field a message concerns is found in its English words; the page shows it translated.
        with translation.override("en"):
            english = _strategy_problems(cleaned["symbols"], params)
        if english:
            in_english = (translation.get_language() or "en").startswith("en")
            shown = english if in_english else _strategy_problems(cleaned["symbols"], params)
            for message, words in zip(shown, english, strict=True):
                self.add_error(*strategy_error(message, words))
            return cleaned
        self.instance.symbols, self.instance.params = cleaned["symbols"], params
        return cleaned


def _strategy_problems(symbols: list[str], params: dict) -> list[str]:
    """What parse_strategy and the save checks refuse, in the active language; [] when valid."""
    try:
        config.parse_strategy(symbols, params)
        config.check_symbols_for_save(symbols)  # the count, Upbit's market list
    except config.ConfigError as exc:
        return exc.messages
    return []


def strategy_form_class() -> type[StrategyFormBase]:
    """The strategy form with a field per parameter of config.RegimeParams and regime. The fields
    are declared on the class (not added per instance) so that the admin's fieldsets may name them:
    BULL__take_profit_pct, ..."""
    fields = {"__module__": __name__, **parameter_fields()}
    return type(StrategyFormBase)("StrategyConfigForm", (StrategyFormBase,), fields)


StrategyConfigForm = strategy_form_class()


RISK_PARAMS = {
    "max_position_size_pct": (
        _("Position size"),
        # xgettext:no-python-format
        _("% of equity"),
        _("Each entry buys at most this share of equity (halved while volatility is high)."),
    ),
    "max_total_exposure_pct": (
        _("Total exposure"),
        # xgettext:no-python-format
        _("% of equity"),
        _("All open positions together, at cost, stay below this share of equity."),
    ),
    "max_concurrent_positions": (
        _("Open positions at once"),
        _("positions"),
        _("No new entry while this many are open."),
    ),
    "min_order_krw": (
        _("Minimum order"),
        "KRW",
        _("Smaller orders are not placed; Upbit's minimum is 5,000 KRW."),
    ),
    "max_daily_loss_pct": (
        _("Daily loss limit"),
        # xgettext:no-python-format
        _("% of the day's starting equity"),
        _("Realized loss in one KST day that halts trading until 00:00 KST."),
    ),
    "daily_loss_includes_unrealized": (
        _("Count unrealized losses in the daily limit"),
        "",
        _(
            "Also refuse entries while cash plus open positions at the latest prices is the daily loss "
            "limit or more below the day's starting equity (mark-to-market). Off: realized losses only."
        ),
    ),
    "max_daily_trades": (_("Entries per day"), _("entries"), _("New positions per KST day.")),
    "max_weekly_loss_pct": (
        _("Weekly loss limit"),
        # xgettext:no-python-format
        _("% of the week's starting equity"),
        _(
            "Realized loss in one KST week (from Monday 00:00 KST) that halts entries until the next "
            "Monday 00:00 KST. Not below the daily loss limit."
        ),
    ),
    "consecutive_loss_limit": (
        _("Losing streak limit"),
        _("losses in a row"),
        _("After this many losing trades in a row, entries pause for the cooldown."),
    ),
    "cooldown_hours": (
        _("Cooldown"),
        _("hours"),
        _("How long entries pause after the losing streak limit."),
    ),
    "liquidity_warn_slippage_pct": (
        _("Warn above expected slippage"),
        "%",
        _(
            "Before a buy the order book is walked for the order's KRW amount: a RiskAudit warning and a "
            "risk alert when its average price is more than this above the best ask. A book that cannot "
            "fill the order refuses it."
        ),
    ),
    "liquidity_warn_levels": (
        _("Warn above book levels"),
        _("levels"),
        _("... or when the buy would take more order-book levels than this (Upbit shows 30)."),
    ),
}
RISK_GROUPS = {
    _("Position sizing"): [
        "max_position_size_pct",
        "max_total_exposure_pct",
        "max_concurrent_positions",
        "min_order_krw",
    ],
    _("Daily limits"): ["max_daily_loss_pct", "daily_loss_includes_unrealized", "max_daily_trades"],
    _("Weekly limit"): ["max_weekly_loss_pct"],
    _("Streaks & cooldown"): ["consecutive_loss_limit", "cooldown_hours"],
    _("Order book"): ["liquidity_warn_slippage_pct", "liquidity_warn_levels"],
}


def risk_groups() -> dict[str, list[str]]:
    """RISK_GROUPS, plus an 'Other limits' group for any limit not placed in one."""
    placed = {name for names in RISK_GROUPS.values() for name in names}
    groups = {title: [n for n in names if n in config.RISK_FIELDS] for title, names in RISK_GROUPS.items()}
    rest = [name for name in config.RISK_FIELDS if name not in placed]
    return groups | ({_("Other limits"): rest} if rest else {})


def risk_error(message: str, english: str | None = None) -> tuple[str | None, str]:
    """(form field or None, trader text) for one message of parse_risk; the field is found in the
    message's English words (pass them as `english` when `message` is a translation)."""
    return _first_mentioned(english or message, config.RISK_FIELDS), _humane(message, RISK_PARAMS)


class RiskConfigForm(forms.ModelForm):
    class Meta:
        model = RiskConfig
        fields = [*config.RISK_FIELDS, "note"]
        labels = {name: label_of(name, RISK_PARAMS) for name in RISK_PARAMS}
        help_texts = {name: info[2] for name, info in RISK_PARAMS.items()}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in config.RISK_FIELDS:
            if name in config.RISK_SWITCHES:
                continue  # a checkbox: no bounds, no width
            bounds = {"min": 5000} if name == "min_order_krw" else {"min": 0}
            if name.endswith("_pct"):
                bounds["max"] = 100
            if name in config.RISK_MAXIMA:
                bounds["max"] = config.RISK_MAXIMA[name][0]
            if name == "liquidity_warn_levels":
                bounds = {"min": 1, "max": config.BOOK_LEVELS}
            self.fields[name].widget.attrs.update(bounds | {"style": "width: 9em"})

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            # As the strategy form: the field from the English words, the text in the page's language.
            with translation.override("en"):
                english = _risk_problems(cleaned)
            shown = _risk_problems(cleaned) if english else []
            for message, words in zip(shown, english, strict=True):
                self.add_error(*risk_error(message, words))
        return cleaned


def _risk_problems(values: dict) -> list[str]:
    """What parse_risk refuses, in the active language; [] when valid."""
    try:
        config.parse_risk(values)
    except config.ConfigError as exc:
        return exc.messages
    return []
