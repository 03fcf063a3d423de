from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from analytics import daily_report, jobs
from analytics.daily_report import build_daily_report, day_at, fallback_summary, max_drawdown_pct, period
from tests.fakes.discord import FakeDiscord, validate_message
from tests.fakes.discord import configure as configure_discord
from tests.fakes.openai import FakeOpenAI
from tests.fakes.openai import configure as configure_openai
from trading.models import DailyRiskState

from .helpers import sell

DAY = date(2026, 11, 21)
CLOSE = datetime(2026, 11, 21, 13, 0, tzinfo=UTC)  # 22:00 KST on DAY
SECOND = timedelta(seconds=1)


def test_period_runs_from_22_00_kst_the_day_before_to_22_00_kst():
    assert period(DAY) == (datetime(2026, 11, 20, 13, 0, tzinfo=UTC), CLOSE)


def test_the_report_day_switches_at_22_00_kst():
    assert day_at(CLOSE - SECOND) == DAY
    assert day_at(CLOSE) == date(2026, 11, 22)
    assert day_at(datetime(2026, 11, 21, 15, 0, tzinfo=UTC)) == date(2026, 11, 22)  # 00:00 KST


def test_max_drawdown_is_the_largest_fall_from_a_peak_of_realized_equity():
    pnls = [Decimal(x) for x in ("10000", "-30000", "5000", "-10000")]
    # peak 1,010,000 then a trough of 975,000: 35,000 / 1,010,000
    assert max_drawdown_pct(Decimal("1000000"), pnls) == 3.47
    assert max_drawdown_pct(Decimal("1000"), [Decimal(5), Decimal(5)]) == 0.0
    assert max_drawdown_pct(Decimal(0), pnls) is None


@pytest.fixture
def day_sells(db):
    """Three SELLs inside DAY's period (one without a computable PnL) and two just outside."""
    sell(
        CLOSE - SECOND,
        entry="1000",
        price="1100",
        exit_reason="TRAILING_STOP",
        post={"1h": {"change_pct": 2.0}},
    )
    sell(CLOSE, entry="1000", price="1", exit_reason="STOP_LOSS")  # 22:00:00 KST: tomorrow's report
    start = CLOSE - timedelta(days=1)
    sell(
        start,
        entry="1000",
        price="970",
        quantity="2",
        exit_reason="STOP_LOSS",
        post={"1h": {"change_pct": -1.0}},
    )
    sell(start - SECOND, entry="1000", price="1", exit_reason="STOP_LOSS")  # yesterday's report
    sell(CLOSE - 8 * timedelta(hours=1), symbol="KRW-XRP", price="500", exit_reason="TIME_LIMIT")


def test_daily_figures_on_hand_computed_trades(day_sells):
    DailyRiskState.objects.create(date=DAY, starting_equity=Decimal("1000"))

    report = build_daily_report(DAY, CLOSE + timedelta(minutes=5))

    assert report.trade_count == 3
    assert report.total_pnl == Decimal("40")  # -60 + 100; the XRP SELL is excluded, not zero
    assert report.win_rate == 50.0
    assert report.by_exit_reason == {
        "STOP_LOSS": {"count": 1, "avg_pnl_pct": -3.0},
        "TIME_LIMIT": {"count": 1, "avg_pnl_pct": None},
        "TRAILING_STOP": {"count": 1, "avg_pnl_pct": 10.0},
    }
    assert report.avg_post_1h_pct == 0.5
    # equity at 22:00 the day before = 1000 - (-60 booked before midnight) = 1060 -> 1000 -> 1100
    assert report.max_drawdown_pct == 5.66
    assert any(n.startswith("1 SELL excluded, PnL unknown") and "KRW-XRP" in n for n in report.notes)
    assert any("post-1h change over 2 of 3" in note for note in report.notes)


def test_drawdown_falls_back_to_the_previous_days_risk_row_and_else_is_a_note(day_sells):
    DailyRiskState.objects.create(date=DAY - timedelta(days=1), starting_equity=Decimal(1200), total_pnl=-160)
    # equity at 22:00 = 1200 + (-160) - (-60 realized after 22:00) = 1100 -> 1040 -> 1140
    assert build_daily_report(DAY, CLOSE).max_drawdown_pct == 5.45

    DailyRiskState.objects.all().delete()
    report = build_daily_report(DAY, CLOSE)
    assert report.max_drawdown_pct is None
    assert any("starting equity unknown" in note for note in report.notes)


@pytest.mark.django_db
def test_a_day_without_sells_says_so_instead_of_zeros():
    report = build_daily_report(DAY, CLOSE)
    assert (report.trade_count, report.total_pnl, report.win_rate, report.avg_post_1h_pct) == (
        0,
        0,
        None,
        None,
    )
    assert report.notes == ["no SELLs in the period: win rate and drawdown not applicable"]
    assert fallback_summary(report).count("\n") == 2


@pytest.fixture
def discord(settings):
    with FakeDiscord() as server:
        configure_discord(settings, server)
        yield server


@pytest.fixture
def openai_server(settings):
    with FakeOpenAI() as server:
        configure_openai(settings, server)
        yield server


@pytest.mark.parametrize("failure", ["quota", "500", "malformed", "hang"])
def test_openai_failure_falls_back_to_a_plain_summary_and_the_report_is_still_sent(
    failure, day_sells, openai_server, discord, run_jobs, settings, django_capture_on_commit_callbacks
):
    settings.OPENAI_TIMEOUT_SECONDS = 0.5
    openai_server.script(failure)

    with django_capture_on_commit_callbacks(execute=True), time_machine.travel(CLOSE + timedelta(seconds=5)):
        result = jobs.daily_report(slot=CLOSE)
    run_jobs("notifications")

    assert "summary fallback" in result
    assert len(openai_server.requests) == 1  # insufficient_quota is not retried
    [embed] = discord.embeds
    assert embed["title"] == "Daily report · 2026-11-21 (KST)"
    assert embed["description"].startswith("3 SELLs, realized +40 KRW, win rate 50.00%.")
    fields = {field["name"]: field["value"] for field in embed["fields"]}
    assert fields["Realized PnL"] == "+40 KRW"
    assert "plain fallback" in fields["Notes"]
    assert validate_message({"embeds": [embed]}) == []


def test_the_openai_summary_is_used_when_the_call_works(
    day_sells, openai_server, discord, run_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), time_machine.travel(CLOSE + timedelta(seconds=5)):
        result = jobs.daily_report(slot=CLOSE)
    run_jobs("notifications")

    assert "summary openai" in result
    [request] = openai_server.requests
    assert request.path == "/v1/responses" and "Realized PnL: +40 KRW" in request.body["input"]
    assert discord.embeds[0]["description"] == openai_server.text


def test_no_openai_key_sends_the_fallback_without_any_request(
    day_sells, settings, discord, run_jobs, django_capture_on_commit_callbacks
):
    settings.OPENAI_API_KEY = ""
    with django_capture_on_commit_callbacks(execute=True):
        report = daily_report.send_daily_report(DAY, CLOSE)
    run_jobs("notifications")
    assert report.summary_source == "fallback"
    assert len(discord.embeds) == 1
