"""Reconciliation: unbooked live orders are booked exactly once or failed; a balance mismatch
alerts, is remembered in the database and refuses entries (exits go on) until an operator acts."""

from contextlib import closing

import django_rq
import pandas as pd
import pytest

from conftest import TEST_DATA
from trading import booking, cycle
from trading.executors.live import LiveExecutor
from trading.models import Account, Position, RiskAudit, Trade, TradingControl
from trading.reconcile import before_cycle, reconcile, resume
from trading.strategy import Signal

from .live_helpers import (  # noqa: F401 (fixtures)
    INITIAL_KRW,
    PRICE,
    D,
    assert_books_match_exchange,
    assert_live_books_balance,
    buy_order,
    exchange_fixture,
    executor_fixture,
    make_client,
    sell_order,
)
from .test_cycle import StubMarket, buy_signal, now_after, trade_symbols

pytestmark = pytest.mark.django_db
COID = "KRW-BTC-20300106T0300-BUY"


class Crash(BaseException):
    """The process dies: nothing after this point runs."""


def crash_after_sending(monkeypatch, exchange) -> None:
    """The process dies right after Upbit accepted the order; the market order fills meanwhile."""

    def die(self, placed):
        exchange.polls_before_final = 0
        raise Crash(placed.uuid)

    monkeypatch.setattr(LiveExecutor, "_wait", die)


def system_alerts() -> list:
    return [job.args[1] for job in django_rq.get_queue("notifications").jobs if job.args[0] == "system"]


def test_a_crash_between_sending_and_booking_is_booked_exactly_once(exchange, executor, monkeypatch):
    crash_after_sending(monkeypatch, exchange)
    with pytest.raises(Crash):
        executor.buy(buy_order())
    assert Trade.objects.get().status == "PENDING" and not Position.objects.exists()
    report = reconcile(executor.client, grace=0)
    assert report.booked == [COID] and report.hold == "" and not report.mismatches
    trade = Trade.objects.get()
    assert trade.status == "FILLED" and trade.quantity == Position.objects.get().quantity == D("0.0009995")
    again = reconcile(executor.client, grace=0)
    assert again.booked == [] and Trade.objects.count() == 1
    assert len(exchange.placed()) == 1
    assert_books_match_exchange(exchange)
    assert_live_books_balance()


def test_a_crashed_sell_is_booked_by_reconciliation(exchange, executor, monkeypatch):
    executor.buy(buy_order())
    crash_after_sending(monkeypatch, exchange)
    with pytest.raises(Crash):
        executor.sell(sell_order())
    report = reconcile(executor.client, grace=0)
    assert report.booked == ["KRW-BTC-20300106T0400-SELL"] and not Position.objects.exists()
    assert Trade.objects.get(side="SELL").exit_reason == "TAKE_PROFIT"
    assert_books_match_exchange(exchange)
    assert_live_books_balance()


def test_the_retried_cycle_after_a_crash_books_it_without_sending_again(exchange, executor, monkeypatch):
    with monkeypatch.context() as patch:
        crash_after_sending(patch, exchange)
        with pytest.raises(Crash):
            executor.buy(buy_order())
    trade = executor.buy(buy_order())  # the same cycle slot once more
    assert trade.status == "FILLED" and len(exchange.placed()) == 1


def test_a_sent_order_that_executed_nothing_is_marked_failed(exchange, executor, monkeypatch):
    exchange.fill_mode = "nothing"
    crash_after_sending(monkeypatch, exchange)
    with pytest.raises(Crash):
        executor.buy(buy_order())
    assert reconcile(executor.client, grace=0).failed == [COID]
    assert Trade.objects.get().status == "FAILED" and not Position.objects.exists()
    assert Account.objects.get(name="live").balance == INITIAL_KRW


def test_an_order_upbit_never_received_fails_only_after_the_grace(exchange, executor):
    booking.record_pending(symbol="KRW-BTC", side="BUY", client_order_id=COID, price=PRICE, mode="live")
    young = reconcile(executor.client, grace=3600)
    assert young.waiting == [COID] and "not settled" in young.hold  # entries wait this cycle
    assert Trade.objects.get().status == "PENDING"
    old = reconcile(executor.client, grace=0)
    assert old.failed == [COID] and old.hold == ""
    assert Trade.objects.get().signal_info["failure"] == "Upbit never received this order"


def test_the_first_run_adopts_upbits_cash_for_a_live_account_that_never_traded(exchange):
    with closing(make_client(exchange)) as client:
        report = reconcile(client)
    assert Account.objects.get(name="live").balance == INITIAL_KRW and report.hold == ""
    assert RiskAudit.objects.filter(violation_type="LIVE_ACCOUNT_SEEDED").exists()


def test_a_balance_mismatch_alerts_once_and_holds_until_resumed(
    exchange, executor, django_capture_on_commit_callbacks
):
    executor.buy(buy_order())
    exchange.balances["BTC"] -= D("0.0005")  # someone sold on the website
    with django_capture_on_commit_callbacks(execute=True):
        first = reconcile(executor.client)
        second = reconcile(executor.client)
    assert first.mismatches == ["KRW-BTC: ours 0.0009995, Upbit 0.0004995"]
    assert first.hold == second.hold == TradingControl.current().reconcile_mismatch != ""
    [alert] = system_alerts()
    assert "new entries stopped" in alert["title"] and "KRW-BTC" in alert["detail"]
    assert RiskAudit.objects.filter(violation_type="RECONCILE_MISMATCH").count() == 1
    exchange.balances["BTC"] += D("0.0005")  # the operator fixed it
    resume()
    assert reconcile(executor.client).hold == "" and TradingControl.current().reconcile_mismatch == ""


def test_cash_differing_beyond_the_tolerance_is_a_mismatch(exchange, executor):
    exchange.balances["KRW"] += D("2")
    assert reconcile(executor.client, tolerance=D("1")).mismatches[0].startswith("KRW cash")
    resume()
    assert reconcile(executor.client, tolerance=D("5")).hold == ""


def test_upbit_unreachable_refuses_entries_for_this_cycle(exchange, executor):
    exchange.inject["GET /v1/accounts"] = [500] * 10
    assert before_cycle(executor).startswith("reconciliation could not run")


# --- through the bot cycle -------------------------------------------------------------------


@pytest.fixture(scope="module")
def btc() -> pd.DataFrame:
    frame = pd.read_csv(TEST_DATA / "upbit_krw_btc_1m_20180125.csv", parse_dates=["timestamp"])
    return frame.set_index("timestamp").tail(1200)


def run_live(frame: pd.DataFrame, executor: LiveExecutor):
    now = now_after(frame)
    market = StubMarket({"KRW-BTC": frame}, "BULL").market()
    return cycle.run_cycle(now=now, slot=now.replace(second=0), market=market, executor=executor)


def test_the_live_cycle_refuses_entries_while_the_books_differ(btc, exchange, executor, monkeypatch):
    trade_symbols("KRW-BTC")
    monkeypatch.setattr(cycle, "entry_signal", buy_signal)
    exchange.balances["KRW"] -= D("10000")
    [result] = run_live(btc.iloc[:-1], executor)
    assert (result.action, result.reason) == ("BLOCKED", "RECONCILE_HOLD")
    assert exchange.placed() == [] and not Trade.objects.exists()
    exchange.balances["KRW"] += D("10000")
    resume()  # the operator acts
    [result] = run_live(btc, executor)
    assert result.action == "BUY" and Trade.objects.get().status == "FILLED"


def test_the_live_cycle_still_exits_while_entries_are_held(btc, exchange, executor, monkeypatch):
    trade_symbols("KRW-BTC")
    monkeypatch.setattr(cycle, "entry_signal", buy_signal)
    [entry] = run_live(btc.iloc[:-1], executor)
    assert entry.action == "BUY" and Position.objects.exists()
    exchange.balances["KRW"] -= D("10000")  # a withdrawal nobody told us about
    exit_signal = Signal("SELL", "STOP_LOSS", "stop", {"close": 11_000_000.0}, "STOP_LOSS", 12_000_000.0)
    monkeypatch.setattr(cycle, "exit_signal", lambda *a, **k: exit_signal)
    [result] = run_live(btc, executor)
    assert result.action == "SELL" and not Position.objects.exists()
    assert TradingControl.current().reconcile_mismatch.startswith("KRW cash")


# --- a real child process ----------------------------------------------------------------------


@pytest.mark.real_services
@pytest.mark.django_db(transaction=True)
def test_manage_py_reconcile_books_an_order_left_by_a_crashed_process(
    exchange, executor, monkeypatch, spawn, subprocess_env, tmp_path
):
    crash_after_sending(monkeypatch, exchange)
    with pytest.raises(Crash):
        executor.buy(buy_order())
    env = subprocess_env | {
        "COINPILOT_LIVE_TRADING": "1",
        "UPBIT_ACCESS_KEY": exchange.access_key,
        "UPBIT_SECRET_KEY": exchange.secret_key,
        "UPBIT_BASE_URL": exchange.url,
        "COINPILOT_RECONCILE_GRACE_SECONDS": "0",
    }
    child = spawn("reconcile", env=env)
    assert child.wait(timeout=60) == 0, (tmp_path / "reconcile-0.log").read_text()
    output = (tmp_path / "reconcile-0.log").read_text()
    assert f"booked {COID}" in output and "books match Upbit" in output
    assert Trade.objects.get().status == "FILLED" and Position.objects.get().quantity == D("0.0009995")
    assert_books_match_exchange(exchange)
