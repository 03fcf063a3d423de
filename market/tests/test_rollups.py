"""The chart rollup (5m / 1h bars, PostgreSQL) equals grouping the stored minutes, whatever order
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
from market.models import CandleRollup

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
    buckets = {bar: {rollups.floor_to(r.timestamp, width) for r in rows} for bar, width in rollups.LEVELS}
    assert expected == len(buckets["5m"]) + len(buckets["1h"]) == 121 + 11  # starts at 06:42


@postgresql_only
def test_rebuild_command(capsys):
    from django.core.management import call_command

    store_candles(real_rows()[:60])
    CandleRollup.objects.all().delete()
    call_command("rebuild_rollups", "--symbols", "krw-btc")
    assert "rollup rebuilt: 15 bars stored" in capsys.readouterr().out  # 06:40..07:40 by 5 min, 06h, 07h


@pytest.mark.skipif(connection.vendor == "postgresql", reason="SQLite refuses")
def test_rebuild_command_says_sqlite_has_no_rollup():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="PostgreSQL only"):
        call_command("rebuild_rollups")


@postgresql_only
def test_the_frozen_migration_builds_what_rebuild_builds():
    import importlib

    migration = importlib.import_module("market.migrations.0004_build_rollups")
    store_candles(real_rows()[:3000])
    rollups.rebuild()
    expected = sorted(
        CandleRollup.objects.values_list("symbol", "bar", "bucket", "open", "high", "low", "close")
    )
    CandleRollup.objects.all().delete()

    class Editor:  # what RunPython hands a migration function
        connection = connection

    migration.build(None, Editor())
    built = sorted(
        CandleRollup.objects.values_list("symbol", "bar", "bucket", "open", "high", "low", "close")
    )
    assert built == expected and len(built) > 50
