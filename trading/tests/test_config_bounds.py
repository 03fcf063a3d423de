"""Every number of the strategy and risk configs has bounds; the parsers only ever refuse.

A refusal is a ConfigError (a field error in the admin) and nothing is stored; no other exception
may escape, whatever is fed in (NaN, infinity, 1e999999, text, lists, ...).
"""

import copy
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trading import config
from trading.models import RiskConfig, StrategyConfig

from .test_admin_config import change_url, errors_of, risk_form, strategy_form

DEFAULTS = config.load_defaults()
VALID_RISK = {name: getattr(config.default_risk(), name) for name in config.RISK_FIELDS}

anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["NaN", "sNaN", "-Infinity", "1e999999999", "1E-999999999", "5%", "1_000", " 7 "]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
# Hypothesis keeps no example database (it would write files into the repository).
PROPERTY = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def parses_or_refuses(parse, *args) -> None:
    try:
        parse(*args)
    except config.ConfigError as exc:
        assert exc.messages and all(isinstance(m, str) and m for m in exc.messages)


@PROPERTY
@given(st.dictionaries(st.sampled_from(config.RISK_FIELDS), anything))
def test_parse_risk_only_refuses(changes):
    parses_or_refuses(config.parse_risk, VALID_RISK | changes)


@PROPERTY
@given(anything)
def test_parse_risk_refuses_anything_that_is_not_a_set_of_limits(values):
    parses_or_refuses(config.parse_risk, values)


@PROPERTY
@given(
    st.sampled_from(config.TRADING_REGIMES),
    st.dictionaries(st.sampled_from(sorted(config.REGIME_FIELDS)), anything, min_size=1),
)
def test_parse_strategy_only_refuses(regime, changes):
    regimes = copy.deepcopy(DEFAULTS["regimes"])
    regimes[regime].update(changes)
    parses_or_refuses(config.parse_strategy, DEFAULTS["symbols"], regimes)


@PROPERTY
@given(st.one_of(anything, st.lists(anything, max_size=3)), anything)
def test_parse_strategy_refuses_any_shape(symbols, regimes):
    parses_or_refuses(config.parse_strategy, symbols, regimes)


def refusals(**changes) -> list[str]:
    with pytest.raises(config.ConfigError) as refused:
        config.parse_risk(VALID_RISK | changes)
    return refused.value.messages


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("min_order_krw", "1e9", "min_order_krw is 1,000,000,000, it must be at most 10,000,000 KRW"),
        ("min_order_krw", "5000.5", "min_order_krw is 5,000.5, it may have at most 0 decimals"),
        ("max_concurrent_positions", "101", "max_concurrent_positions is 101, it must be at most 100"),
        ("max_daily_trades", "100000", "max_daily_trades is 100,000, it must be at most 1,000 entries"),
        ("consecutive_loss_limit", "1000", "consecutive_loss_limit is 1,000, it must be at most 100"),
        ("cooldown_hours", "1000", "cooldown_hours is 1,000, it must be at most 168 hours"),
        ("max_position_size_pct", "NaN", "max_position_size_pct: a number is required, not 'NaN'"),
        ("max_daily_loss_pct", float("inf"), "max_daily_loss_pct: a number is required, not inf"),
        ("cooldown_hours", "sNaN", "cooldown_hours: a number is required"),
        ("max_position_size_pct", "2.555", "max_position_size_pct is 2.555, it may have at most 2 decimals"),
        ("liquidity_warn_levels", "1e999999999", "liquidity_warn_levels must be a whole number from 1 to 30"),
    ],
)
def test_risk_limits_have_upper_bounds_and_refuse_non_numbers(field, value, message):
    assert any(m.startswith(message) for m in refusals(**{field: value})), refusals(**{field: value})


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("volume_surge_ratio", 1e6, "BULL: volume_surge_ratio is 1000000.0, it must be at most 100x"),
        ("stop_loss_pct", 60.0, "BULL: stop_loss_pct is 60.0%, it must be at most 50%"),
        ("trailing_stop_pct", 75.0, "BULL: trailing_stop_pct is 75.0%, it must be at most 50%"),
        ("take_profit_pct", float("nan"), "BULL: take_profit_pct must be a number, not nan"),
        ("rsi_7_lookback", float("inf"), "BULL: rsi_7_lookback must be a number, not inf"),
        ("time_limit_hours", 1e308, "BULL: time_limit_hours must be above 0 and at most 720"),
    ],
)
def test_strategy_parameters_have_upper_bounds_and_refuse_non_numbers(field, value, message):
    regimes = copy.deepcopy(DEFAULTS["regimes"])
    regimes["BULL"][field] = value
    with pytest.raises(config.ConfigError) as refused:
        config.parse_strategy(DEFAULTS["symbols"], regimes)
    assert any(m.startswith(message) for m in refused.value.messages), refused.value.messages


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"min_order_krw": "1000000000"},
            "min_order_krw",
            "Minimum order is 1,000,000,000, it must be at most",
        ),
        (
            {"max_daily_trades": "5000"},
            "max_daily_trades",
            "Entries per day is 5,000, it must be at most 1,000",
        ),
        ({"max_position_size_pct": "NaN"}, "max_position_size_pct", "Enter a number."),
        ({"cooldown_hours": "Infinity"}, "cooldown_hours", "Enter a number."),
    ],
)
def test_the_risk_form_refuses_out_of_bounds_on_the_field(admin_client, changes, field, message):
    v1 = RiskConfig.objects.get(version=1)
    response = admin_client.post(change_url(v1), risk_form(v1, **changes))
    assert [e for e in errors_of(response)[field] if e.startswith(message)], errors_of(response)
    assert RiskConfig.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"BEAR__volume_surge_ratio": "1000"}, "BEAR__volume_surge_ratio", "Volume surge ratio is 1000.0"),
        ({"BULL__stop_loss_pct": "NaN"}, "BULL__stop_loss_pct", "Enter a number"),
        ({"BULL__take_profit_pct": "inf"}, "BULL__take_profit_pct", "Enter a number"),
    ],
)
def test_the_strategy_form_refuses_out_of_bounds_on_the_field(admin_client, changes, field, message):
    v1 = StrategyConfig.objects.get(version=1)
    response = admin_client.post(change_url(v1), strategy_form(admin_client, v1, **changes))
    assert [e for e in errors_of(response)[field] if e.startswith(message)], errors_of(response)
    assert StrategyConfig.objects.count() == 1


def test_the_defaults_are_within_the_bounds():
    assert config.default_risk().min_order_krw == Decimal("5000")
    assert config.default_strategy().version == 0
