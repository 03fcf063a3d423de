"""The parameter table (trading/parameters.py) is the one source of the strategy parameters:
validation, admin form, defaults and the README table all follow it."""

from importlib import import_module
from pathlib import Path

import pytest
from django.conf import settings

from trading import admin_forms, config, parameters
from trading.parameters import Number, RegimeParams, param

from .test_admin_config import form_data

README = Path(settings.BASE_DIR) / "README.md"
SEED = import_module("trading.migrations.0002_seed_config_v1").SEED
ADDED = import_module("trading.migrations.0009_position_management").ADDED  # position management


def typed(value):
    """Values with their types: 45 and 45.0 differ here."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    return value, type(value)


def test_the_readme_table_is_generated_from_the_parameter_table():
    text = README.read_text()
    assert parameters.with_table(text, parameters.markdown_table(RegimeParams)) == text, (
        "README.md is out of date: run `python manage.py strategy_params --readme`"
    )


def test_the_table_holds_the_v3_1_defaults_the_database_was_seeded_with():
    """The defaults moved from the YAML file into the table unchanged, types included; the
    parameters added since (migration 0009 adds them to stored versions) keep v3.1's behaviour."""
    defaults = config.load_defaults()
    seeded = {regime: block | ADDED for regime, block in SEED["regimes"].items()}
    assert typed(defaults["regimes"]) == typed(seeded)
    assert defaults["symbols"] == SEED["symbols"] and defaults["risk"] == SEED["risk"]
    dumped = config.strategy_as_dict(config.default_strategy())["regimes"]
    assert typed(dumped) == typed(seeded)  # 45 stays 45: entry reasons say "max 45"


@pytest.mark.parametrize("name", list(RegimeParams.model_fields))
def test_every_parameter_declares_a_search_range_inside_its_bounds(name):
    info = RegimeParams.model_fields[name]
    space = parameters.search_space(RegimeParams)[name]
    assert info.title and info.description
    if parameters.kind(info) in (bool, str):
        assert len(space) >= 2
        return
    low, high, step = space
    bottom, top, above = parameters.bounds(info)
    assert bottom is not None and top is not None
    assert (bottom < low if above else bottom <= low) and low < high <= top and 0 < step <= high - low
    if parameters.kind(info) is int:
        assert all(isinstance(v, int) for v in space)


class WithSpread(RegimeParams):
    """The table with one parameter more, declared in one place as any other."""

    max_spread_pct: Number = param(
        0.5, per_regime={"BEAR": 0.3}, title="Max spread", unit="%", ge=0, le=5, search=(0.1, 1.0, 0.1),
        help="No entry while the order book's spread is wider than this.",
    )  # fmt: skip


@pytest.fixture
def with_spread(monkeypatch):
    monkeypatch.setattr(config, "RegimeParams", WithSpread)


def refusals(regimes: dict) -> list[str]:
    with pytest.raises(config.ConfigError) as refused:
        config.parse_strategy(config.DEFAULT_SYMBOLS, regimes)
    return refused.value.messages


def test_a_parameter_added_to_the_table_has_defaults_and_validation(with_spread):
    regimes = config.load_defaults()["regimes"]
    assert (regimes["BULL"]["max_spread_pct"], regimes["BEAR"]["max_spread_pct"]) == (0.5, 0.3)
    assert config.default_strategy().for_regime("BEAR").max_spread_pct == 0.3
    regimes["BULL"]["max_spread_pct"] = 9.0
    assert refusals(regimes) == ["BULL: max_spread_pct is 9.0%, it must be at most 5%"]
    regimes["BULL"]["max_spread_pct"] = float("nan")
    assert refusals(regimes) == ["BULL: max_spread_pct must be a number, not nan"]
    del regimes["BULL"]["max_spread_pct"]
    assert refusals(regimes) == ["BULL: 'max_spread_pct' is missing"]
    assert parameters.search_space(config.RegimeParams)["max_spread_pct"] == (0.1, 1.0, 0.1)
    assert "| `max_spread_pct` | Max spread (%): No entry while" in parameters.markdown_table(WithSpread)


@pytest.mark.django_db
def test_a_parameter_added_to_the_table_has_a_field_in_the_admin_form(with_spread):
    form_class = admin_forms.strategy_form_class()
    blank = form_class()
    field = blank.fields["BEAR__max_spread_pct"]
    assert field.label == "Max spread (%)" and field.help_text.startswith("No entry while")
    assert {"min": 0, "max": 5, "step": "any"}.items() <= field.widget.attrs.items()
    assert blank["BEAR__max_spread_pct"].value() == 0.3
    assert ("BEAR__max_spread_pct",) in admin_forms.regime_rows("BEAR")

    refused = form_class(form_data(blank) | {"note": "spread"} | {"SIDEWAYS__max_spread_pct": "7"})
    assert refused.errors == {"SIDEWAYS__max_spread_pct": ["Max spread is 7.0%, it must be at most 5%"]}
    saved = form_class(form_data(blank) | {"note": "spread"})
    assert saved.is_valid(), saved.errors
    assert saved.instance.params["BEAR"]["max_spread_pct"] == 0.3
