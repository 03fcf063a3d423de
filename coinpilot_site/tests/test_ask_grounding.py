"""The grounding check: numbers of an answer against the numbers of its tool results and question."""

import pytest

from coinpilot_site.ask.grounding import known_numbers, unverified_numbers

RESULTS = [
    {
        "rows": [
            {"id": 42, "pnl_krw": "-12345.678", "pnl_pct": -3.2149, "price": "1234567.5", "count": 3},
            {"executed_at": "2026-03-10T09:15:00+09:00", "win_rate_pct": 0.125, "cash_krw": "10234000"},
        ]
    }
]


def unverified(answer: str, question: str = "") -> list[str]:
    return [u["text"] for u in unverified_numbers(answer, known_numbers(question, *RESULTS))]


@pytest.mark.parametrize(
    "answer",
    [
        "Trade #42 lost 12,345.678 KRW (-3.21%).",  # commas, sign, percent rounded to 2 places
        "손실은 -12,346원이고 3건입니다.",  # Korean counters and won, rounded to the won
        "Price 1,234,567.5 -> about 1,234,568 KRW; 약 123만 원, 0.1억 원 in cash (1,023만 원).",  # 만 / 억
        "Sold at 2026-03-10 09:15 KST.",  # dates and times come from the KST ISO times
        "Win rate 12.5%.",  # a ratio shown as a percentage
        "1. BTC\n2. ETH",  # list markers are not figures
        "KRW-BTC, RSI14 and v3 are names, not figures.",
    ],
)
def test_numbers_found_in_the_results_are_verified(answer):
    assert unverified(answer) == []


def test_an_invented_number_is_reported_with_its_place():
    answer = "Trade #42 lost 12,345 KRW, and ETH made 7,777,777 KRW (9.9%)."
    found = unverified_numbers(answer, known_numbers(*RESULTS))
    assert [u["text"] for u in found] == ["7,777,777", "9.9%"]
    assert answer[found[0]["start"] : found[0]["end"]] == "7,777,777"


def test_a_number_from_the_question_is_verified():
    assert unverified("Over the last 14 days: 3 sells.", "How did the last 14 days go?") == []
    assert unverified("Over the last 14 days: 3 sells.") == ["14"]


def test_more_precision_than_the_data_has_is_unverified():
    assert unverified("The loss was 3.2149%.") == []
    assert unverified("The loss was 3.21495%.") == ["3.21495%"]
