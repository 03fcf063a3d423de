"""5-minute and 1-hour bars rolled up from the 1-minute candles (PostgreSQL only).

The Market page shows a year as 4-hour bars: grouping 525,600 minutes per request took ~0.6 s of
database time; grouping 8,760 hourly rows takes a few milliseconds. Every store of 1m candles
refreshes the buckets it touched (`refresh_for`), in the same transaction, so the rollup is never
behind the candles: first the 5m buckets from the minutes, then the 1h buckets from the 5m rows.
SQLite (the embedded default, two weeks of data) aggregates on read and keeps no rollup.
"""

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from django.db import connection

# (bar name, width); each level is built from the one before it (the first from market_data).
LEVELS = [("5m", timedelta(minutes=5)), ("1h", timedelta(hours=1))]
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)  # date_bin's origin everywhere: bars align to UTC

# Identifiers below are constants of this module, never input.
_UPSERT = """
INSERT INTO market_data_rollup (symbol, bar, bucket, open, high, low, close, volume)
SELECT s.symbol, %(bar)s, date_bin(%(width)s::interval, s.{time}, TIMESTAMPTZ '2000-01-01') AS b,
       (array_agg(s.open ORDER BY s.{time}))[1], max(s.high), min(s.low),
       (array_agg(s.close ORDER BY s.{time} DESC))[1], sum(s.volume)
FROM {source} s
JOIN unnest(%(symbols)s::text[], %(lo)s::timestamptz[], %(hi)s::timestamptz[]) AS r(symbol, lo, hi)
  ON s.symbol = r.symbol AND s.{time} >= r.lo AND s.{time} < r.hi
WHERE {source_filter}
GROUP BY s.symbol, b
ON CONFLICT (symbol, bar, bucket) DO UPDATE SET
  open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low,
  close = EXCLUDED.close, volume = EXCLUDED.volume
"""
_SOURCES = {
    "5m": {"source": "market_data", "time": '"timestamp"', "source_filter": "s.interval = '1m'"},
    "1h": {"source": "market_data_rollup", "time": "bucket", "source_filter": "s.bar = '5m'"},
}


def floor_to(moment: datetime, width: timedelta) -> datetime:
    """The start of the `width` bar containing `moment` (same alignment as date_bin)."""
    return moment - (moment - ORIGIN) % width


def enabled() -> bool:
    return connection.vendor == "postgresql"


def refresh(spans: dict[str, tuple[datetime, datetime]]) -> None:
    """Recompute every rollup bucket overlapping each symbol's [first, last] 1m bar time."""
    if not spans or not enabled():
        return
    symbols = sorted(spans)
    with connection.cursor() as cursor:
        for bar, width in LEVELS:
            # Whole hours, so the 1h level always re-reads every 5m bucket of the hours it rebuilds.
            lo = [floor_to(spans[s][0], timedelta(hours=1)) for s in symbols]
            hi = [floor_to(spans[s][1], timedelta(hours=1)) + timedelta(hours=1) for s in symbols]
            cursor.execute(
                _UPSERT.format(**_SOURCES[bar]),
                {"bar": bar, "width": f"{int(width.total_seconds())} seconds", "symbols": symbols,
                 "lo": lo, "hi": hi},
            )  # fmt: skip


def refresh_for(rows: Iterable) -> None:
    """Refresh the rollup for stored candle rows (anything with symbol, interval, timestamp)."""
    spans: dict[str, tuple[datetime, datetime]] = {}
    for row in rows:
        if row.interval != "1m":
            continue
        first, last = spans.get(row.symbol, (row.timestamp, row.timestamp))
        spans[row.symbol] = (min(first, row.timestamp), max(last, row.timestamp))
    refresh(spans)


def rebuild(symbols: Sequence[str] | None = None) -> int:
    """Build the rollup from every stored 1m candle (after a migration or a restore); rows written."""
    if not enabled():
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            'SELECT symbol, min("timestamp"), max("timestamp") FROM market_data '
            "WHERE interval = '1m' AND (%s::text[] IS NULL OR symbol = ANY(%s::text[])) GROUP BY symbol",
            [list(symbols) if symbols else None] * 2,
        )
        spans = {symbol: (first, last) for symbol, first, last in cursor.fetchall()}
    refresh(spans)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM market_data_rollup")
        return cursor.fetchone()[0]


def delete(symbols: Sequence[str]) -> None:
    """Drop every rollup bar of `symbols` (their candles are being deleted)."""
    names = ", ".join(["%s"] * len(symbols))
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM market_data_rollup WHERE symbol IN ({names})", list(symbols))  # noqa: S608
