"""The admin's money controls in a real browser: selling positions and the kill switch ask first."""

from decimal import Decimal

from django.utils import timezone

from conftest import store_minutes
from trading import booking
from trading.fills import buy_fill
from trading.models import Position, Trade, TradingControl

from .conftest import shoot


def hold_btc() -> None:
    now = timezone.now().replace(second=0, microsecond=0)
    frame = store_minutes("KRW-BTC", 120, end=now)
    price = Decimal(f"{frame['close'].iloc[-30]:.0f}")
    booking.book_buy(
        symbol="KRW-BTC",
        fill=buy_fill(krw=Decimal(500000), reference=price),
        client_order_id="browser-held",
        regime="BULL",
        at=now - timezone.timedelta(minutes=30),
    )


def run_action(page, changelist: str, label: str) -> None:
    page.goto(page.base + changelist)
    page.check("#action-toggle")  # select every row
    page.select_option("select[name=action]", label=label)
    page.click("button[name=index]")


def test_closing_positions_shows_what_will_be_sold_and_waits_for_yes(page):
    hold_btc()
    run_action(
        page, "/admin/trading/position/", "Close the selected positions at market (exit reason MANUAL)"
    )
    assert "Sell these positions at market?" in page.inner_text("h1")
    assert "KRW-BTC" in page.inner_text("#positions-to-close")
    shoot(page, "admin-confirm-close")
    page.click("text=No, go back")
    assert Position.objects.exists() and not Trade.objects.filter(side="SELL").exists()
    run_action(
        page, "/admin/trading/position/", "Close the selected positions at market (exit reason MANUAL)"
    )
    page.click("#confirm-close")
    assert "KRW-BTC: sold" in page.inner_text(".messagelist")
    assert Trade.objects.get(side="SELL").exit_reason == "MANUAL" and not Position.objects.exists()


def test_kill_switch_and_flatten_all_from_the_admin(page):
    hold_btc()
    TradingControl.current()
    run_action(page, "/admin/trading/tradingcontrol/", "Kill switch ON and close every position at market")
    assert "Turn the kill switch on and sell every position" in page.inner_text("h1")
    page.click("#confirm-close")
    assert "kill switch on: no new entries" in page.inner_text(".messagelist").lower()
    assert TradingControl.current().kill_switch and not Position.objects.exists()
    page.goto(page.base + "/")
    assert "Kill switch is ON" in page.inner_text("main")
