"""1-hour bars rolled up from the 1-minute candles (PostgreSQL only).

The Market page shows a year as 4-hour bars: grouping 525,600 minutes per request took ~0.6 s of
database time; grouping 8,760 hourly rows takes a few milliseconds. Every store of 1m candles
brings the buckets it touched up to date in the same transaction, so the rollup is never behind
the candles. A bucket is the minutes' first open, highest high, lowest low, last close and summed
volume.

One level, hours (issue 18): a 5-minute level also served the 7d and 30d charts (6 ms instead of
41 ms to group 30 days of minutes, once a minute per symbol and range through the page cache),
but its rows were 92 % of the rollup: writing them cost the server a quarter of a bulk store's
raw COPY, and refreshing one new minute re-read 12 5m buckets and then the hour. Those charts now
group the minutes (coinpilot_site/market_chart.py).

Two ways, one result: a bulk store (COPY) aggregates the minutes it sends while they stream
(`NewMinutes`) and writes the buckets that held no stored minute before; a bucket that did is
recomputed from the table (`refresh`), as is every bucket a small store touches. Re-reading
every new minute in SQL took as much server time as the COPY itself (issue 18).
SQLite (the embedded default, two weeks of data) aggregates on read and keeps no rollup.
"""

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from itertools import compress, repeat
from operator import itemgetter

import numpy as np
from django.db import connection

from .copystream import copy_lines

BAR, WIDTH = "1h", timedelta(hours=1)  # the one level kept: its bar name and width
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)  # date_bin's origin everywhere: bars align to UTC
MINUTE = timedelta(minutes=1)
_WIDTH_MINUTES = WIDTH // MINUTE
_SYMBOL, _TIME = itemgetter(0), itemgetter(2)  # CandleRow's fields

# The buckets in each (symbol, from, until) range rebuilt from the stored minutes.
_UPSERT = """
INSERT INTO market_data_rollup (symbol, bar, bucket, open, high, low, close, volume)
SELECT s.symbol, %(bar)s, date_bin(%(width)s::interval, s."timestamp", TIMESTAMPTZ '2000-01-01') AS b,
       (array_agg(s.open ORDER BY s."timestamp"))[1], max(s.high), min(s.low),
       (array_agg(s.close ORDER BY s."timestamp" DESC))[1], sum(s.volume)
FROM market_data s
JOIN unnest(%(symbols)s::text[], %(lo)s::timestamptz[], %(hi)s::timestamptz[]) AS r(symbol, lo, hi)
  ON s.symbol = r.symbol AND s."timestamp" >= r.lo AND s."timestamp" < r.hi
WHERE s.interval = '1m'
GROUP BY s.symbol, b
ON CONFLICT (symbol, bar, bucket) DO UPDATE SET
  open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low,
  close = EXCLUDED.close, volume = EXCLUDED.volume
"""
_TEXT_SLICE = 2000  # buckets per piece of COPY text
_COPY = "COPY market_data_rollup (symbol, bar, bucket, open, high, low, close, volume) FROM STDIN"

# Volume sums ride on 10^20 with 29 digits of precision, so each addition rounds the new minute's
# volume to 8 places (half away from zero) exactly as NUMERIC(28,8) stored it, for one Decimal
# addition a minute: the sum is the SQL sum of the stored volumes, bit for bit.
_CARRY = Decimal(10) ** 20
_STORED_SUM = Context(prec=29, rounding=ROUND_HALF_UP)
_EXACT = Context(prec=60)  # sums of stored values (at most 20 + 8 digits each): never rounded


def floor_to(moment: datetime, width: timedelta) -> datetime:
    """The start of the `width` bar containing `moment` (same alignment as date_bin)."""
    return moment - (moment - ORIGIN) % width


def enabled() -> bool:
    return connection.vendor == "postgresql"


def refresh(spans: dict[str, tuple[datetime, datetime]]) -> None:
    """Recompute every rollup bucket overlapping each symbol's [first, last] 1m bar time."""
    if not spans or not enabled():
        return
    _recompute(
        [(s, floor_to(first, WIDTH), floor_to(last, WIDTH)) for s, (first, last) in sorted(spans.items())]
    )


def _recompute(ranges: Sequence[tuple[str, datetime, datetime]]) -> None:
    """Rebuild the buckets from each (symbol, first, last) bucket start, both included."""
    if not ranges:
        return
    symbols, lo, last = (list(column) for column in zip(*ranges, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(
            _UPSERT,
            {"bar": BAR, "width": f"{int(WIDTH.total_seconds())} seconds", "symbols": symbols,
             "lo": lo, "hi": [start + WIDTH for start in last]},
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


class NewMinutes:
    """The rollup buckets of the 1m rows a COPY inserts, aggregated while the rows stream to it.

    Vectorised per piece of rows (`add`), between the pieces the server is parsing. No order is assumed:
    a part is a run of consecutive rows of one symbol and bucket in rising time; parts of one
    bucket (out-of-order rows, a bucket split between pieces) are merged by their first and last
    minute. Minutes count from ORIGIN, so a bucket is `minute // width`.
    """

    def __init__(self) -> None:
        self.chunks: list[dict[str, np.ndarray]] = []
        self.codes: dict[str, int] = {}  # symbol -> its number in the arrays
        self.minute_of = _MinuteOf()
        self.exact = True  # False after a negative volume (never validated): it rounds the other way

    def add(self, columns: Sequence[tuple]) -> None:
        """Aggregate a piece of rows given as columns (a CandleRow's fields in order, each a tuple),
        once its COPY text has been handed on: the server parses it meanwhile."""
        columns = columns[:8]  # symbol ... volume
        intervals = columns[1]
        if intervals.count("1m") != len(intervals):  # only minutes are rolled up
            keep = [each == "1m" for each in intervals]
            columns = [tuple(compress(column, keep)) for column in columns]
        if columns[0]:
            self.chunks.append(self._parts(*columns))

    def _parts(self, symbol, _interval, moment, opens, highs, lows, closes, volume) -> dict[str, np.ndarray]:
        count = len(symbol)
        minutes = np.fromiter(map(self.minute_of.__getitem__, moment), np.int64, count)
        symbols = np.fromiter(symbol, object, count)
        width = _WIDTH_MINUTES
        breaks = (symbols[1:] != symbols[:-1]) | (minutes[1:] // width != minutes[:-1] // width)
        starts = np.flatnonzero(np.concatenate(([True], breaks | (minutes[1:] <= minutes[:-1]))))
        ends = np.append(starts[1:], count) - 1
        volumes = _objects(volume)
        if np.minimum.reduce(volumes) < 0:
            self.exact = False
        with localcontext(_STORED_SUM):
            volumes[starts] += _CARRY
            sums = np.add.reduceat(volumes, starts)
        with localcontext(_EXACT):
            sums -= _CARRY
        for name in set(symbols[starts]) - self.codes.keys():
            self.codes[name] = len(self.codes)
        return {
            "code": np.fromiter(map(self.codes.__getitem__, symbols[starts]), np.int64, len(starts)),
            "first": minutes[starts],
            "last": minutes[ends],
            "open": _objects(map(opens.__getitem__, starts.tolist()), len(starts)),
            "high": np.maximum.reduceat(_objects(highs), starts),
            "low": np.minimum.reduceat(_objects(lows), starts),
            "close": _objects(map(closes.__getitem__, ends.tolist()), len(ends)),
            "volume": sums,
        }

    def store(self, newest: dict[tuple[str, str], datetime], stored: set) -> None:
        """Bring the rollup up to date with the minutes the COPY inserted (in its savepoint: a
        rollup row for a bucket that had no minute raises IntegrityError).

        `newest` is each (symbol, interval)'s newest bar stored before the COPY, `stored` the keys
        stored before it around (whole hours) its rows that were not newer than that. A bucket that
        held no stored minute is written from memory; one that did is recomputed in SQL.
        """
        if not self.chunks:
            return
        parts = {name: np.concatenate([chunk[name] for chunk in self.chunks]) for name in self.chunks[0]}
        hours = _merge(parts, _WIDTH_MINUTES)
        names = np.array(list(self.codes), dtype=object)
        if not self.exact:
            refresh(_spans(hours, names))
            return
        mixed = _StoredMinutes(newest, stored, self.codes, self.minute_of).mask(hours, _WIDTH_MINUTES)
        with connection.cursor() as cursor:
            copy_lines(cursor, _COPY, _copy_text(hours, mixed, names))  # conflicts if a bucket had a row
        starts = [_moment(m) for m in hours["bucket"][mixed].tolist()]
        symbols = names[hours["code"][mixed]].tolist()
        _recompute(list(zip(symbols, starts, starts, strict=True)))


class _MinuteOf(dict):
    """moment -> minutes since ORIGIN, computed once per distinct moment (many symbols share one)."""

    def __missing__(self, moment: datetime) -> int:
        minute = self[moment] = (moment - ORIGIN) // MINUTE
        return minute


def _moment(minute: int) -> datetime:
    return ORIGIN + minute * MINUTE


def _objects(values: Iterable, count: int = -1) -> np.ndarray:
    # fromiter: np.array() of Decimals probes each for nested sequences, 4x slower
    return np.fromiter(values, dtype=object, count=count)


def _column(rows: Sequence, field: int) -> np.ndarray:
    return _objects(map(itemgetter(field), rows), len(rows))


def _merge(parts: dict[str, np.ndarray], width: int) -> dict[str, np.ndarray]:
    """One row per (symbol, bucket of `width` minutes) from parts that each lie in one bucket."""
    bucket = parts["first"] // width * width
    key = (parts["code"] << 32) + bucket  # minutes since 2000 stay far below 2**32
    if (key[1:] > key[:-1]).all():  # rows came sorted: one part per bucket, in order
        return {"bucket": bucket, **parts}
    by_first, by_last = np.lexsort((parts["first"], key)), np.lexsort((parts["last"], key))
    key = key[by_first]
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))
    ends = np.append(starts[1:], len(key)) - 1
    with localcontext(_EXACT):
        volume = np.add.reduceat(parts["volume"][by_first], starts)
    return {
        "bucket": bucket[by_first][starts],
        "code": parts["code"][by_first][starts],
        "first": parts["first"][by_first][starts],
        "last": parts["last"][by_last][ends],
        "open": parts["open"][by_first][starts],
        "high": np.maximum.reduceat(parts["high"][by_first], starts),
        "low": np.minimum.reduceat(parts["low"][by_first], starts),
        "close": parts["close"][by_last][ends],
        "volume": volume,
    }


class _StoredMinutes:
    """Which buckets held a stored minute before a COPY (see NewMinutes.store)."""

    def __init__(
        self,
        newest: dict[tuple[str, str], datetime],
        stored: set,
        codes: dict[str, int],
        minute_of: _MinuteOf,
    ) -> None:
        self.newest = np.full(len(codes), np.iinfo(np.int64).min)
        for (symbol, interval), moment in newest.items():  # one per series
            if interval == "1m" and symbol in codes:
                self.newest[codes[symbol]] = minute_of[moment]
        keys = list(stored)
        code = np.fromiter(map(codes.get, map(_SYMBOL, keys), repeat(-1)), np.int64, len(keys))
        minute = np.fromiter(map(minute_of.__getitem__, map(_TIME, keys)), np.int64, len(keys))
        kept = (code >= 0) & (_column(keys, 1) == "1m")  # stored minutes of the COPY's symbols
        self.code, self.minute = code[kept], minute[kept]

    def mask(self, buckets: dict[str, np.ndarray], width: int) -> np.ndarray:
        newest = self.newest[buckets["code"]]
        start = buckets["bucket"]
        holds_newest = (start <= newest) & (newest < start + width)
        stored = np.unique((self.code << 32) + self.minute // width * width)  # as _merge keys them
        before_newest = start + width <= newest
        return holds_newest | (before_newest & np.isin((buckets["code"] << 32) + start, stored))


def _copy_text(buckets: dict[str, np.ndarray], mixed: np.ndarray, names: np.ndarray) -> Iterator[str]:
    """COPY text of the buckets that are not `mixed`, a slice at a time (formatted while the server
    parses the slice before), in primary-key order: each insert then lands on the index's rightmost
    page, which PostgreSQL finds without descending the tree (10 % less server time measured)."""
    fields = ("open", "high", "low", "close", "volume")
    keep = np.flatnonzero(~mixed)
    columns = {name: buckets[name][keep] for name in ("code", "bucket", *fields)}
    name_rank = np.argsort(np.argsort(names))  # symbol code -> place in name order
    order = np.lexsort((columns["bucket"], name_rank[columns["code"]]))
    stamps = {minute: _moment(minute).isoformat() for minute in set(columns["bucket"].tolist())}
    for at in range(0, len(order), _TEXT_SLICE):
        rows = order[at : at + _TEXT_SLICE]
        # str() per column: format() of a Decimal ("{}") is twice as slow
        numbers = (map(str, columns[name][rows].tolist()) for name in fields)
        starts = map(stamps.__getitem__, columns["bucket"][rows].tolist())
        symbols = names[columns["code"][rows]].tolist()
        lines = zip(symbols, repeat(BAR), starts, *numbers)
        yield "\n".join(map("\t".join, lines)) + "\n"


def _spans(buckets: dict[str, np.ndarray], names: np.ndarray) -> dict[str, tuple[datetime, datetime]]:
    """Each symbol's (first, last) minute among the buckets."""
    first = np.full(len(names), np.iinfo(np.int64).max)
    last = np.full(len(names), np.iinfo(np.int64).min)
    np.minimum.at(first, buckets["code"], buckets["first"])
    np.maximum.at(last, buckets["code"], buckets["last"])
    return {
        str(names[code]): (_moment(int(first[code])), _moment(int(last[code])))
        for code in np.unique(buckets["code"]).tolist()
    }


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
