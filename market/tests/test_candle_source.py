"""Candles record their source; one symbol's candles never mix two sources; backfill bounds.

The demo stores simulated minutes; a later `backfill --source upbit` used to say "already present"
and keep them. Now each candle says where it came from, storing another source's candles for a
symbol is refused with the way out (`backfill --replace`), and bad options store nothing.
"""

import subprocess
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection

from conftest import manage_command
from market.candles import (
    CandleSourceError,
    store_candles,
    stored_sources,
    validate_candles,
)
from market.collector import collect
from market.models import Candle, CandleRollup
from market.sources.csv import CsvSource
from market.sources.simulated import SimulatedSource

from .conftest import REAL_CSV, T0, raw_minutes

pytestmark = pytest.mark.django_db
NOW = T0 + timedelta(days=3, seconds=42)


def rows(symbol: str, start, count: int, price: float = 100.0):
    return validate_candles(raw_minutes(start, count, price), symbol=symbol, now=NOW)


def sources_of(symbol: str) -> dict[str, int]:
    found = {}
    for source in Candle.objects.filter(symbol=symbol).values_list("source", flat=True):
        found[source] = found.get(source, 0) + 1
    return found


def test_stored_candles_record_their_source():
    assert store_candles(rows("KRW-BTC", T0, 5), source="upbit") == 5
    assert sources_of("KRW-BTC") == {"upbit": 5}
    assert stored_sources(["KRW-BTC", "KRW-ETH"]) == {"KRW-BTC": "upbit", "KRW-ETH": None}


def test_the_bulk_path_records_the_source_too():
    # 6,000 rows take the COPY path on PostgreSQL (executemany on SQLite).
    assert store_candles(rows("KRW-BTC", T0 - timedelta(days=2), 6000), source="sim") == 6000
    assert sources_of("KRW-BTC") == {"sim": 6000}


def test_another_source_for_a_stored_symbol_is_refused_and_nothing_is_stored():
    store_candles(rows("KRW-BTC", T0, 5), source="sim")
    with pytest.raises(CandleSourceError) as refused:
        store_candles(rows("KRW-BTC", T0 + timedelta(minutes=5), 3) + rows("KRW-ETH", T0, 3), source="upbit")
    message = str(refused.value)
    assert message.startswith("KRW-BTC: the stored candles come from sim, these from upbit")
    assert "manage.py backfill --symbols KRW-BTC --source upbit --replace" in message
    assert Candle.objects.count() == 5  # the whole batch, KRW-ETH too


def test_rows_of_an_unrecorded_source_never_block_and_claim_nothing():
    store_candles(rows("KRW-BTC", T0, 5))  # a caller that does not say: "unknown"
    assert stored_sources(["KRW-BTC"]) == {"KRW-BTC": "unknown"}
    store_candles(rows("KRW-BTC", T0 + timedelta(minutes=10), 2), source="sim")  # in the middle of nowhere
    store_candles(rows("KRW-BTC", T0 + timedelta(minutes=20), 2))  # unknown again at both ends
    assert stored_sources(["KRW-BTC"]) == {"KRW-BTC": "sim"}  # found inside, not only at the ends
    with pytest.raises(CandleSourceError):
        store_candles(rows("KRW-BTC", T0 + timedelta(minutes=30), 1), source="csv")


def test_rows_stored_before_sources_were_recorded_read_unknown():
    # What the migration gives existing rows: the column's database default, no row rewritten.
    with connection.cursor() as cursor:
        cursor.execute(
            'INSERT INTO market_data (symbol, interval, "timestamp", open, high, low, close, volume) '
            "VALUES (%s, '1m', %s, 1, 1, 1, 1, 1)",
            ["KRW-BTC", connection.ops.adapt_datetimefield_value(T0)],
        )
    assert Candle.objects.get().source == "unknown"


def test_an_unknown_source_name_is_a_programming_error():
    with pytest.raises(ValueError, match="not a valid CandleSource"):
        store_candles(rows("KRW-BTC", T0, 1), source="binance")


@time_machine.travel(NOW, tick=False)
def test_backfill_from_another_source_asks_for_replace_then_replaces():
    out = StringIO()
    call_command("backfill", "--symbols", "KRW-BTC", "--days", "1", "--source", "sim", stdout=out)
    simulated = Candle.objects.count()
    assert simulated > 1400 and sources_of("KRW-BTC") == {"sim": simulated}

    with pytest.raises(CommandError) as refused:
        call_command("backfill", "--symbols", "KRW-BTC", "--source", f"csv:{REAL_CSV}", stdout=out)
    assert str(refused.value).startswith(f"KRW-BTC holds {simulated:,} candles from sim. Candles from csv")
    assert "Run again with --replace" in str(refused.value)
    assert sources_of("KRW-BTC") == {"sim": simulated}  # nothing stored, nothing deleted

    out = StringIO()
    call_command("backfill", "--symbols", "KRW-BTC", "--source", f"csv:{REAL_CSV}", "--replace", stdout=out)
    text = out.getvalue()
    assert f"KRW-BTC: deleted {simulated:,} candles from sim and their rollups" in text
    assert "total: stored 9,999, already present 0" in text
    assert sources_of("KRW-BTC") == {"csv": 9999}
    assert not CandleRollup.objects.filter(symbol="KRW-BTC", bucket__gte=T0).exists()

    out = StringIO()  # the same source again: nothing to replace, nothing deleted
    call_command("backfill", "--symbols", "KRW-BTC", "--source", f"csv:{REAL_CSV}", "--replace", stdout=out)
    assert "deleted" not in out.getvalue() and sources_of("KRW-BTC") == {"csv": 9999}


def test_backfill_over_unrecorded_candles_warns_and_goes_on():
    store_candles(validate_candles(CsvSource(REAL_CSV).rows[:10], symbol="KRW-BTC", now=NOW))
    out = StringIO()
    call_command("backfill", "--symbols", "KRW-BTC", "--source", f"csv:{REAL_CSV}", stdout=out)
    assert "KRW-BTC: 10 stored candles have no recorded source" in out.getvalue()
    assert sources_of("KRW-BTC") == {"unknown": 10, "csv": 9989}


def test_the_collector_skips_a_symbol_stored_from_another_source():
    store_candles(rows("KRW-BTC", T0 + timedelta(days=3) - timedelta(minutes=30), 5), source="csv")
    result = collect(SimulatedSource(1), ["KRW-BTC", "KRW-ETH"], now=NOW)
    assert result.errors["KRW-BTC"].startswith("KRW-BTC: the stored candles come from csv, these from sim")
    assert sources_of("KRW-BTC") == {"csv": 5}
    assert sources_of("KRW-ETH").keys() == {"sim"}


def test_a_csv_timestamp_out_of_range_is_a_validation_error_and_nothing_is_stored(tmp_path):
    path = tmp_path / "year1.csv"
    good = "2018-01-25T00:00:00Z,100,101,99,100,1"
    path.write_text(f"timestamp,open,high,low,close,volume\n{good}\n0001-01-01T00:00:00+14:00,1,1,1,1,1\n")
    out = StringIO()
    with pytest.raises(CommandError, match="1 symbol"):
        call_command("backfill", "--symbols", "KRW-BTC", "--source", f"csv:{path}", stdout=out)
    assert "0001-01-01T00:00:00+14:00' timestamp: not a timestamp" in out.getvalue()
    assert "out of range" in out.getvalue()
    assert Candle.objects.count() == 0


def test_a_candle_before_upbit_existed_is_refused():
    with pytest.raises(ValueError, match="before 2017-01-01"):
        validate_candles([raw_minutes(T0, 1)[0] | {"timestamp": "0001-01-01T00:00:00Z"}], symbol="X", now=NOW)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--days", "100000000"], "argument --days: must be a number above 0 and at most 3,650 days"),
        (["--days", "-3"], "argument --days: must be a number above 0 and at most 3,650 days, not '-3'"),
        (["--days", "nan"], "argument --days: must be a number above 0"),
        (["--since", "2026-13-01"], "argument --since: '2026-13-01' is not a date or time"),
        (
            ["--since", "0001-01-01T00:00:00+14:00"],
            "argument --since: '0001-01-01T00:00:00+14:00' is outside",
        ),
        (["--until", "9999-12-31"], "argument --until: '9999-12-31' is outside 2017-01-01 .. 2099-12-31"),
    ],
)
def test_backfill_options_out_of_bounds_are_refused_and_nothing_is_stored(options, message):
    with pytest.raises(CommandError) as refused:
        call_command("backfill", "--symbols", "KRW-BTC", "--source", "sim", *options, stdout=StringIO())
    assert message in str(refused.value)
    assert Candle.objects.count() == 0


def test_on_the_command_line_a_refused_option_exits_non_zero():
    result = subprocess.run(
        manage_command("backfill", "--source", "sim", "--days", "100000000"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "argument --days: must be a number above 0 and at most 3,650 days" in result.stderr
    assert "Traceback" not in result.stderr
