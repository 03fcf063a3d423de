"""Strategy/risk configuration: defaults, validation messages, versions with who/when."""

import copy
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from trading import config
from trading.models import RiskConfig, StrategyConfig


def defaults() -> tuple[list, dict]:
    data = config.load_defaults()
    return list(data["symbols"]), copy.deepcopy(data["regimes"])


def rejected(symbols=None, **changes) -> list[str]:
    """Messages for the defaults with `REGIME__field=value` changes applied."""
    syms, params = defaults()
    for key, value in changes.items():
        regime, name = key.split("__")
        params[regime][name] = value
    with pytest.raises(config.ConfigError) as exc:
        config.parse_strategy(syms if symbols is None else symbols, params)
    return exc.value.messages


def test_defaults_file_holds_spec_5_values():
    p = config.default_strategy()
    assert p.symbols == ("KRW-BTC", "KRW-ETH", "KRW-XRP", "KRW-SOL", "KRW-DOGE")
    assert (p.regimes["BULL"].rsi_14_max, p.regimes["SIDEWAYS"].rsi_14_max, p.regimes["BEAR"].rsi_14_max) == (
        55, 45, 40,
    )  # fmt: skip
    assert p.regimes["BEAR"].ma_filter == "proximity_or_above" and p.regimes["BEAR"].volume_surge_check
    assert p.regimes["SIDEWAYS"].bb_enabled and not p.regimes["BULL"].bb_enabled
    assert p.regimes["BEAR"].time_limit_hours == 8 and p.regimes["BULL"].trailing_stop_pct == 2.0
    assert p.for_regime("UNKNOWN") is None
    r = config.default_risk()
    assert r.max_position_size_pct == Decimal("5") and r.min_order_krw == Decimal("5000")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"BULL__take_profit_pct": -1.0}, "BULL: take_profit_pct is -1.0%, it must be between 0 and 100"),
        (
            {"SIDEWAYS__stop_loss_pct": 150.0},
            "SIDEWAYS: stop_loss_pct is 150.0%, it must be at most 50%",
        ),
        ({"BEAR__rsi_7_trigger": 30}, "BEAR: rsi_7_trigger (30) must be below rsi_7_recover (30)"),
        ({"BEAR__rsi_7_trigger": 40}, "BEAR: rsi_7_trigger (40) must be below rsi_7_recover (30)"),
        ({"BULL__stop_loss_pct": 6.0}, "BULL: stop loss (6.0%) is larger than take profit (5.0%)"),
        ({"BULL__rsi_14_max": 120}, "BULL: rsi_14_max is 120, an RSI level must be between 0 and 100"),
        ({"BULL__ma_filter": "below"}, "BULL: ma_filter 'below' must be one of above, proximity_or_above"),
        ({"BULL__rsi_7_lookback": 0}, "BULL: rsi_7_lookback must be between 1 and 200 bars"),
        ({"BULL__rsi_7_lookback": 2.5}, "BULL: rsi_7_lookback must be a whole number of bars"),
        ({"BULL__bb_enabled": "yes"}, "BULL: bb_enabled must be yes or no"),
        ({"BULL__rsi_14_max": "55"}, "BULL: rsi_14_max must be a number"),
        ({"BULL__time_limit_hours": 0}, "BULL: time_limit_hours must be above 0"),
        ({"BEAR__volume_surge_ratio": 0.4}, "BEAR: volume_surge_ratio (0.4) must be above volume_min_ratio"),
        ({"BULL__trailing_stop_pct": 0}, "BULL: trailing_stop_pct must be above 0%"),
        ({"BULL__extra": 1}, "BULL: unknown setting 'extra'"),
    ],
)
def test_validation_rejects_nonsense_with_a_readable_message(change, message):
    messages = rejected(**change)
    assert any(m.startswith(message) for m in messages), messages


def test_missing_setting_and_missing_regime_are_named():
    syms, params = defaults()
    del params["BULL"]["rsi_14_max"]
    del params["BEAR"]
    with pytest.raises(config.ConfigError) as exc:
        config.parse_strategy(syms, params)
    assert "BULL: 'rsi_14_max' is missing" in exc.value.messages
    assert "params: the BEAR block is missing" in exc.value.messages


@pytest.mark.parametrize(
    ("symbols", "message"),
    [
        ([], "symbols: the list is empty"),
        (["BTC"], "symbols: 'BTC' is not an Upbit KRW market name"),
        (["krw-btc"], "symbols: 'krw-btc' is not an Upbit KRW market name"),
        (["KRW-BTC", "KRW-BTC"], "symbols: a market is listed twice"),
        (["USDT-BTC"], "symbols: 'USDT-BTC' is not an Upbit KRW market name"),
    ],
)
def test_symbol_list_is_validated(symbols, message):
    assert any(m.startswith(message) for m in rejected(symbols=symbols))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_position_size_pct", "-1", "max_position_size_pct is -1%"),
        ("max_daily_loss_pct", "101", "max_daily_loss_pct is 101%"),
        ("max_total_exposure_pct", "3", "max_position_size_pct cannot exceed max_total_exposure_pct"),
        ("max_concurrent_positions", "0", "max_concurrent_positions must be a whole number"),
        ("max_daily_trades", "1.5", "max_daily_trades must be a whole number"),
        ("cooldown_hours", "-2", "cooldown_hours cannot be negative"),
        ("min_order_krw", "4999", "min_order_krw cannot be below Upbit's minimum order of 5,000 KRW"),
        ("consecutive_loss_limit", "abc", "consecutive_loss_limit: a number is required"),
    ],
)
def test_risk_validation(field, value, message):
    values = dict(config.load_defaults()["risk"], **{field: value})
    with pytest.raises(config.ConfigError) as exc:
        config.parse_risk(values)
    assert any(m.startswith(message) for m in exc.value.messages), exc.value.messages


@pytest.mark.django_db
def test_migration_seeds_version_1_as_the_active_config():
    row = StrategyConfig.objects.get(is_active=True)
    assert row.version == 1 and "strategy_v3.yaml" in row.note
    assert config.strategy_from_row(row) == config.parse_strategy(*defaults(), version=1)
    assert RiskConfig.objects.get(is_active=True).version == 1
    assert config.load_risk().max_daily_trades == 10


@pytest.mark.django_db
def test_a_change_is_a_new_version_and_the_next_read_sees_it():
    user = get_user_model().objects.create_user("trader")
    symbols, params = defaults()
    params["SIDEWAYS"]["take_profit_pct"] = 3.5
    assert config.load_strategy().regimes["SIDEWAYS"].take_profit_pct == 3.0
    row = config.save_strategy_version(symbols=symbols[:2], params=params, user=user, note="wider TP")
    assert (row.version, row.is_active, row.created_by, row.note) == (2, True, user, "wider TP")
    assert StrategyConfig.objects.filter(is_active=True).count() == 1
    assert StrategyConfig.objects.get(version=1).params["SIDEWAYS"]["take_profit_pct"] == 3.0  # history
    # the running bot reads the active row each cycle: no restart, no cache to clear
    assert config.load_strategy().regimes["SIDEWAYS"].take_profit_pct == 3.5
    assert config.active_symbols() == ["KRW-BTC", "KRW-ETH"]
    assert config.load_strategy(1).version == 1
    assert config.diff_strategy(StrategyConfig.objects.get(version=1), row) == [
        "symbols: KRW-BTC, KRW-ETH, KRW-XRP, KRW-SOL, KRW-DOGE -> KRW-BTC, KRW-ETH",
        "SIDEWAYS.take_profit_pct: 3.0 -> 3.5",
    ]


@pytest.mark.django_db
def test_an_invalid_change_stores_nothing():
    symbols, params = defaults()
    params["BULL"]["rsi_7_trigger"] = 50
    with pytest.raises(config.ConfigError):
        config.save_strategy_version(symbols=symbols, params=params)
    assert StrategyConfig.objects.count() == 1 and config.load_strategy().version == 1


@pytest.mark.django_db
def test_risk_change_is_a_new_version_with_a_diff():
    values = dict(config.load_defaults()["risk"], max_daily_trades=4)
    row = config.save_risk_version(values=values, note="calmer")
    assert row.version == 2 and config.load_risk().max_daily_trades == 4
    assert config.diff_risk(RiskConfig.objects.get(version=1), row) == ["max_daily_trades: 10 -> 4"]


@pytest.mark.django_db
def test_unknown_version_is_a_clear_error_and_no_rows_falls_back_to_the_defaults():
    with pytest.raises(config.ConfigError, match="version 9 does not exist"):
        config.load_strategy(9)
    StrategyConfig.objects.all().delete()
    RiskConfig.objects.all().delete()
    assert config.load_strategy().version == 0 and config.load_risk().version == 0


@pytest.mark.django_db
def test_the_active_version_is_read_not_a_newer_inactive_one():
    symbols, params = defaults()
    params["SIDEWAYS"]["take_profit_pct"] = 3.5
    waiting = config.store_new_version(StrategyConfig(symbols=symbols, params=params), activate=False)
    assert (waiting.version, waiting.is_active) == (2, False)  # a Lab promotion, not switched on yet
    assert config.load_strategy().version == 1
    assert config.load_strategy().regimes["SIDEWAYS"].take_profit_pct == 3.0
    StrategyConfig.objects.update(is_active=False)
    RiskConfig.objects.update(is_active=False)
    assert config.load_strategy().version == 0 and config.load_risk().version == 0  # none active: defaults
