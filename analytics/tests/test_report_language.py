"""Reports are written in COINPILOT_ALERT_LANGUAGE (English by default), figures through core.formatting."""

from datetime import timedelta

import pytest
from django.utils import translation

from analytics import daily_report
from core.notifications import sender, telegram_text
from core.notifications.outbox import make_item

from .test_daily_report import CLOSE, DAY, day_sells  # noqa: F401 (the fixture)


def sent_report(monkeypatch) -> tuple[dict, str]:
    """The daily report's payload as queued, and its Telegram text as the sender writes it."""
    queued = []
    monkeypatch.setattr(daily_report, "notify", lambda event, payload: queued.append(payload))
    daily_report.send_daily_report(DAY, CLOSE + timedelta(minutes=5))
    [payload] = queued
    item = make_item("r1", "daily-report", payload, at=CLOSE)
    embed = sender._render(item, telegram=True)
    return payload, item["text"] + "\n" + embed["title"]


@pytest.mark.usefixtures("day_sells")
def test_the_daily_report_is_in_korean_with_won_when_alerts_are_korean(settings, monkeypatch):
    settings.ALERT_LANGUAGE = "ko"
    settings.OPENAI_API_KEY = ""  # the plain summary, written here

    with translation.override("en"):  # whatever the worker has active
        payload, text = sent_report(monkeypatch)

    assert payload["summary"].startswith("매도 3건, 실현 손익 +40원, 승률 50.00%.")
    assert any(note.startswith("매도 1건 제외, 손익 알 수 없음") for note in payload["notes"])
    assert "일일 리포트 · 2026-11-21 (KST 기준)" in text
    assert "<b>실현 손익</b>: +40원" in text


@pytest.mark.usefixtures("day_sells")
def test_the_daily_report_stays_english_by_default(settings, monkeypatch):
    settings.OPENAI_API_KEY = ""
    assert settings.ALERT_LANGUAGE == "en"

    with translation.override("ko"):  # a Korean page's request does not change the alerts
        payload, text = sent_report(monkeypatch)

    assert payload["summary"].startswith("3 SELLs, realized +40 KRW, win rate 50.00%.")
    assert "Daily report · 2026-11-21 (KST)" in text and "<b>Realized PnL</b>: +40 KRW" in text


def test_facts_follow_the_active_language(db):
    with translation.override("ko"):  # the /daily reply of a Korean user
        korean = daily_report.facts(daily_report.build_daily_report(DAY, CLOSE))
    assert "실현 손익: 0원" in korean and "기간 중 매도 없음" in korean
    assert "Realized PnL: 0 KRW" in daily_report.facts(daily_report.build_daily_report(DAY, CLOSE))


def test_a_long_telegram_alert_is_cut_with_a_korean_note(settings):
    settings.ALERT_LANGUAGE = "ko"
    item = make_item("r2", "system", {"title": "x", "detail": "y" * 5000}, at=CLOSE)
    sender._render(item, telegram=True)
    assert "Telegram의 4,096자 한도" in item["text"] and len(item["text"]) <= telegram_text.TEXT_LIMIT
