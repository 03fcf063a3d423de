"""Command options and the Backtest page refuse out-of-bounds values in the operator's words and
store nothing; `reconcile` fails on a mismatch; `killswitch status` says who, when and why."""

import os
from io import StringIO

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from conftest import TEST_DATA
from trading.control import set_kill_switch
from trading.models import RiskAudit, Trade

from .live_helpers import D, buy_order, exchange_fixture, executor_fixture  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db
CSV = f"csv:{TEST_DATA / 'upbit_krw_btc_1m_20180125.csv'}"


def refusal(*args: str) -> str:
    with pytest.raises(CommandError) as refused:
        call_command(*args, stdout=StringIO())
    return str(refused.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--initial-krw", "0"],
            "argument --initial-krw: must be a number from 5,000 to 100,000,000,000 KRW",
        ),
        (["--initial-krw", "-5"], "argument --initial-krw: must be a number from 5,000"),
        (["--initial-krw", "NaN"], "argument --initial-krw: must be a number from 5,000"),
        (["--slippage-bps", "-1"], "argument --slippage-bps: must be a number from 0 to 1,000 bps, not '-1'"),
        (["--slippage-bps", "5%"], "argument --slippage-bps: must be a number from 0 to 1,000 bps, not '5%'"),
        (["--from", "0001-01-01"], "argument --from: '0001-01-01' is outside 2017-01-01 .. 2099-12-31"),
        (["--to", "2026-13-01"], "argument --to: '2026-13-01' is not a date or time"),
        (["--config", "0"], "argument --config: must be a whole number from 1"),
        (["--html", "/nonexistent-folder/report.html"], "folder '/nonexistent-folder' does not exist"),
    ],
)
def test_backtest_options_out_of_bounds_are_refused(options, message):
    assert message in refusal("backtest", "--symbol", "KRW-BTC", "--source", CSV, *options)


def test_backtest_refuses_an_unwritable_html_path_before_running(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.access(locked, os.W_OK):
        pytest.skip("running as a user who may write anywhere (root)")
    text = refusal("backtest", "--symbol", "KRW-BTC", "--source", CSV, "--html", str(locked / "r.html"))
    assert "permission denied" in text and not (locked / "r.html").exists()


def test_backtest_refuses_a_folder_as_html_path(tmp_path):
    assert "is a folder" in refusal(
        "backtest", "--symbol", "KRW-BTC", "--source", CSV, "--html", str(tmp_path)
    )


def test_backtest_refuses_an_end_before_the_start():
    text = refusal(
        "backtest", "--symbol", "KRW-BTC", "--source", "sim", "--from", "2026-02-01", "--to", "2026-01-01"
    )
    assert text == "--to must be after --from"


@pytest.mark.parametrize("days", ["-1", "0", "100000000", "inf"])
def test_replay_history_days_out_of_bounds_are_refused_and_nothing_is_booked(days):
    assert "argument --days: must be a number above 0 and at most 30 days" in refusal(
        "replay_history", "--days", days
    )
    assert not Trade.objects.exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["weekly", "--days", "-3"], "argument --days: must be a whole number from 1 to 365 days, not '-3'"),
        (["weekly", "--days", "100000"], "argument --days: must be a whole number from 1 to 365 days"),
        (["track", "--days", "0"], "argument --days: must be a whole number from 1 to 365 days"),
        (["daily", "--date", "0001-01-01"], "argument --date: '0001-01-01' is outside 2017-01-01"),
    ],
)
def test_report_options_out_of_bounds_are_refused(options, message):
    assert message in refusal("report", *options)


@time_machine.travel("2026-11-20T12:34:00+09:00", tick=False)
def test_killswitch_status_says_who_when_and_why(capsys):
    user = get_user_model().objects.create_user("kim", password="pw-123456789")
    set_kill_switch(True, reason="exchange maintenance", user=user)
    call_command("killswitch", "status")
    assert capsys.readouterr().out.strip() == (
        "kill switch ON, set by kim at 2026-11-20 12:34 KST: exchange maintenance"
    )
    call_command("killswitch", "off")
    call_command("killswitch", "status")
    assert (
        "kill switch off, set by a command or the system at 2026-11-20 12:34 KST" in capsys.readouterr().out
    )


def test_reconcile_exits_non_zero_on_a_mismatch(exchange, executor, settings):
    settings.COINPILOT_LIVE_TRADING = True
    executor.buy(buy_order())
    exchange.balances["BTC"] -= D("0.0005")  # someone sold on the website
    out = StringIO()
    with pytest.raises(CommandError, match="the books do not match Upbit") as refused:
        call_command("reconcile", stdout=out)
    assert "KRW-BTC: ours 0.0009995, Upbit 0.0004995" in str(refused.value)
    assert "MISMATCH" in out.getvalue()
    assert RiskAudit.objects.filter(violation_type="RECONCILE_MISMATCH").count() == 1


def test_reconcile_exits_zero_when_the_books_match(exchange, executor, settings):
    settings.COINPILOT_LIVE_TRADING = True
    out = StringIO()
    call_command("reconcile", stdout=out)
    assert "books match Upbit" in out.getvalue()


@pytest.fixture
def operator(client):
    client.force_login(get_user_model().objects.create_user("op", password="pw-123456789"))


@pytest.mark.parametrize(
    "form",
    [
        {"symbol": "KRW-BTC", "from": "0001-01-01", "to": "0001-01-05"},
        {"symbol": "KRW-BTC", "from": "9999-12-01", "to": "9999-12-31"},
        {"symbol": "KRW-BTC", "from": "2026-01-01", "to": "10000-01-01"},
    ],
)
def test_the_backtest_page_refuses_a_range_outside_upbits_history(client, operator, form, redis_conn):
    response = client.post("/backtest/", form)
    assert response.status_code == 400
    assert (
        "must be a date (YYYY-MM-DD) between 2017-01-01 and 2099-12-31"
        in response.content.decode().replace("&#x27;", "'")
    )
    assert redis_conn.llen("backtest:runs") == 0  # no job queued
