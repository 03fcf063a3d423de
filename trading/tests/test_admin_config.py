"""Admin for the versioned configuration: typed fields per regime, errors on the field they
concern, every save a new version, and a one-click restore of an old version."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from trading import config
from trading.admin_forms import regime_rows
from trading.models import RiskConfig, StrategyConfig

pytestmark = pytest.mark.django_db


def form_data(form) -> dict:
    """What a browser posts for an unchanged form: checkboxes only when ticked, None as empty."""
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is True:
            data[name] = "on"
        elif value is None:
            data[name] = ""
        elif value is not False:  # 0 is a value (0 == False, so no `in (False, None)`)
            data[name] = str(value)
    return data


def strategy_form(client, row: StrategyConfig, **changes) -> dict:
    """The admin's own form for `row`, as the browser would post it, with `changes`."""
    data = form_data(client.get(change_url(row)).context["adminform"].form) | {"note": "tuning"}
    return data | {key: str(value) for key, value in changes.items()}


def change_url(row) -> str:
    return reverse(f"admin:trading_{row._meta.model_name}_change", args=[row.pk])


def restore_url(row) -> str:
    return reverse(f"admin:trading_{row._meta.model_name}_restore", args=[row.pk])


def errors_of(response) -> dict:
    return response.context["adminform"].form.errors


def test_the_form_has_a_fieldset_per_regime_with_one_typed_field_per_parameter(admin_client):
    page = admin_client.get(change_url(StrategyConfig.objects.get(version=1))).content.decode()
    for regime in ("BULL", "SIDEWAYS", "BEAR"):
        assert f'class="fieldset-heading">{regime} regime</h2>' in page
    assert "KRW-BTC, KRW-ETH, KRW-XRP, KRW-SOL, KRW-DOGE</textarea>" in page
    assert 'type="number" name="SIDEWAYS__rsi_14_max" value="45"' in page
    assert 'name="BEAR__ma_filter"' in page and "close near or above MA20" in page
    assert 'type="checkbox" name="SIDEWAYS__bb_enabled"' in page
    assert "Take profit (%)" in page and "Time limit (hours)" in page and "RSI(7) dip lookback (bars)" in page
    assert "params_yaml" not in page  # the raw YAML is a read-only display now
    assert "ai_prefilter_max_drop_pct_6h: 5.0" in page


def test_every_parameter_of_the_defaults_file_has_exactly_one_field():
    names = [name.split("__")[1] for row in regime_rows("BULL") for name in row]
    assert sorted(names) == sorted(config.load_defaults()["regimes"]["BULL"]) == sorted(config.REGIME_FIELDS)


def typed(params: dict) -> dict:
    return {r: {k: (v, type(v)) for k, v in block.items()} for r, block in params.items()}


def test_default_parameters_round_trip_through_the_form_unchanged(admin_client):
    defaults = config.load_defaults()
    page = admin_client.get(reverse("admin:trading_strategyconfig_add")).content.decode()
    assert "KRW-BTC, KRW-ETH, KRW-XRP, KRW-SOL, KRW-DOGE</textarea>" in page
    add_form = admin_client.get(reverse("admin:trading_strategyconfig_add")).context["adminform"].form
    data = form_data(add_form) | {"note": "defaults again"}
    assert admin_client.post(reverse("admin:trading_strategyconfig_add"), data).status_code == 302
    saved = StrategyConfig.objects.get(is_active=True)
    assert saved.version == 2 and saved.symbols == defaults["symbols"]
    assert typed(saved.params) == typed(defaults["regimes"])  # same keys, values and types (45, not 45.0)
    assert config.diff_strategy(StrategyConfig.objects.get(version=1), saved) == []


def test_editing_a_version_stores_a_new_active_version(admin_client, admin_user):
    v1 = StrategyConfig.objects.get(version=1)
    page = admin_client.get(change_url(v1))
    assert b"Saving stores a NEW version" in page.content
    response = admin_client.post(change_url(v1), strategy_form(admin_client, v1, BULL__take_profit_pct=6.5))
    assert response.status_code == 302
    v2 = StrategyConfig.objects.get(is_active=True)
    assert (v2.version, v2.created_by, v2.note) == (2, admin_user, "tuning")
    assert v2.params["BULL"]["take_profit_pct"] == 6.5
    v1.refresh_from_db()
    assert v1.params["BULL"]["take_profit_pct"] == 5.0 and not v1.is_active  # history untouched


def test_editing_an_old_version_also_stores_a_new_version(admin_client):
    v1 = StrategyConfig.objects.get(version=1)
    admin_client.post(change_url(v1), strategy_form(admin_client, v1, BULL__rsi_14_max=50))
    admin_client.post(change_url(v1), strategy_form(admin_client, v1, symbols="KRW-BTC\nKRW-ETH"))
    v3 = StrategyConfig.objects.get(is_active=True)
    assert v3.version == 3 and v3.symbols == ["KRW-BTC", "KRW-ETH"] and v3.params == v1.params
    assert StrategyConfig.objects.get(version=2).params["BULL"]["rsi_14_max"] == 50


def test_symbols_may_be_comma_or_line_separated_and_in_lower_case(admin_client):
    v1 = StrategyConfig.objects.get(version=1)
    admin_client.post(
        change_url(v1), strategy_form(admin_client, v1, symbols="krw-btc,\n KRW-ADA , KRW-ETH\n")
    )
    assert StrategyConfig.objects.get(is_active=True).symbols == ["KRW-BTC", "KRW-ADA", "KRW-ETH"]


def test_the_changelist_shows_who_when_and_what_changed(admin_client):
    v1 = StrategyConfig.objects.get(version=1)
    admin_client.post(change_url(v1), strategy_form(admin_client, v1, BEAR__time_limit_hours=6))
    page = admin_client.get(reverse("admin:trading_strategyconfig_changelist")).content.decode()
    assert "BEAR.time_limit_hours: 8 -&gt; 6" in page and "first version" in page and "admin" in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"SIDEWAYS__rsi_7_trigger": 40},
            "SIDEWAYS__rsi_7_trigger",
            "RSI(7) dip level (40) must be below RSI(7) recovery level (35): "
            "RSI(7) first dips to the trigger, then recovers above it",
        ),
        (
            {"BULL__stop_loss_pct": 9.0},
            "BULL__stop_loss_pct",
            "Stop loss (9.0%) is larger than take profit (5.0%): every win would be smaller than every loss",
        ),
        (
            {"BULL__take_profit_pct": -2.0},
            "BULL__take_profit_pct",
            "Take profit is -2.0%, it must be between 0 and 100",
        ),
        ({"BEAR__trailing_stop_pct": 0}, "BEAR__trailing_stop_pct", "Trailing stop must be above 0%"),
        (
            {"BULL__rsi_overbought": 120},
            "BULL__rsi_overbought",
            "RSI(14) overbought level is 120, an RSI level must be between 0 and 100",
        ),
        (
            {"BULL__rsi_7_lookback": 500},
            "BULL__rsi_7_lookback",
            "RSI(7) dip lookback must be between 1 and 200 bars",
        ),
        (
            {"BEAR__time_limit_hours": 0},
            "BEAR__time_limit_hours",
            "Time limit must be above 0 and at most 720 hours",
        ),
        (
            {"BEAR__volume_surge_ratio": 0.4},
            "BEAR__volume_surge_ratio",
            "Volume surge ratio (0.4) must be above Min volume ratio (0.5), or no volume could ever pass",
        ),
        (
            {"SIDEWAYS__volume_min_ratio": -1},
            "SIDEWAYS__volume_min_ratio",
            "Min volume ratio is -1.0, it must be at least 0",
        ),
        (
            {"BEAR__partial_tp_2_pct": 1.0},
            "BEAR__partial_tp_2_pct",
            "Scale-out level 2 is set but level 1 is empty: fill the levels in order",
        ),
        (
            {"BEAR__partial_tp_1_pct": 2.5},
            "BEAR__partial_tp_1_pct",
            "Scale-out level 1 (2.5%) is not below the take profit (2.5%): "
            "the take profit would sell everything first",
        ),
        (
            {"BULL__partial_tp_1_pct": 1, "BULL__partial_tp_2_pct": 2, "BULL__partial_tp_2_sell_pct": 60},
            "BULL__partial_tp_1_sell_pct",
            "The scale-out levels sell 110% of the position: at most 100%",
        ),
        (
            {"SIDEWAYS__atr_stop_k": 3, "SIDEWAYS__atr_take_profit_k": 2},
            "SIDEWAYS__atr_stop_k",
            "ATR stop loss (3.0x) is larger than ATR take profit (2.0x): every win would be smaller than "
            "every loss",
        ),
        (
            {"BULL__kelly_fraction": 1.5},
            "BULL__kelly_fraction",
            "Kelly cap fraction must be above 0 and at most 1 x Kelly",
        ),
        ({"BULL__take_profit_pct": "abc"}, "BULL__take_profit_pct", "Enter a number, e.g. 3 or 2.5."),
        ({"BULL__rsi_7_lookback": 2.5}, "BULL__rsi_7_lookback", "Enter a whole number, e.g. 10."),
        (
            {"symbols": "KRW-BTC, btc"},
            "symbols",
            "'BTC' is not an Upbit KRW market name like KRW-BTC (upper case)",
        ),
        ({"symbols": "KRW-BTC, KRW-BTC"}, "symbols", "A market is listed twice"),
        ({"symbols": " , "}, "symbols", "The list is empty; trade at least one market such as KRW-BTC"),
        ({"symbols": ""}, "symbols", "List at least one market to trade, such as KRW-BTC."),
    ],
)
def test_nonsense_is_refused_on_its_field_in_trader_words(admin_client, changes, field, message):
    v1 = StrategyConfig.objects.get(version=1)
    response = admin_client.post(change_url(v1), strategy_form(admin_client, v1, **changes))
    assert response.status_code == 200
    assert errors_of(response)[field] == [message]
    assert StrategyConfig.objects.count() == 1


def test_an_error_is_shown_next_to_its_field(admin_client):
    v1 = StrategyConfig.objects.get(version=1)
    page = admin_client.post(
        change_url(v1), strategy_form(admin_client, v1, BULL__stop_loss_pct=9.0)
    ).content.decode()
    assert "KRW-BTC, KRW-ETH, KRW-XRP, KRW-SOL, KRW-DOGE</textarea>" in page  # the input is kept, as text
    row = page[page.index('class="form-row') : page.index('name="BULL__stop_loss_pct"')]
    assert "Stop loss (9.0%) is larger than take profit (5.0%)" in row.split('class="form-row')[-1]


def test_versions_cannot_be_deleted(admin_client):
    v1 = StrategyConfig.objects.get(version=1)
    assert admin_client.get(reverse("admin:trading_strategyconfig_delete", args=[v1.pk])).status_code == 403


def test_a_version_page_shows_the_diff_to_the_previous_and_to_the_active_version(admin_client):
    v1 = StrategyConfig.objects.get(version=1)
    admin_client.post(change_url(v1), strategy_form(admin_client, v1, BULL__take_profit_pct=6.5))
    old = admin_client.get(change_url(v1)).content.decode()
    assert "Differences from the active version" in old
    assert "BULL.take_profit_pct: 6.5 -&gt; 5.0 (v2 -&gt; this)" in old
    assert 'id="restore-version"' in old and "Restore this version" in old
    active = admin_client.get(change_url(StrategyConfig.objects.get(version=2))).content.decode()
    assert "BULL.take_profit_pct: 5.0 -&gt; 6.5" in active and "this is the active version" in active
    assert 'id="restore-version"' not in active


def test_restore_stores_a_copy_as_the_new_active_version_and_keeps_the_history(admin_client, admin_user):
    v1 = StrategyConfig.objects.get(version=1)
    config.save_strategy_version(
        symbols=["KRW-BTC"], params=dict(v1.params, BULL=dict(v1.params["BULL"], rsi_14_max=50))
    )
    before = list(StrategyConfig.objects.values())
    response = admin_client.post(restore_url(v1), follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:trading_strategyconfig_changelist")
    assert "Restored v1 as v3, now active" in response.content.decode()
    v3 = StrategyConfig.objects.get(is_active=True)
    assert (v3.version, v3.note, v3.created_by) == (3, "restored from v1", admin_user)
    assert (v3.symbols, v3.params) == (v1.symbols, v1.params)
    assert config.load_strategy().version == 3  # what the bot reads next cycle
    after = {row["version"]: row for row in StrategyConfig.objects.values()}
    assert [after[row["version"]] | {"is_active": row["is_active"]} for row in before] == before
    assert LogEntry.objects.get().change_message == "Restored from v1."


def test_restore_needs_a_post(admin_client):
    v1 = StrategyConfig.objects.get(version=1)
    assert admin_client.get(restore_url(v1)).status_code == 405
    assert StrategyConfig.objects.count() == 1


def test_restore_needs_staff_and_the_change_permission(client):
    v1 = StrategyConfig.objects.get(version=1)
    users = get_user_model().objects
    client.force_login(users.create_user("trader", password="x-long-password-1"))
    response = client.post(restore_url(v1))
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
    viewer = users.create_user("viewer", password="x-long-password-1", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_strategyconfig"))
    client.force_login(viewer)
    assert 'id="restore-version"' not in client.get(change_url(v1)).content.decode()
    assert client.post(restore_url(v1)).status_code == 403
    assert StrategyConfig.objects.count() == 1


def test_the_bulk_action_restores_too(admin_client):
    v1 = StrategyConfig.objects.get(version=1)
    admin_client.post(change_url(v1), strategy_form(admin_client, v1, BULL__rsi_14_max=50))
    admin_client.post(
        reverse("admin:trading_strategyconfig_changelist"),
        {"action": "reactivate", "_selected_action": [v1.pk]},
    )
    v3 = StrategyConfig.objects.get(is_active=True)
    assert v3.version == 3 and v3.params == v1.params and v3.note == "restored from v1"


def test_a_version_that_breaks_todays_rules_is_not_restored(admin_client):
    v1 = StrategyConfig.objects.get(version=1)
    StrategyConfig.objects.filter(pk=v1.pk).update(symbols=["btc"])  # as if the rules had changed
    config.save_strategy_version(symbols=["KRW-BTC"], params=v1.params)
    page = admin_client.post(restore_url(v1), follow=True).content.decode()
    assert "Could not restore v1: symbols: &#x27;btc&#x27; is not an Upbit KRW market name" in page
    assert StrategyConfig.objects.get(is_active=True).version == 2


def risk_form(row: RiskConfig, **changes) -> dict:
    data = {name: str(getattr(row, name)) for name in config.RISK_FIELDS}
    return data | {k: str(v) for k, v in changes.items()} | {"note": ""}


def test_risk_form_groups_limits_with_units(admin_client):
    page = admin_client.get(change_url(RiskConfig.objects.get(version=1))).content.decode()
    for title in ("Position sizing", "Daily limits", "Streaks &amp; cooldown"):
        assert f'class="fieldset-heading">{title}</h2>' in page
    assert (
        "Position size (% of equity)" in page and "Cooldown (hours)" in page and "Minimum order (KRW)" in page
    )
    assert "halts trading until 00:00 KST" in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"min_order_krw": 1000},
            "min_order_krw",
            "Minimum order cannot be below Upbit's minimum order of 5,000 KRW",
        ),
        (
            {"max_position_size_pct": 30},
            "max_position_size_pct",
            "Position size cannot exceed Total exposure",
        ),
        (
            {"max_daily_loss_pct": 0},
            "max_daily_loss_pct",
            "Daily loss limit is 0%, it must be above 0 and at most 100",
        ),
        ({"max_daily_trades": 0}, "max_daily_trades", "Entries per day must be a whole number of at least 1"),
    ],
)
def test_risk_nonsense_is_refused_on_its_field(admin_client, changes, field, message):
    v1 = RiskConfig.objects.get(version=1)
    response = admin_client.post(change_url(v1), risk_form(v1, **changes))
    assert errors_of(response)[field] == [message]
    assert RiskConfig.objects.count() == 1


def test_risk_edit_is_a_new_version_and_can_be_restored(admin_client):
    v1 = RiskConfig.objects.get(version=1)
    assert admin_client.post(change_url(v1), risk_form(v1, max_daily_trades=6)).status_code == 302
    assert RiskConfig.objects.get(is_active=True).max_daily_trades == 6
    v1.refresh_from_db()
    assert v1.max_daily_trades == 10 and not v1.is_active
    page = admin_client.get(reverse("admin:trading_riskconfig_changelist")).content.decode()
    assert "max_daily_trades: 10 -&gt; 6" in page
    assert "max_daily_trades: 6 -&gt; 10 (v2 -&gt; this)" in admin_client.get(change_url(v1)).content.decode()
    admin_client.post(restore_url(v1))
    v3 = RiskConfig.objects.get(is_active=True)
    assert (v3.version, v3.max_daily_trades, v3.note) == (3, 10, "restored from v1")
