"""Alerts are written in COINPILOT_ALERT_LANGUAGE when they are sent (English by default)."""

from datetime import UTC, datetime

from django.utils import translation

from core.notifications import sender
from core.notifications.outbox import make_item
from core.notifications.samples import SAMPLES
from core.notify import alert_language

AT = datetime(2026, 11, 20, 13, 5, 9, tzinfo=UTC)


def fields(embed: dict) -> dict:
    return {field["name"]: field["value"] for field in embed.get("fields", [])}


def trade_alert() -> tuple[dict, str]:
    item = make_item("t1", "trade", SAMPLES["trade"], at=AT)
    embed = sender._render(item, telegram=True)
    return embed, item["text"]


def test_a_trade_alert_is_in_korean_with_won_when_alerts_are_korean(settings):
    settings.ALERT_LANGUAGE = "ko"

    with translation.override("en"):  # the worker's own language does not matter
        embed, text = trade_alert()

    assert embed["title"] == "KRW-BTC 매도 체결 · TAKE_PROFIT"
    assert fields(embed)["실현 손익"] == "+2,916원 (+3.00%)"
    assert fields(embed)["가격"] == "95,120,000원"
    assert "<b>수수료</b>: 50원" in text


def test_a_trade_alert_is_in_english_by_default(settings):
    assert settings.ALERT_LANGUAGE == "en"

    with translation.override("ko"):
        embed, text = trade_alert()

    assert embed["title"] == "SELL KRW-BTC filled · TAKE_PROFIT"
    assert fields(embed)["Realized PnL"] == "+2,916 KRW (+3.00%)"
    assert "<b>Price</b>: 95,120,000 KRW" in text


def test_risk_titles_and_lazy_payload_text_follow_the_alert_language(settings):
    settings.ALERT_LANGUAGE = "ko"
    embed = sender._render(make_item("r1", "risk", {"kind": "DAILY_LOSS_HALT", "symbol": "KRW-BTC"}, at=AT))
    assert embed["title"] == "리스크: 일일 손실 한도 도달: 거래 중단 · KRW-BTC"
    with alert_language():
        assert str(SAMPLES["system"]["title"]) == "collect_candles 작업 실패"
