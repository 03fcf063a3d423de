"""The chart rollup (1h bars, PostgreSQL) equals grouping the stored minutes, whatever order
the minutes arrived in, and follows later stores into a bucket already rolled up."""

from datetime import timedelta
from decimal import Decimal

import pandas as pd
import pytest
from django.db import connection

from coinpilot_site import market_chart
from conftest import TEST_DATA
from market import rollups
from market.candles import CandleRow, store_candles
from market.models import Candle, CandleRollup

pytestmark = pytest.mark.django_db
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the rollup is PostgreSQL only"
)


def real_rows() -> list[CandleRow]:
    frame = pd.read_csv(TEST_DATA / "upbit_krw_btc_1m_20180125.csv")
    times = pd.to_datetime(frame["timestamp"], utc=True)
    return [
        CandleRow("KRW-BTC", "1m", t.to_pydatetime(), *(Decimal(str(v)) for v in values), None)
        for t, values in zip(times, frame[["open", "high", "low", "close", "volume"]].to_numpy(), strict=True)
    ]


def both_ways(minutes: int, start, end) -> tuple[pd.DataFrame, pd.DataFrame]:
    start = rollups.floor_to(start, timedelta(minutes=minutes))
    return (
        market_chart._pg_buckets("KRW-BTC", minutes, start, end, rollup=True),
        market_chart._pg_buckets("KRW-BTC", minutes, start, end, rollup=False),
    )


@postgresql_only
def test_rollup_bars_equal_the_minutes_grouped_for_every_bar_size():
    rows = real_rows()
    third = len(rows) // 3
    # Out of order, and the last chunk splits an hour that is already rolled up.
    for chunk in (rows[third : 2 * third], rows[:third], rows[2 * third : -7], rows[-7:]):
        store_candles(chunk)
    start, end = rows[0].timestamp, rows[-1].timestamp + timedelta(minutes=1)
    for minutes in (5, 15, 60, 240, 1440):
        from_rollup, from_minutes = both_ways(minutes, start, end)
        assert len(from_rollup) > 0
        pd.testing.assert_frame_equal(from_rollup, from_minutes, check_exact=False, rtol=1e-12)
    hours = CandleRollup.objects.filter(bar="1h").count()
    assert hours == len({r.timestamp.replace(minute=0) for r in rows})


@postgresql_only
def test_a_late_minute_changes_its_buckets_close_and_volume():
    rows = real_rows()[:120]
    store_candles(rows[:-1])
    last = rows[-1]
    store_candles([last])
    bucket = CandleRollup.objects.get(bar="1h", bucket=rollups.floor_to(last.timestamp, timedelta(hours=1)))
    hour = [r for r in rows if rollups.floor_to(r.timestamp, timedelta(hours=1)) == bucket.bucket]
    assert bucket.close == hour[-1].close
    assert bucket.volume == sum(r.volume for r in hour)
    assert bucket.high == max(r.high for r in hour) and bucket.open == hour[0].open


@postgresql_only
def test_rebuild_fills_the_rollup_for_candles_stored_around_store_candles():
    rows = real_rows()[:600]
    store_candles(rows)
    expected = CandleRollup.objects.count()
    CandleRollup.objects.all().delete()
    assert rollups.rebuild() == expected
    hours = {rollups.floor_to(r.timestamp, rollups.WIDTH) for r in rows}
    assert expected == len(hours) == 11  # starts at 06:42


@postgresql_only
def test_rebuild_command(capsys):
    from django.core.management import call_command

    store_candles(real_rows()[:60])
    CandleRollup.objects.all().delete()
    call_command("rebuild_rollups", "--symbols", "krw-btc")
    assert "rollup rebuilt: 2 bars stored" in capsys.readouterr().out  # 06:42..07:41: 06h, 07h


@pytest.mark.skipif(connection.vendor == "postgresql", reason="SQLite refuses")
def test_rebuild_command_says_sqlite_has_no_rollup():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="PostgreSQL only"):
        call_command("rebuild_rollups")


@postgresql_only
def test_the_frozen_migrations_build_what_rebuild_builds_and_drop_the_5m_bars_both_ways():
    """0004 built 5m and 1h bars; 0010 drops the 5m ones (the 1h bars are what rebuild makes), and
    going back builds them again from the minutes."""
    import importlib

    built_both = importlib.import_module("market.migrations.0004_build_rollups")
    hours_only = importlib.import_module("market.migrations.0010_rollup_hours_only")
    rows = real_rows()[:3000]
    store_candles(rows)
    rollups.rebuild()
    fields = ("symbol", "bar", "bucket", "open", "high", "low", "close", "volume")
    expected = sorted(CandleRollup.objects.values_list(*fields))
    CandleRollup.objects.all().delete()

    class Editor:  # what RunPython hands a migration function
        connection = connection

    built_both.build(None, Editor())
    fives = sorted(CandleRollup.objects.filter(bar="5m").values_list(*fields))
    assert len(fives) == len({rollups.floor_to(r.timestamp, timedelta(minutes=5)) for r in rows})
    hours_only.drop_fives(None, Editor())
    assert sorted(CandleRollup.objects.values_list(*fields)) == expected and len(expected) > 50
    hours_only.build_fives(None, Editor())
    assert sorted(CandleRollup.objects.filter(bar="5m").values_list(*fields)) == fives


# --- the rollup a COPY store keeps from memory, against the same buckets rebuilt in SQL ----------


@pytest.fixture(params=["copy", "insert"])
def store_path(request, monkeypatch):
    """Every store through COPY (in-memory rollup, pieces of 7 rows, so buckets straddle pieces)
    or through INSERT (rollup recomputed in SQL)."""
    monkeypatch.setattr("market.candles.PG_COPY_MIN_ROWS", 1 if request.param == "copy" else 10**9)
    monkeypatch.setattr("market.pgcopy.PIECE", 7)
    return request.param


def stored_rollup() -> list[tuple[str, ...]]:
    fields = ("symbol", "bar", "bucket", "open", "high", "low", "close", "volume")
    return sorted(tuple(map(str, row)) for row in CandleRollup.objects.values_list(*fields))


def assert_rollup_is_the_minutes_grouped() -> None:
    kept = stored_rollup()
    CandleRollup.objects.all().delete()
    rollups.rebuild()  # the SQL aggregation, from scratch
    assert kept == stored_rollup() and kept


def minute(symbol: str, at, price: str, volume: str = "1.5") -> CandleRow:
    p = Decimal(price)
    return CandleRow(symbol, "1m", at, p, p + 2, p - 2, p + 1, Decimal(volume), None)


@postgresql_only
def test_rollup_after_late_overlapping_and_gap_filling_stores_of_real_minutes(store_path):
    rows = real_rows()
    gaps = rows[6000:9000:7]
    stores = [
        rows[3000:6000],
        rows[:3500],  # overlaps stored minutes, ends inside a stored hour
        [r for r in rows[6000:] if r not in gaps],
        gaps,  # each fills a hole inside buckets that hold stored minutes
        list(reversed(rows[2000:7000])),  # all stored already
    ]
    for batch in stores:
        store_candles(batch)
    assert Candle.objects.count() == len(rows)
    assert_rollup_is_the_minutes_grouped()


@postgresql_only
def test_rollup_of_unsorted_interleaved_symbols_with_volumes_rounded_on_storing(store_path):
    t0 = real_rows()[0].timestamp.replace(minute=0)  # on an hour
    at = [t0 + timedelta(minutes=m) for m in range(130)]
    # Volumes with more than 8 places: stored rounded half away from zero, and so summed.
    volumes = ["0.000000005", "1.123456785", "2.5000000050", "0.33333333333", "7"]
    batch = [
        minute(s, t, f"{100 + i}.123456789", volumes[i % 5])
        for i, t in enumerate(at)
        for s in ("KRW-A", "KRW-B")
    ]
    store_candles(batch[::3] + batch[1::3][::-1])  # a third of the minutes missing, the rest unsorted
    store_candles(batch[2::3][::-1])  # the missing ones, late
    store_candles([minute("KRW-A", at[-1] + timedelta(minutes=1), "50")])  # after the newest, same bucket
    assert_rollup_is_the_minutes_grouped()
    hour = CandleRollup.objects.get(symbol="KRW-A", bar="1h", bucket=t0)
    rounded = ("0.00000001", "1.12345679", "2.50000001", "0.33333333", "7")
    assert hour.volume == 12 * sum(map(Decimal, rounded))  # minutes 0-59, each volume 12 times


@postgresql_only
def test_a_rollup_row_left_without_minutes_is_overwritten_not_a_failure(store_path):
    rows = real_rows()[:300]
    store_candles(rows[:100])
    stale = rows[200].timestamp.replace(minute=0)
    CandleRollup.objects.create(
        symbol="KRW-BTC", bar="1h", bucket=stale, open=1, high=1, low=1, close=1, volume=1
    )
    assert store_candles(rows) == 200
    assert_rollup_is_the_minutes_grouped()


@postgresql_only
def test_negative_volumes_are_rolled_up_as_sql_rounds_them(store_path):
    at = real_rows()[0].timestamp
    store_candles([minute("KRW-A", at + timedelta(minutes=m), "10", "-0.000000005") for m in range(12)])
    assert_rollup_is_the_minutes_grouped()


@postgresql_only
def test_only_1m_candles_are_rolled_up(store_path):
    rows = real_rows()[:30]
    store_candles([*rows[:20], *(r._replace(interval="5m") for r in rows[::5])])
    store_candles([r._replace(interval="5m") for r in rows[1::5]])
    assert_rollup_is_the_minutes_grouped()
    assert CandleRollup.objects.count() == 2  # the minutes 06:42-07:01: hours 06 and 07
