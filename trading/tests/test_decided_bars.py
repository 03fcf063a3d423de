"""One decision per symbol per bar, on the bar that just closed: claimed in the database, waited for."""

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from conftest import store_minutes
from core.models import JobRun
from market.candles import CandleRow, floor_minute, store_candles
from trading import cycle
from trading.decided import DatabaseLedger, MemoryLedger
from trading.executors.paper import PaperExecutor
from trading.markets import await_bars, live_market
from trading.models import SymbolState, Trade
from trading.strategy import Signal
from trading.tests.test_cycle import buy_signal, run, trade_symbols

pytestmark = pytest.mark.django_db


def sell_signal(*args, **kwargs) -> Signal:
    return Signal("SELL", "STOP_LOSS", "STOP_LOSS", {"close": 11_000_000.0}, "STOP_LOSS", 12_000_000.0)


@pytest.fixture
def btc():
    import pandas as pd

    from trading.tests.test_cycle import CSV

    return pd.read_csv(CSV, parse_dates=["timestamp"]).set_index("timestamp").tail(1200)


def test_a_symbol_never_sells_and_buys_on_the_same_bar(btc, monkeypatch):
    trade_symbols("KRW-BTC")
    monkeypatch.setattr(cycle, "entry_signal", buy_signal)
    run(btc.iloc[:-1])  # the position
    monkeypatch.setattr(cycle, "exit_signal", sell_signal)
    [sold] = run(btc)
    # a second run on the same bar (another slot, another scheduler, Redis flushed: all the same)
    [again] = run(btc, slot=cycle.expected_bar(sold_now(btc)) + timedelta(minutes=3))

    assert (sold.action, again.action, again.reason) == ("SELL", "WAITING", "NO_NEW_BAR")
    assert list(Trade.objects.order_by("created_at").values_list("side", flat=True)) == ["BUY", "SELL"]
    assert SymbolState.objects.get(symbol="KRW-BTC").last_decided_bar == btc.index[-1]


def sold_now(frame):
    return frame.index[-1].to_pydatetime() + timedelta(seconds=65)


def test_the_database_ledger_claims_each_bar_once_and_only_newer_bars():
    bar = floor_minute(timezone.now())
    ledger = DatabaseLedger()

    assert ledger.claim({"KRW-BTC": bar, "KRW-ETH": bar}) == {"KRW-BTC", "KRW-ETH"}
    assert DatabaseLedger().claim({"KRW-BTC": bar, "KRW-XRP": bar}) == {"KRW-XRP"}
    assert ledger.claim({"KRW-BTC": bar - timedelta(minutes=1)}) == set()  # never an older bar
    assert ledger.claim({"KRW-BTC": bar + timedelta(minutes=1)}) == {"KRW-BTC"}
    assert ledger.claim({}) == set()


def test_the_memory_ledger_of_a_replay_behaves_the_same():
    bar = floor_minute(timezone.now())
    ledger = MemoryLedger()
    assert ledger.claim({"KRW-BTC": bar}) == {"KRW-BTC"}
    assert ledger.claim({"KRW-BTC": bar}) == set()


def live_cycle(now):
    return cycle.run_cycle(
        now=now,
        slot=now.replace(second=20),
        market=live_market(),
        executor=PaperExecutor(slippage_bps=Decimal(5)),
    )


def test_no_entry_on_an_older_bar_when_the_collector_is_behind(monkeypatch, settings):
    settings.BOT_CYCLE_BAR_WAIT_SECONDS = 0.3
    trade_symbols("KRW-BTC")
    monkeypatch.setattr(cycle, "entry_signal", buy_signal)
    now = floor_minute(timezone.now()) + timedelta(seconds=20)
    store_minutes("KRW-BTC", 300, end=floor_minute(now) - timedelta(minutes=1))  # newest: 2 min old

    started = time.monotonic()
    [result] = live_cycle(now)

    assert (result.action, result.reason) == ("WAITING", "NO_NEW_BAR")
    assert "is not stored yet" in result.detail
    assert time.monotonic() - started >= 0.3  # it waited for the collector first
    assert not Trade.objects.exists()
    assert not SymbolState.objects.filter(last_decided_bar__isnull=False).exists()


def test_the_wait_ends_when_the_collectors_run_for_that_minute_has_ended():
    now = floor_minute(timezone.now()) + timedelta(seconds=20)
    expected = cycle.expected_bar(now)
    store_minutes("KRW-BTC", 100, end=expected)  # the expected bar never came (no trades that minute)
    run = JobRun.start("collect_candles", floor_minute(now) + timedelta(seconds=3))
    run.finish("success", 1.0)

    started = time.monotonic()
    await_bars(["KRW-BTC"], expected, deadline=time.monotonic() + 30)
    assert time.monotonic() - started < 5


def test_a_feed_that_stopped_is_not_waited_for():
    """Its held positions' stops are due now (on the ticker), and no bar is coming in seconds."""
    now = floor_minute(timezone.now()) + timedelta(seconds=20)
    store_minutes("KRW-BTC", 100, end=cycle.expected_bar(now) - timedelta(minutes=10))

    started = time.monotonic()
    await_bars(["KRW-BTC", "KRW-NEW"], cycle.expected_bar(now), deadline=time.monotonic() + 30)
    assert time.monotonic() - started < 5


@pytest.mark.real_services
@pytest.mark.django_db(transaction=True)
def test_the_cycle_decides_on_the_bar_the_collector_stores_while_it_waits(monkeypatch, settings):
    settings.BOT_CYCLE_BAR_WAIT_SECONDS = 20
    trade_symbols("KRW-BTC")
    monkeypatch.setattr(cycle, "entry_signal", buy_signal)
    now = floor_minute(timezone.now()) + timedelta(seconds=20)
    expected = cycle.expected_bar(now)
    frame = store_minutes("KRW-BTC", 300, end=expected)
    close = Decimal(f"{frame['close'].iloc[-1]:.2f}")

    def collector() -> None:  # stores the bar that just closed 1.5 s into the cycle's wait
        time.sleep(1.5)
        store_candles([CandleRow("KRW-BTC", "1m", expected, close, close, close, close, Decimal(1), None)])
        connection.close()

    thread = threading.Thread(target=collector)
    thread.start()
    [result] = live_cycle(now)
    thread.join()

    assert result.action == "BUY"
    assert SymbolState.objects.get(symbol="KRW-BTC").last_decided_bar == expected


def test_a_position_in_a_symbol_removed_from_the_strategy_keeps_its_exits(btc, monkeypatch):
    trade_symbols("KRW-BTC")
    monkeypatch.setattr(cycle, "entry_signal", buy_signal)
    run(btc.iloc[:-1])  # the position
    trade_symbols("KRW-ETH")  # the operator drops KRW-BTC from the strategy while it is held
    monkeypatch.setattr(cycle, "exit_signal", sell_signal)

    results = {r.symbol: r for r in run(btc)}

    assert results["KRW-BTC"].action == "SELL"
    assert Trade.objects.filter(side="SELL", symbol="KRW-BTC").exists()
    again = {r.symbol for r in run(btc, slot=cycle.expected_bar(sold_now(btc)) + timedelta(minutes=3))}
    assert again == {"KRW-ETH"}  # sold: no longer visited, never bought again
