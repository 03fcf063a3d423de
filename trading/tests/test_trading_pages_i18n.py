"""The Risk, History and Backtest pages in Korean and in English: translated words, and every figure
through core.formatting (issue #21: the pages printed 9965162 and 1993032.37)."""

import csv
import io
import re
from datetime import date

import pytest
from django.contrib.auth import get_user_model
from django.utils import translation

from trading import backtest_gate, glossary
from trading.models import DailyRiskState, Trade
from trading.tests.test_backtest_gate import GOOD  # thresholds every check passes

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    client.force_login(get_user_model().objects.create_user("operator", password="pw-123456789"))


@pytest.fixture
def books():
    """A KST day with the issue's figures, and a scale-out sale of them."""
    DailyRiskState.objects.create(
        date=date(2030, 1, 6), starting_equity="9965162", total_pnl="-1993032.37", trade_count=3
    )
    Trade.objects.create(
        symbol="KRW-BTC", side="SELL", price="101234567", quantity="0.00499750", fee="252.95",
        status="FILLED", client_order_id="s1", exit_reason="PARTIAL_TAKE_PROFIT",
        signal_info={"pnl": "1993032.37", "pnl_pct": 1.234, "partial_levels_done": 2},
    )  # fmt: skip


def text_of(response) -> str:
    """The page's main content as text (tags dropped, spaces folded)."""
    main = response.content.decode().split("<main", 1)[-1]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main))


@pytest.mark.parametrize(
    ("language", "words", "figures"),
    [
        ("ko", ["최근 일자", "시작 평가 자산", "리스크 감사 로그"], ["9,965,162원", "-1,993,032원"]),
        ("en", ["Recent days", "Starting equity", "Risk audit log"], ["9,965,162 KRW", "-1,993,032 KRW"]),
    ],
)
def test_the_risk_page_reads_in_either_language_with_formatted_figures(
    client, operator, books, language, words, figures
):
    page = text_of(client.get("/risk/", HTTP_ACCEPT_LANGUAGE=language))
    for expected in words + figures:
        assert expected in page, expected
    assert "9965162" not in page and "1993032.37" not in page


@pytest.mark.parametrize(
    ("language", "words", "figures"),
    [
        ("ko", ["거래 내역", "분할 익절 (2단계)", "전체"],
         ["101,234,567", "0.0049975", "+1,993,032원", "+1.23%", "253원"]),
        ("en", ["Trade history", "Partial take profit (level 2)", "all"],
         ["101,234,567", "0.0049975", "+1,993,032 KRW", "+1.23%", "253 KRW"]),
    ],
)  # fmt: skip
def test_the_history_page_reads_in_either_language_with_formatted_figures(
    client, operator, books, language, words, figures
):
    page = text_of(client.get("/history/", HTTP_ACCEPT_LANGUAGE=language))
    for expected in words + figures:
        assert expected in page, expected
    assert "1993032.37" not in page and "0.00499750" not in page


def test_the_csv_export_stays_machine_readable_in_korean(client, operator, books):
    response = client.get("/history.csv", HTTP_ACCEPT_LANGUAGE="ko")
    (row,) = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    assert (row["price"], row["quantity"], row["pnl_krw"]) == (
        "101234567.00000000",
        "0.00499750",
        "1993032.37",
    )


@pytest.mark.parametrize(
    ("language", "messages"),
    [
        ("ko", ["KRW-BTC 같은 원화 마켓 종목이 아닙니다", "'시작일'은", "전략 버전은 숫자여야 합니다"]),
        (
            "en",
            [
                "not a KRW market like KRW-BTC",
                "'from' must be a date",
                "the strategy version must be a number",
            ],
        ),
    ],
)
def test_every_backtest_form_error_is_shown_at_once_and_translated(client, operator, language, messages):
    form = {"symbol": "BTC", "from": "soon", "to": "2030-01-02", "config": "x"}
    response = client.post("/backtest/", form, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 400
    page = response.content.decode().replace("&#x27;", "'")
    assert page.count('class="error"') == 3
    for message in messages:
        assert message in page, message


def test_the_glossary_and_the_gate_follow_the_active_language():
    with translation.override("ko"):
        assert glossary.exit_label("PARTIAL_TAKE_PROFIT", 1) == "분할 익절 (1단계)"
        assert "쿨다운" in glossary.RISK_EVENTS["COOLDOWN"]
        korean = [*glossary.EXIT_REASONS.values(), *glossary.RISK_EVENTS.values()]
        (miss,) = backtest_gate.misses({**GOOD, "sharpe": 0.5}, backtest_gate.DEFAULT_THRESHOLDS)
        assert miss == "샤프 지수 0.50 < 0.80"
    assert [text for text in korean if re.search(r"\d", text)] == []  # no digits in Korean either
    assert all(isinstance(text, str) for text in korean)  # plain text, JSON-ready
    assert glossary.exit_label("PARTIAL_TAKE_PROFIT", 1) == "Partial take profit (level 1)"
    assert "consecutive losing trades" in glossary.RISK_EVENTS["COOLDOWN"]


def test_a_stored_english_refusal_reads_by_its_type_in_korean(client, operator):
    """RiskAudit descriptions are stored once, in English: a Korean reader gets the type's meaning
    first, with the stored text beneath it; an English reader gets the stored text."""
    from trading.models import RiskAudit

    RiskAudit.objects.create(
        violation_type="DAILY_TRADE_LIMIT", symbol="KRW-BTC", description="10 entries today, the limit is 10"
    )
    with translation.override("ko"):
        meaning = glossary.RISK_EVENTS["DAILY_TRADE_LIMIT"]
    korean = client.get("/risk/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert meaning in korean and 'stored-description">10 entries today, the limit is 10<' in korean
    english = client.get("/risk/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<td>10 entries today, the limit is 10</td>" in english
