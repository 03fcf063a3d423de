"""The Exit analysis page renders the table, the charts' data and the suggestions."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from trading import booking
from trading.config import default_risk
from trading.fills import buy_fill, sell_fill
from trading.models import Trade

pytestmark = pytest.mark.django_db


def round_trip(n: int, exit_price: str, reason: str) -> None:
    now = timezone.now() - timedelta(days=1)
    booking.book_buy(
        symbol="KRW-BTC",
        fill=buy_fill(krw=Decimal(500000), reference=Decimal(100_000_000)),
        client_order_id=f"b{n}",
        regime="SIDEWAYS",
        at=now + timedelta(hours=n),
    )
    qty = booking.Position.objects.get().quantity
    sell = booking.book_sell(
        symbol="KRW-BTC",
        fill=sell_fill(quantity=qty, reference=Decimal(exit_price)),
        client_order_id=f"s{n}",
        reason=reason,
        at=now + timedelta(hours=n, minutes=30),
        limits=default_risk(),
    )
    Trade.objects.filter(pk=sell.pk).update(post_exit_prices={"24h": {"price": "1", "change_pct": 2.5 * n}})


def test_exit_analysis_page(client):
    client.force_login(get_user_model().objects.create_user("op", password="pw-123456789"))
    round_trip(1, "103000000", "TAKE_PROFIT")
    round_trip(2, "97500000", "STOP_LOSS")
    page = client.get("/exits/?days=7")
    html = page.content.decode()
    assert page.status_code == 200 and "2 sells in the last 7 days" in html
    assert "TAKE_PROFIT" in html and "STOP_LOSS" in html
    assert "suggestions withheld: not enough data" in html  # 2 < the 10-sell minimum
    data = json.loads(html.split('id="exit-data" type="application/json">')[1].split("</script>")[0])
    assert set(data["pnl_by_exit_reason"]) == {"TAKE_PROFIT", "STOP_LOSS"}
    assert data["post_exit_curve"]["STOP_LOSS"]["24h"] == 5.0


def test_every_sell_is_listed_newest_first_and_paginated(client):
    client.force_login(get_user_model().objects.create_user("op", password="pw-123456789"))
    round_trip(1, "103000000", "TAKE_PROFIT")
    round_trip(2, "97500000", "STOP_LOSS")
    html = client.get("/exits/?days=7").content.decode()
    details = html.split('id="exit-details"')[1].split("</section>")[0]
    assert details.index("STOP_LOSS") < details.index("TAKE_PROFIT")  # newest first
    stop = Trade.objects.get(exit_reason="STOP_LOSS")
    assert f"{Decimal(stop.signal_info['pnl_pct']):.2f}" in details and "5.00" in details  # PnL %, 24 h after
    assert "page 1 of" not in details  # 2 rows: one page
    Trade.objects.bulk_create(
        Trade(
            symbol="KRW-ETH",
            side="SELL",
            price=4_000_000,
            quantity=1,
            status="FILLED",
            exit_reason="RSI_OVERBOUGHT",
            client_order_id=f"older-{n}",
            executed_at=timezone.now() - timedelta(days=2, minutes=n),
        )
        for n in range(25)
    )
    second = client.get("/exits/?days=7&page=2").content.decode().split('id="exit-details"')[1]
    rows = second.split("</section>")[0]
    assert "page 2 of 2 (27 rows)" in rows
    assert rows.count("<td>KRW-ETH</td>") == 2 and "TAKE_PROFIT" not in rows  # the two oldest


def test_exit_analysis_page_in_korean_and_english(client):
    client.force_login(get_user_model().objects.create_user("op", password="pw-123456789"))
    round_trip(1, "103000000", "TAKE_PROFIT")
    round_trip(2, "97500000", "STOP_LOSS")
    korean = client.get("/exits/?days=7", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "최근 7일간 매도 2건" in korean and "시장 국면 x 청산 사유" in korean and "평균 손익 (%)" in korean
    assert (
        "제안 보류: 데이터 부족 (매도 2건, 최소 10건 필요)" in korean
    )  # worded for this reader, not the cache
    assert "103,000,000" in korean  # the sell price with its separators
    english = client.get("/exits/?days=7").content.decode()
    assert "2 sells in the last 7 days" in english and "Avg PnL (%)" in english and "103,000,000" in english
    assert "suggestions withheld: not enough data (2 SELLs, minimum 10)" in english
