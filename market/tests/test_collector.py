from datetime import datetime, timedelta

import pytest
import time_machine

from market.candles import store_candles, validate_candles
from market.collector import collect
from market.jobs import CollectFailed, collect_candles
from market.models import Candle
from market.sources.simulated import SimulatedSource
from market.sources.upbit import UpbitSource
from market.symbols import active_symbols

from .conftest import T0, raw_minutes

NOW = T0 + timedelta(hours=6, seconds=3)  # the collector runs 3 s after the minute


def stored(symbol: str) -> list[datetime]:
    return list(
        Candle.objects.filter(symbol=symbol).order_by("timestamp").values_list("timestamp", flat=True)
    )


@pytest.mark.django_db
def test_steady_state_stores_the_bar_that_just_closed_not_the_forming_one(fake_upbit, upbit_client):
    fake_upbit.add_minutes("KRW-BTC", T0, NOW + timedelta(minutes=1))  # includes the forming bar
    store_candles(
        validate_candles(raw_minutes(NOW - timedelta(minutes=5, seconds=3), 3), symbol="KRW-BTC", now=NOW)
    )
    result = collect(UpbitSource(upbit_client), ["KRW-BTC"], now=NOW)
    times = stored("KRW-BTC")
    assert times[-1] == NOW - timedelta(minutes=1, seconds=3)  # 05:59, closed at 06:00
    assert result.stored == 2 and result.requests == 1
    assert fake_upbit.requests[-1].params["count"] == "2"


@pytest.mark.django_db
def test_gap_after_downtime_is_filled_200_per_page_oldest_first(fake_upbit, upbit_client):
    fake_upbit.add_minutes("KRW-BTC", T0, NOW, skip_every=50)
    store_candles(validate_candles(raw_minutes(T0, 1), symbol="KRW-BTC", now=NOW))
    result = collect(UpbitSource(upbit_client), ["KRW-BTC"], now=NOW)
    assert result.requests == 2  # 359 minutes: 200 + 159
    assert [r.params["count"] for r in fake_upbit.requests] == ["200", "159"]
    assert [r.params["to"] for r in fake_upbit.requests] == ["2026-03-02T03:21:00Z", "2026-03-02T06:00:00Z"]
    expected = [
        datetime.fromisoformat(c["candle_date_time_utc"] + "+00:00") for c in fake_upbit.candles["KRW-BTC"]
    ]
    assert stored("KRW-BTC") == [ts for ts in expected if ts + timedelta(minutes=1) <= NOW]  # 06:00 forming


@pytest.mark.django_db
def test_capped_gap_fill_leaves_no_hole_and_the_next_run_continues(fake_upbit, upbit_client):
    fake_upbit.add_minutes("KRW-BTC", T0, NOW)
    store_candles(validate_candles(raw_minutes(T0, 1), symbol="KRW-BTC", now=NOW))
    collect(UpbitSource(upbit_client), ["KRW-BTC"], now=NOW, max_pages=1)
    assert stored("KRW-BTC")[-1] == T0 + timedelta(minutes=200)
    collect(UpbitSource(upbit_client), ["KRW-BTC"], now=NOW, max_pages=1)
    assert len(stored("KRW-BTC")) == 360


@pytest.mark.django_db
def test_time_budget_ends_a_long_catch_up_cleanly(fake_upbit, upbit_client):
    fake_upbit.add_minutes("KRW-BTC", T0, NOW)
    store_candles(validate_candles(raw_minutes(T0, 1), symbol="KRW-BTC", now=NOW))
    result = collect(UpbitSource(upbit_client), ["KRW-BTC"], now=NOW, budget=0)
    assert result.requests == 1 and not result.errors
    assert stored("KRW-BTC")[-1] == T0 + timedelta(minutes=200)


@pytest.mark.django_db
def test_one_bad_symbol_does_not_stop_the_others(fake_upbit, upbit_client):
    fake_upbit.add_minutes("KRW-BTC", T0, NOW)
    fake_upbit.add_minutes("KRW-ETH", T0, NOW)
    result = collect(UpbitSource(upbit_client), ["KRW-BTC", "KRW-NOPE", "KRW-ETH"], now=NOW, threads=1)
    assert set(result.errors) == {"KRW-NOPE"} and "Code not found" in result.errors["KRW-NOPE"]
    assert len(stored("KRW-BTC")) == len(stored("KRW-ETH")) == 200  # first start: one page
    assert "1 failed" in result.summary()


@pytest.mark.django_db
def test_ban_stops_the_run_without_failing_it(fake_upbit, upbit_client, monkeypatch):
    monkeypatch.setattr("market.upbit.notify", lambda *args: None)
    fake_upbit.add_minutes("KRW-BTC", T0, NOW)
    fake_upbit.ban(60)
    result = collect(UpbitSource(upbit_client), ["KRW-BTC"], now=NOW)
    assert result.banned and not result.errors and "stopped" in result.summary()


@pytest.mark.django_db
def test_db_work_does_not_grow_with_the_number_of_symbols(django_assert_max_num_queries):
    symbols = [f"KRW-C{i:03d}" for i in range(100)]
    # A constant handful: stored sources, last timestamps, one bulk insert (per-symbol source locks
    # and check, savepoint, staging table on PostgreSQL), then one rollup upsert (1h) for all
    # symbols at once.
    with django_assert_max_num_queries(11):
        result = collect(SimulatedSource(1), symbols, now=NOW)
    assert result.stored >= 100 * 195 and not result.errors


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_collect_candles_job_with_the_sim_source(settings):
    settings.COINPILOT_MARKET_SOURCE = "sim"
    settings.COINPILOT_SYMBOLS_PROVIDER = "no.such.provider"
    summary = collect_candles(slot=NOW)
    assert summary.startswith(f"{5 * 200 - 10}") or "for 5 symbols" in summary
    assert set(Candle.objects.values_list("symbol", flat=True)) == set(settings.COINPILOT_DEFAULT_SYMBOLS)
    assert "0 new bars" in collect_candles(slot=NOW)  # same minute: nothing new


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_job_fails_when_every_symbol_fails(settings, fake_upbit):
    settings.COINPILOT_MARKET_SOURCE = "upbit"
    settings.UPBIT_BASE_URL = fake_upbit.url
    settings.COINPILOT_SYMBOLS_PROVIDER = ""
    settings.COINPILOT_DEFAULT_SYMBOLS = ["KRW-NOPE"]
    with pytest.raises(CollectFailed, match="Code not found"):
        collect_candles(slot=NOW)


def test_symbols_come_from_the_provider_with_a_fallback(settings):
    settings.COINPILOT_DEFAULT_SYMBOLS = ["KRW-BTC"]
    settings.COINPILOT_SYMBOLS_PROVIDER = "market.tests.test_collector.provider_two"
    assert active_symbols() == ["KRW-SOL", "KRW-XRP"]
    settings.COINPILOT_SYMBOLS_PROVIDER = "market.tests.test_collector.provider_empty"
    assert active_symbols() == ["KRW-BTC"]
    settings.COINPILOT_SYMBOLS_PROVIDER = "market.tests.test_collector.provider_broken"
    assert active_symbols() == ["KRW-BTC"]
    settings.COINPILOT_SYMBOLS_PROVIDER = "trading.nowhere.active_symbols"
    assert active_symbols() == ["KRW-BTC"]


def provider_two():
    return ["krw-sol", "KRW-XRP", "KRW-SOL"]


def provider_empty():
    return []


def provider_broken():
    raise RuntimeError("config table missing")


@pytest.mark.django_db
def test_scheduled_run_through_the_job_wrapper(settings):
    from django.utils import timezone

    from core.models import JobRun
    from core.scheduling import run_scheduled

    settings.COINPILOT_MARKET_SOURCE = "sim"
    settings.COINPILOT_DEFAULT_SYMBOLS = ["KRW-BTC"]
    settings.COINPILOT_SYMBOLS_PROVIDER = ""
    summary = run_scheduled("collect_candles", timezone.now().isoformat())
    assert "for 1 symbols" in summary
    run = JobRun.objects.get(job="collect_candles")
    assert run.status == "success" and Candle.objects.count() >= 195


@pytest.mark.django_db
def test_scheduler_enqueues_on_the_market_queue_and_a_worker_runs_it(settings, run_jobs):
    from django.utils import timezone

    from core.models import JobRun
    from core.scheduling import SlotScheduler, get_schedule

    settings.COINPILOT_MARKET_SOURCE = "sim"
    settings.COINPILOT_DEFAULT_SYMBOLS = ["KRW-ETH"]
    settings.COINPILOT_SYMBOLS_PROVIDER = ""
    schedule = get_schedule("collect_candles")
    assert (schedule.queue, schedule.grace) == ("market", 55)
    with time_machine.travel(NOW + timedelta(seconds=1), tick=True):
        slot = schedule.due_slot(timezone.now())
        assert slot == NOW  # 3 s after the minute
        assert SlotScheduler([schedule]).tick() == {"collect_candles": "enqueued"}
        run_jobs("market")
    run = JobRun.objects.get(job="collect_candles")
    assert run.status == "success", run.message
    assert Candle.objects.filter(symbol="KRW-ETH").count() >= 195
