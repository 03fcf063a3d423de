"""The live configuration: typed strategy parameters per regime, risk limits, versions.

The database holds numbered versions (StrategyConfig, RiskConfig) with exactly one active each.
Readers load the active row on every call, so the running bot picks up a new version on its next
cycle without a restart. A change is never an update: it is saved as a new version with who and
when. Validation refuses nonsense with messages a trader can act on.
"""

import logging
import re
from dataclasses import MISSING, dataclass, fields
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from core import formatting
from core.fixed_reads import first_instance
from market import listing
from market.listing_jobs import enqueue_backfill
from market.models import Regime

from .models import RiskConfig, StrategyConfig
from .parameters import RegimeParams, regime_defaults, validate_block

log = logging.getLogger(__name__)

TRADING_REGIMES = (Regime.BULL, Regime.SIDEWAYS, Regime.BEAR)
SYMBOL_RE = re.compile(r"^KRW-[A-Z0-9]{1,15}$")
DEFAULT_SYMBOLS = ["KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE"]
# The limits of risk version 1; the limits added later carry their defaults in RiskLimits.
DEFAULT_RISK = {
    "max_position_size_pct": "5",
    "max_total_exposure_pct": "20",
    "max_concurrent_positions": 3,
    "max_daily_loss_pct": "5",
    "max_daily_trades": 10,
    "consecutive_loss_limit": 3,
    "cooldown_hours": "2",
    "min_order_krw": "5000",
}
BOOK_LEVELS = 30  # levels per side in Upbit's order book


class ConfigError(ValueError):
    """A configuration was refused; `messages` lists every problem in plain words."""

    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


@dataclass(frozen=True)
class StrategyParams:
    """One version of the strategy: the symbols traded and a parameter block per regime."""

    version: int
    symbols: tuple[str, ...]
    regimes: dict[str, RegimeParams]

    def for_regime(self, regime: str) -> RegimeParams | None:
        """Parameters of `regime`; None for UNKNOWN (no entries)."""
        return self.regimes.get(regime)


@dataclass(frozen=True)
class RiskLimits:
    """One version of the hard risk limits."""

    version: int
    max_position_size_pct: Decimal
    max_total_exposure_pct: Decimal
    max_concurrent_positions: int
    max_daily_loss_pct: Decimal
    max_daily_trades: int
    consecutive_loss_limit: int
    cooldown_hours: Decimal
    min_order_krw: Decimal
    # Added after version 1: defaults so rows and files without them still parse.
    max_weekly_loss_pct: Decimal = Decimal("15")
    daily_loss_includes_unrealized: bool = False
    liquidity_warn_slippage_pct: Decimal = Decimal("0.3")  # warn before a buy expected to slip more
    liquidity_warn_levels: int = 5  # ... or to take more order-book levels than this


REGIME_FIELDS = {name: info.annotation for name, info in RegimeParams.model_fields.items()}  # name: type
RISK_FIELDS = [f.name for f in fields(RiskLimits) if f.name != "version"]
RISK_SWITCHES = [f.name for f in fields(RiskLimits) if f.type is bool]  # yes/no limits
RISK_DEFAULTS = {f.name: f.default for f in fields(RiskLimits) if f.default is not MISSING}


def load_defaults() -> dict:
    """The defaults of a database without an active version: the symbols, one block per regime
    (from the parameter table in trading/parameters.py) and the risk limits of version 1."""
    return {
        "symbols": list(DEFAULT_SYMBOLS),
        "regimes": {regime: regime_defaults(RegimeParams, regime) for regime in TRADING_REGIMES},
        "risk": dict(DEFAULT_RISK),
    }


# Risk limits that are not percentages: (highest, the highest in words and why). Past these a limit
# silently stops trading, e.g. a minimum order of 1e9 KRW refuses every entry.
RISK_MAXIMA = {
    # Translators: the highest allowed "Open positions at once"; %(n)s is a figure ("100").
    "max_concurrent_positions": (100, gettext_lazy("%(n)s positions")),
    # Translators: the highest allowed "Entries per day".
    "max_daily_trades": (1000, gettext_lazy("%(n)s entries a day")),
    # Translators: the highest allowed "Losing streak limit".
    "consecutive_loss_limit": (100, gettext_lazy("%(n)s losses in a row")),
    # Translators: the highest allowed cooldown.
    "cooldown_hours": (168, gettext_lazy("%(n)s hours (a week)")),
    # Translators: the highest allowed minimum order, in won.
    "min_order_krw": (10_000_000, gettext_lazy("%(n)s KRW (a larger minimum refuses nearly every entry)")),
}


def _symbols_error(problem: str) -> str:
    """A refusal filed under the symbols: the "symbols: " code in front is how the admin form
    finds the field (trading/admin_forms.strategy_error), so it stays untranslated."""
    return f"symbols: {problem}"


def _params_error(problem: str) -> str:
    return f"params: {problem}"  # the name of the stored field, untranslated like "symbols: "


def validate_symbols(symbols) -> list[str]:
    """Problems with a symbol list (empty, duplicated, not like KRW-BTC)."""
    if not isinstance(symbols, list | tuple) or not symbols:
        return [_symbols_error(_("the list is empty; trade at least one market such as KRW-BTC"))]
    errors = [
        _symbols_error(
            _("'%(symbol)s' is not an Upbit KRW market name like KRW-BTC (upper case)") % {"symbol": s}
        )
        for s in symbols
        if not isinstance(s, str) or not SYMBOL_RE.match(s)
    ]
    if not errors and len(set(symbols)) != len(symbols):  # all names: hashable
        errors.append(_symbols_error(_("a market is listed twice")))
    return errors


def parse_strategy(symbols, regimes, version: int = 0) -> StrategyParams:
    """Validate raw values (from the database, the admin or YAML); raise ConfigError."""
    errors = validate_symbols(symbols)
    if not isinstance(regimes, dict):
        raise ConfigError([*errors, _params_error(_("expected one block per regime (BULL, SIDEWAYS, BEAR)"))])
    errors += [
        _params_error(_("unknown regime '%(regime)s'") % {"regime": r})
        for r in regimes
        if r not in TRADING_REGIMES
    ]
    parsed = {}
    for regime in TRADING_REGIMES:
        block = regimes.get(regime)
        if not isinstance(block, dict):
            errors.append(_params_error(_("the %(regime)s block is missing") % {"regime": regime}))
            continue
        parsed[regime], refusals = validate_block(RegimeParams, block)
        errors += [f"{regime}: {message}" for message in refusals]
    if errors:
        raise ConfigError(errors)
    return StrategyParams(version=version, symbols=tuple(symbols), regimes=parsed)


# Translators for the risk refusals below: keep the parameter codes (max_daily_loss_pct, ...) as
# they are; the admin finds the field by them and shows the field's label in their place.


def _figure(value: Decimal) -> str:
    """A refused value through core.formatting ("1,000,000,000"); an absurd one (1E+1000000) as
    written: its digits grouped would be no help (and overflow the context)."""
    return formatting.number(value) if abs(value.adjusted()) <= 30 else str(value)


def _percent_range_error(name: str, value: Decimal) -> str:
    # Translators: e.g. "max_daily_loss_pct is 0%, it must be above 0 and at most 100".
    return _("%(name)s is %(value)s%%, it must be above 0 and at most 100") % {
        "name": name,
        "value": _figure(value),
    }


def _risk_value_errors(clean: dict) -> list[str]:
    errors = []
    for name in (
        "max_position_size_pct",
        "max_total_exposure_pct",
        "max_daily_loss_pct",
        "max_weekly_loss_pct",
    ):
        if not 0 < clean[name] <= 100:
            errors.append(_percent_range_error(name, clean[name]))
    if clean["max_weekly_loss_pct"] < clean["max_daily_loss_pct"]:
        errors.append(
            _(
                "max_weekly_loss_pct (%(weekly)s%%) is below max_daily_loss_pct (%(daily)s%%): "
                "one bad day would halt the week"
            )
            % {
                "weekly": _figure(clean["max_weekly_loss_pct"]),
                "daily": _figure(clean["max_daily_loss_pct"]),
            }
        )
    for name in ("max_concurrent_positions", "max_daily_trades", "consecutive_loss_limit"):
        if clean[name] < 1 or clean[name] != clean[name].to_integral_value():
            errors.append(_("%(name)s must be a whole number of at least 1") % {"name": name})
    if clean["cooldown_hours"] < 0:
        errors.append(_("cooldown_hours cannot be negative"))
    if clean["min_order_krw"] < 5000:
        errors.append(
            _("min_order_krw cannot be below Upbit's minimum order of %(minimum)s")
            % {"minimum": formatting.krw(5000)}
        )
    for name, (high, most) in RISK_MAXIMA.items():
        if clean[name] > high:
            errors.append(
                _("%(name)s is %(value)s, it must be at most %(most)s")
                % {
                    "name": name,
                    "value": _figure(clean[name]),
                    "most": str(most) % {"n": formatting.number(high)},
                }
            )
    if clean["max_position_size_pct"] > clean["max_total_exposure_pct"]:
        errors.append(_("max_position_size_pct cannot exceed max_total_exposure_pct"))
    return errors + _liquidity_errors(clean)


def _liquidity_errors(clean: dict) -> list[str]:
    errors = []
    if not 0 < clean["liquidity_warn_slippage_pct"] <= 100:
        errors.append(
            _percent_range_error("liquidity_warn_slippage_pct", clean["liquidity_warn_slippage_pct"])
        )
    levels = clean["liquidity_warn_levels"]
    if not 1 <= levels <= BOOK_LEVELS or levels != int(levels):
        errors.append(
            _(
                "liquidity_warn_levels must be a whole number from 1 to %(levels)s "
                "(Upbit shows %(levels)s levels of the order book)"
            )
            % {"levels": BOOK_LEVELS}
        )
    return errors


def _decimal_places(name: str) -> int | None:
    """How many decimals a decimal risk column keeps (more would be rounded away on save)."""
    return getattr(RiskConfig._meta.get_field(name), "decimal_places", None)


def parse_risk(values: dict, version: int = 0) -> RiskLimits:
    """Validate raw risk limits; raise ConfigError."""
    if not isinstance(values, dict):
        raise ConfigError([_("risk limits: expected one value per limit")])
    errors, clean = [], {}
    for name in RISK_FIELDS:
        value = clean[name] = values.get(name, RISK_DEFAULTS.get(name))
        if name in RISK_SWITCHES:
            if not isinstance(value, bool):
                errors.append(
                    _("%(name)s must be yes or no, not %(value)s") % {"name": name, "value": repr(value)}
                )
            continue
        try:
            clean[name] = Decimal(str(value))
        except InvalidOperation:
            errors.append(_("%(name)s: a number is required") % {"name": name})
            continue
        if not clean[name].is_finite():
            errors.append(
                _("%(name)s: a number is required, not %(value)s") % {"name": name, "value": repr(value)}
            )
        elif (places := _decimal_places(name)) is not None and -clean[name].as_tuple().exponent > places:
            message = ngettext(
                "%(name)s is %(value)s, it may have at most %(places)s decimal",
                "%(name)s is %(value)s, it may have at most %(places)s decimals",
                places,
            )
            errors.append(message % {"name": name, "value": _figure(clean[name]), "places": places})
    if errors:
        raise ConfigError(errors)
    errors = _risk_value_errors(clean)
    if errors:
        raise ConfigError(errors)
    for name in (
        "max_concurrent_positions",
        "max_daily_trades",
        "consecutive_loss_limit",
        "liquidity_warn_levels",
    ):
        clean[name] = int(clean[name])
    return RiskLimits(version=version, **clean)


def default_strategy() -> StrategyParams:
    """The default strategy (version 0: not a database version)."""
    data = load_defaults()
    return parse_strategy(data["symbols"], data["regimes"])


def default_risk() -> RiskLimits:
    return parse_risk(load_defaults()["risk"])


def strategy_from_row(row: StrategyConfig) -> StrategyParams:
    return parse_strategy(row.symbols, row.params, version=row.version)


def risk_from_row(row: RiskConfig) -> RiskLimits:
    return parse_risk({name: getattr(row, name) for name in RISK_FIELDS}, version=row.version)


def active_row(model: type[StrategyConfig] | type[RiskConfig]) -> StrategyConfig | RiskConfig | None:
    """The active version's row (the newest if several), None before any: read fresh on every
    call, with one fixed statement (the ORM built its query anew each time, 0.2 ms of CPU on every
    page that shows the configuration and in every bot cycle; `core.fixed_reads`)."""
    return first_instance(model, "SELECT * FROM {table} WHERE is_active ORDER BY version DESC LIMIT 1")


def load_strategy(version: int | None = None) -> StrategyParams:
    """The active strategy (read fresh on every call), or the given version."""
    row = StrategyConfig.objects.filter(version=version).first() if version else active_row(StrategyConfig)
    if row is None:
        if version:
            raise ConfigError(
                [_("strategy config version %(version)s does not exist") % {"version": version}]
            )
        log.warning("no active StrategyConfig row; using the defaults")
        return default_strategy()
    return strategy_from_row(row)


def load_risk(version: int | None = None) -> RiskLimits:
    """The active risk limits (read fresh on every call), or the given version."""
    row = RiskConfig.objects.filter(version=version).first() if version else active_row(RiskConfig)
    if row is None:
        if version:
            raise ConfigError([_("risk config version %(version)s does not exist") % {"version": version}])
        log.warning("no active RiskConfig row; using the defaults")
        return default_risk()
    return risk_from_row(row)


def active_symbols() -> list[str]:
    """The markets the active strategy trades (the candle collector follows this list)."""
    return list(load_strategy().symbols)


def store_new_version(row, user=None, note: str = "", *, activate: bool = True):
    """Insert `row` (validated) as the next version of its model and make it the only active one
    (or, with `activate=False`, store it inactive beside the active one: the Lab's promotions).

    Used by the admin too: an edit of any version is stored as a new row; nothing is updated.
    """
    model = type(row)
    with transaction.atomic():
        active = list(model.objects.select_for_update().filter(is_active=True))  # serialise concurrent saves
        latest = model.objects.aggregate(v=Max("version"))["v"] or 0
        if activate:
            model.objects.filter(is_active=True).update(is_active=False)
        row.pk = None
        row.version = latest + 1
        row.is_active = activate
        row.created_by = user
        row.note = note[:200]
        row.save(force_insert=True)
        if activate and isinstance(row, StrategyConfig):
            _backfill_added_symbols(active, row)
    return row


def _backfill_added_symbols(active: list[StrategyConfig], row: StrategyConfig) -> None:
    """Symbols this version adds get their history and regime in the background once it is stored,
    so they are tradable within minutes instead of UNKNOWN for days."""
    before = {symbol for old in active for symbol in old.symbols}
    added = [symbol for symbol in row.symbols if symbol not in before]
    if added:
        transaction.on_commit(lambda: enqueue_backfill(added))


def check_symbols_for_save(symbols: list[str]) -> None:
    """What only a save checks (raises ConfigError): the number of active symbols and, with the
    upbit market source, that each symbol it adds is a listed KRW market in Upbit's market list.

    Symbols already active are not checked again: one Upbit delisted while a position is held
    must stay, or the bot would stop running that position's exits.
    """
    if len(symbols) > settings.MAX_ACTIVE_SYMBOLS:
        message = ngettext(
            "%(count)s market listed, at most %(most)s may be active at once (MAX_ACTIVE_SYMBOLS)",
            "%(count)s markets listed, at most %(most)s may be active at once (MAX_ACTIVE_SYMBOLS)",
            len(symbols),
        )
        most = formatting.number(settings.MAX_ACTIVE_SYMBOLS)
        raise ConfigError(
            [_symbols_error(message % {"count": formatting.number(len(symbols)), "most": most})]
        )
    active = StrategyConfig.objects.filter(is_active=True).values_list("symbols", flat=True).first() or []
    errors = listing.listing_errors([symbol for symbol in symbols if symbol not in active])
    if errors:
        raise ConfigError([_symbols_error(message) for message in errors])


def save_strategy_version(
    *, symbols, params: dict, user=None, note: str = "", activate: bool = True
) -> StrategyConfig:
    """Validate and store a new strategy version, active unless `activate=False`; the old ones
    stay as history."""
    if isinstance(symbols, list | tuple):
        symbols = [listing.normalise(s) for s in symbols]  # ' krw-btc' means KRW-BTC
    parse_strategy(symbols, params)
    check_symbols_for_save(symbols)
    row = StrategyConfig(symbols=list(symbols), params=params)
    return store_new_version(row, user, note, activate=activate)


def save_risk_version(*, values: dict, user=None, note: str = "") -> RiskConfig:
    """Validate and store a new active risk-limit version; the old ones stay as history."""
    limits = parse_risk(values)
    row = RiskConfig(**{name: getattr(limits, name) for name in RISK_FIELDS})
    return store_new_version(row, user, note)


def restore_version(row: StrategyConfig | RiskConfig, user=None) -> StrategyConfig | RiskConfig:
    """Store a copy of an old version as the new active one; the old row stays as it was.

    The copy is validated against today's rules first (raises ConfigError), as any edit is.
    """
    validate = strategy_from_row if isinstance(row, StrategyConfig) else risk_from_row
    validate(row)
    if isinstance(row, StrategyConfig):
        check_symbols_for_save(row.symbols)
    copy = type(row).objects.get(pk=row.pk)  # store_new_version turns its argument into the new row
    return store_new_version(copy, user, f"restored from v{row.version}")


def diff_strategy(old: StrategyConfig | None, new: StrategyConfig) -> list[str]:
    """What changed between two versions, as 'SIDEWAYS.take_profit_pct: 3.0 -> 3.5' lines."""
    if old is None:
        return ["first version"]
    changes = []
    if list(old.symbols) != list(new.symbols):
        changes.append(f"symbols: {', '.join(old.symbols)} -> {', '.join(new.symbols)}")
    for regime in TRADING_REGIMES:
        before, after = old.params.get(regime, {}), new.params.get(regime, {})
        for name in RegimeParams.model_fields:
            if before.get(name) != after.get(name):
                changes.append(f"{regime}.{name}: {before.get(name)} -> {after.get(name)}")
    return changes


def diff_risk(old: RiskConfig | None, new: RiskConfig) -> list[str]:
    """What changed between two risk versions."""
    if old is None:
        return ["first version"]
    return [
        f"{name}: {getattr(old, name)} -> {getattr(new, name)}"
        for name in RISK_FIELDS
        if getattr(old, name) != getattr(new, name)
    ]


def strategy_as_dict(params: StrategyParams) -> dict:
    """Plain-data form of a strategy (for reports and the backtest HTML)."""
    return {
        "version": params.version,
        "symbols": list(params.symbols),
        "regimes": {r: p.model_dump() for r, p in params.regimes.items()},
    }
