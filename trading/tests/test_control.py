"""The kill switch (command and admin), flatten all, closing positions from the admin."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from market.models import Candle
from trading import booking
from trading.fills import buy_fill
from trading.models import Position, RiskAudit, Trade, TradingControl

pytestmark = pytest.mark.django_db


@pytest.fixture
def held_btc():
    hold_btc()


def hold_btc():
    """0.0049975 BTC bought an hour ago; the last closed bar's close 100,500,000 KRW."""
    now = timezone.now().replace(second=0, microsecond=0)
    Candle.objects.create(
        symbol="KRW-BTC",
        timestamp=now - timedelta(minutes=1),
        open=100_000_000,
        high=101_000_000,
        low=99_000_000,
        close=100_500_000,
        volume=1,
    )
    fill = buy_fill(krw=Decimal("500000"), reference=Decimal("100000000"))
    booking.book_buy(
        symbol="KRW-BTC", fill=fill, client_order_id="held-BUY", regime="BULL", at=now - timedelta(hours=1)
    )


def test_killswitch_command_turns_it_on_audited_and_off(capsys):
    call_command("killswitch", "on", "--reason", "exchange maintenance")
    control = TradingControl.current()
    assert control.kill_switch and control.reason == "exchange maintenance"
    assert RiskAudit.objects.get().description == "kill switch turned ON: exchange maintenance"
    call_command("killswitch", "off")
    assert not TradingControl.current().kill_switch
    call_command("killswitch", "status")
    assert "kill switch off" in capsys.readouterr().out


def test_flatten_sells_every_position_with_reason_kill_switch(held_btc, capsys):
    call_command("killswitch", "on", "--flatten")
    sell = Trade.objects.get(side="SELL")
    assert sell.exit_reason == "KILL_SWITCH" and sell.price == Decimal("100449000")  # last close - 5 bps
    assert not Position.objects.exists()
    assert "KRW-BTC: sold" in capsys.readouterr().out


def test_a_fill_does_not_depend_on_the_simulators_price_that_day():
    """On 2026-12-28 the simulator's KRW-BTC traded near 95 million KRW, within 5 % of this test's
    stored close: its order book was used, and the sale filled at its price, until the tests' paper
    fills stopped reading the simulated book (conftest.no_simulated_order_book)."""
    with time_machine.travel(datetime(2026, 12, 28, 6, 0, 30, tzinfo=UTC), tick=False):
        hold_btc()
        call_command("killswitch", "on", "--flatten")
    assert Trade.objects.get(side="SELL").price == Decimal("100449000")  # last close - 5 bps


def test_admin_toggle_goes_through_the_same_function(client):
    admin = get_user_model().objects.create_superuser("boss", password="x-long-password-1")
    client.force_login(admin)
    TradingControl.current()
    response = client.post("/admin/trading/tradingcontrol/1/change/", {"kill_switch": "on", "reason": "news"})
    assert response.status_code == 302
    control = TradingControl.current()
    assert control.kill_switch and control.changed_by == admin
    assert RiskAudit.objects.get().violation_type == "KILL_SWITCH"


def test_admin_action_asks_first_then_closes_selected_positions_as_manual(client, held_btc):
    client.force_login(get_user_model().objects.create_superuser("boss", password="x-long-password-1"))
    chosen = {"action": "close_at_market", "_selected_action": [Position.objects.get().pk]}
    page = client.post("/admin/trading/position/", chosen)
    html = page.content.decode()
    assert page.status_code == 200 and "Sell these positions at market?" in html
    assert "KRW-BTC" in html and "100,500,000" in html  # the last close it would sell at
    assert not Trade.objects.filter(side="SELL").exists()  # nothing sold before the confirmation
    response = client.post("/admin/trading/position/", {**chosen, "confirm": "yes"})
    assert response.status_code == 302
    assert Trade.objects.get(side="SELL").exit_reason == "MANUAL"


def test_admin_kill_and_flatten_asks_first_then_stops_and_sells_everything(client, held_btc):
    client.force_login(get_user_model().objects.create_superuser("boss", password="x-long-password-1"))
    control = TradingControl.current()
    chosen = {"action": "kill_and_flatten", "_selected_action": [control.pk]}
    page = client.post("/admin/trading/tradingcontrol/", chosen).content.decode()
    assert "Turn the kill switch on and sell every position at market?" in page and "KRW-BTC" in page
    assert not TradingControl.current().kill_switch and Position.objects.exists()
    client.post("/admin/trading/tradingcontrol/", {**chosen, "confirm": "yes"})
    assert TradingControl.current().kill_switch
    assert Trade.objects.get(side="SELL").exit_reason == "KILL_SWITCH" and not Position.objects.exists()


def test_admin_shows_a_reconciliation_hold_and_resumes_it(client):
    client.force_login(get_user_model().objects.create_superuser("boss", password="x-long-password-1"))
    TradingControl.objects.update_or_create(pk=1, defaults={"reconcile_mismatch": "KRW 1,000 off"})
    assert "KRW 1,000 off" in client.get("/admin/trading/tradingcontrol/").content.decode()
    client.post(
        "/admin/trading/tradingcontrol/", {"action": "resume_after_reconciliation", "_selected_action": [1]}
    )
    assert TradingControl.current().reconcile_mismatch == ""
    assert RiskAudit.objects.get().violation_type == "RECONCILE_RESUMED"
