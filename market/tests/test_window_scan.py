"""The bot cycle's candle window is read from the primary key's btree alone on PostgreSQL (migration
market 0011): the key carries the five columns the window reads, the table is vacuumed after every
5,000 new rows, and going back to migration 0010 restores the plain key."""

import json
from datetime import timedelta

import pytest
from django.db import connection

from core.tests.test_migrations import migrate
from market.candles import WINDOW_SQL, load_candles, store_candles, validate_candles
from market.models import Candle

from .conftest import T0, raw_minutes

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL index and storage parameters"),
    pytest.mark.django_db(transaction=True),  # VACUUM and migrations run outside a transaction
]
SYMBOLS = [f"KRW-S{i:02d}" for i in range(20)]
KEY_AND_INCLUDED = """
SELECT i.indnkeyatts, array_agg(a.attname ORDER BY k.n)
FROM pg_index i
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indexrelid = 'market_data_pkey'::regclass
GROUP BY i.indnkeyatts
"""


def primary_key() -> tuple[list[str], list[str]]:
    """The primary key's key columns and the columns it only carries."""
    with connection.cursor() as cursor:
        cursor.execute(KEY_AND_INCLUDED)
        key_count, columns = cursor.fetchone()
    return columns[:key_count], columns[key_count:]


def table_settings() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE oid = 'market_data'::regclass")
        return sorted(cursor.fetchone()[0] or [])


def window_plan(last: int) -> dict:
    sql = WINDOW_SQL.format(table=Candle._meta.db_table, bounds="")
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", [SYMBOLS, "1m", last])
        return cursor.fetchone()[0][0]["Plan"]


def scans(plan: dict) -> list[dict]:
    """Every scan of market_data in a plan."""
    found = [plan] if plan.get("Relation Name") == "market_data" else []
    for child in plan.get("Plans", []):
        found += scans(child)
    return found


def test_the_primary_key_carries_the_windows_columns_and_the_table_is_vacuumed_often():
    assert primary_key() == (["symbol", "interval", "timestamp"], ["open", "high", "low", "close", "volume"])
    assert table_settings() == [
        "autovacuum_vacuum_insert_scale_factor=0",
        "autovacuum_vacuum_insert_threshold=5000",
    ]


def test_a_vacuumed_window_is_read_from_the_index_alone_and_matches_the_table():
    end = T0 + timedelta(days=3)
    for n, symbol in enumerate(SYMBOLS):
        store_candles(validate_candles(raw_minutes(T0, 300, price=10.0 + n), symbol=symbol, now=end))
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE market_data")  # what autovacuum does after 5,000 new rows

    [scan] = scans(window_plan(last=200))
    assert scan["Node Type"] == "Index Only Scan", json.dumps(scan)
    assert scan["Index Name"] == "market_data_pkey"
    assert scan["Heap Fetches"] == 0

    window = load_candles(SYMBOLS, last=200)
    newest = Candle.objects.filter(symbol="KRW-S07").order_by("-timestamp")[:200]
    expected = sorted(newest, key=lambda bar: bar.timestamp)
    rows = window.rows("KRW-S07")
    assert list(window.close[rows]) == [float(bar.close) for bar in expected]
    assert list(window.volume[rows]) == [float(bar.volume) for bar in expected]


def test_going_back_restores_the_plain_key_and_the_default_vacuum():
    try:
        migrate([("market", "0010_rollup_hours_only")])
        assert primary_key() == (["symbol", "interval", "timestamp"], [])
        assert table_settings() == []
    finally:
        migrate()
    assert primary_key()[1] == ["open", "high", "low", "close", "volume"]
