"""The site's own pages (Overview, System, Ask, login, lock-out, the Market note) in Korean and in
English: words from the catalog, figures through core.formatting."""

import json
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import translation

from coinpilot_site import market_chart
from core.kst import KST
from trading.models import Account

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    user = get_user_model().objects.create_user("operator", password="correct-horse-battery")
    client.force_login(user)
    return user


@pytest.mark.books_written_by_hand  # cash set directly, no trade behind it
def test_overview_in_korean_shows_won_and_the_man_reading_in_english_krw(client, operator):
    Account.objects.create(name="paper", balance=Decimal("9935023.4"))

    korean = client.get("/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert '<html lang="ko">' in korean and "평가 자산" in korean and "모의 거래" in korean
    assert "9,935,023원" in korean and "약 993만 원" in korean  # exact figure and its 만 reading
    assert "오늘 진입 0회" in korean and "보유 포지션" in korean

    english = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Equity" in english and "9,935,023 KRW" in english and "0 entries today" in english
    assert "약 " not in english and "평가 자산" not in english


def test_system_page_names_the_alert_channels_that_are_on(client, operator, settings):
    settings.DISCORD_WEBHOOK_URL, settings.DISCORD_WEBHOOK_URLS = "", {}
    settings.TELEGRAM_BOT_TOKEN, settings.TELEGRAM_ALERT_CHAT_IDS = "123456:test-token", (111, -222)

    def card(language: str) -> str:
        page = client.get("/system/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
        return page[page.index('id="notifications"') :]

    english = card("en")
    assert "Alerts go to:" in english and "Telegram (2 chats)" in english
    assert "Alerts are off" not in english  # Telegram alone is a channel that is on
    korean = card("ko")
    assert "알림 채널:" in korean and "Telegram (채팅 2개)" in korean and "최근 24시간" in korean

    settings.TELEGRAM_ALERT_CHAT_IDS = ()
    assert "Alerts are off" in card("en")


def test_login_page_offers_the_language_menu_before_sign_in(client):
    korean = client.get("/login/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert 'id="language-menu"' in korean and "사용자 이름" in korean and "비밀번호" in korean
    english = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="language-menu"' in english and "Username" in english


def test_lock_out_page_in_korean(client):
    get_user_model().objects.create_user("trader", password="right-password-42")
    for _ in range(5):
        response = client.post(
            "/login/",
            {"username": "trader", "password": "wrong"},
            REMOTE_ADDR="198.51.100.7",
            HTTP_ACCEPT_LANGUAGE="ko",
        )
    page = response.content.decode()
    assert response.status_code == 429
    assert "로그인 실패가 너무 많습니다" in page and "15분 동안 로그인이 중지됩니다" in page


def test_ask_refusal_in_the_askers_language_also_in_the_stream(client, operator, settings):
    settings.ANTHROPIC_API_KEY = ""
    korean = client.get("/ask/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "어시스턴트가 꺼져 있습니다" in korean and "대화 지우기" in korean

    # The answer stream is read after the view returned: still in the asker's language.
    response = client.post("/ask/question", {"question": "오늘 손익은?"}, HTTP_ACCEPT_LANGUAGE="ko")
    events = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    [error] = [e for e in events if e["type"] == "error"]
    assert error["message"].startswith("어시스턴트가 꺼져 있습니다")


def test_market_coverage_note_in_both_languages():
    end = datetime(2030, 1, 10, 9, 0, tzinfo=KST)
    req = market_chart.ChartRequest("KRW-BTC", "7d", end)
    first = [(end - timedelta(days=3)).strftime("%Y-%m-%d %H:%M")]
    with translation.override("ko"):
        assert market_chart.coverage_note(req, first) == (
            "7d 중 3일치만 저장되어 있습니다: 첫 봉은 2030-01-07 09:00 KST입니다."
        )
    with translation.override("en"):
        assert market_chart.coverage_note(req, first).startswith("Only 3 days of 7d are stored")
