"""Admin for the versioned configuration: edits become new versions; errors read like advice."""

import pytest
import yaml
from django.urls import reverse

from trading.config import RISK_FIELDS
from trading.models import RiskConfig, StrategyConfig

pytestmark = pytest.mark.django_db


def strategy_form(row: StrategyConfig, **changes) -> dict:
    params = {r: dict(block) for r, block in row.params.items()}
    for key, value in changes.items():
        regime, name = key.split("__")
        params[regime][name] = value
    return {"symbols_text": ", ".join(row.symbols), "params_yaml": yaml.safe_dump(params), "note": "tuning"}


def test_editing_a_version_stores_a_new_active_version(admin_client, admin_user):
    v1 = StrategyConfig.objects.get(version=1)
    url = reverse("admin:trading_strategyconfig_change", args=[v1.pk])
    page = admin_client.get(url)
    assert b"Saving stores a NEW version" in page.content and b"rsi_14_max" in page.content
    response = admin_client.post(url, strategy_form(v1, BULL__take_profit_pct=6.0))
    assert response.status_code == 302
    v2 = StrategyConfig.objects.get(is_active=True)
    assert (v2.version, v2.created_by, v2.note) == (2, admin_user, "tuning")
    assert v2.params["BULL"]["take_profit_pct"] == 6.0
    v1.refresh_from_db()
    assert v1.params["BULL"]["take_profit_pct"] == 5.0 and not v1.is_active  # history untouched


def test_the_changelist_shows_who_when_and_what_changed(admin_client):
    v1 = StrategyConfig.objects.get(version=1)
    admin_client.post(
        reverse("admin:trading_strategyconfig_change", args=[v1.pk]),
        strategy_form(v1, BEAR__time_limit_hours=6),
    )
    page = admin_client.get(reverse("admin:trading_strategyconfig_changelist")).content.decode()
    assert "BEAR.time_limit_hours: 8 -&gt; 6" in page and "first version" in page and "admin" in page


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"SIDEWAYS__rsi_7_trigger": 40}, "SIDEWAYS: rsi_7_trigger (40) must be below rsi_7_recover (35)"),
        ({"BULL__stop_loss_pct": 9.0}, "BULL: stop loss (9.0%) is larger than take profit (5.0%)"),
        ({"BULL__take_profit_pct": -2.0}, "BULL: take_profit_pct is -2.0%, it must be between 0 and 100"),
    ],
)
def test_nonsense_is_refused_with_a_trader_readable_message(admin_client, changes, message):
    v1 = StrategyConfig.objects.get(version=1)
    page = admin_client.post(
        reverse("admin:trading_strategyconfig_change", args=[v1.pk]), strategy_form(v1, **changes)
    )
    assert page.status_code == 200 and message in page.content.decode()
    assert StrategyConfig.objects.count() == 1


def test_bad_symbols_and_bad_yaml_are_refused(admin_client):
    v1 = StrategyConfig.objects.get(version=1)
    url = reverse("admin:trading_strategyconfig_change", args=[v1.pk])
    page = admin_client.post(url, dict(strategy_form(v1), symbols_text="KRW-BTC, btc"))
    assert "&#x27;btc&#x27; is not an Upbit KRW market name" in page.content.decode()
    page = admin_client.post(url, dict(strategy_form(v1), params_yaml="BULL: [unclosed"))
    assert "not valid YAML" in page.content.decode()
    assert StrategyConfig.objects.count() == 1


def test_versions_cannot_be_deleted(admin_client):
    v1 = StrategyConfig.objects.get(version=1)
    assert admin_client.get(reverse("admin:trading_strategyconfig_delete", args=[v1.pk])).status_code == 403


def test_an_old_version_can_be_made_active_again_as_a_copy(admin_client):
    v1 = StrategyConfig.objects.get(version=1)
    admin_client.post(
        reverse("admin:trading_strategyconfig_change", args=[v1.pk]), strategy_form(v1, BULL__rsi_14_max=50)
    )
    admin_client.post(
        reverse("admin:trading_strategyconfig_changelist"),
        {"action": "reactivate", "_selected_action": [v1.pk]},
    )
    v3 = StrategyConfig.objects.get(is_active=True)
    assert v3.version == 3 and v3.params == v1.params and v3.note == "copy of v1"


def risk_form(row: RiskConfig, **changes) -> dict:
    data = {name: str(getattr(row, name)) for name in RISK_FIELDS}
    return data | {k: str(v) for k, v in changes.items()} | {"note": ""}


def test_risk_edit_is_a_new_version_and_rejects_nonsense(admin_client):
    v1 = RiskConfig.objects.get(version=1)
    url = reverse("admin:trading_riskconfig_change", args=[v1.pk])
    page = admin_client.post(url, risk_form(v1, min_order_krw=1000))
    assert "below Upbit&#x27;s minimum order of 5,000 KRW" in page.content.decode()
    assert admin_client.post(url, risk_form(v1, max_daily_trades=6)).status_code == 302
    assert RiskConfig.objects.get(is_active=True).max_daily_trades == 6
    v1.refresh_from_db()
    assert v1.max_daily_trades == 10 and not v1.is_active
    page = admin_client.get(reverse("admin:trading_riskconfig_changelist")).content.decode()
    assert "max_daily_trades: 10 -&gt; 6" in page


def test_add_form_starts_from_the_defaults_file(admin_client):
    page = admin_client.get(reverse("admin:trading_strategyconfig_add")).content.decode()
    assert "KRW-BTC, KRW-ETH, KRW-XRP, KRW-SOL, KRW-DOGE" in page and "rsi_7_trigger" in page
