"""5-minute and 1-hour bars rolled up from the 1-minute candles (PostgreSQL only).

The Market page shows a year as 4-hour bars: grouping 525,600 minutes per request took ~0.6 s of
database time; grouping 8,760 hourly rows takes a few milliseconds. Every store of 1m candles
brings the buckets it touched up to date in the same transaction, so the rollup is never behind
the candles. A bucket is the minutes' first open, highest high, lowest low, last close and summed
volume; each 1h bucket is built from its 5m buckets.

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

# (bar name, width); each level is built from the one before it (the first from market_data).
LEVELS = [("5m", timedelta(minutes=5)), ("1h", timedelta(hours=1))]
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)  # date_bin's origin everywhere: bars align to UTC
MINUTE = timedelta(minutes=1)
_MINUTES = {bar: width // MINUTE for bar, width in LEVELS}
_SYMBOL, _INTERVAL, _TIME = itemgetter(0), itemgetter(1), itemgetter(2)  # CandleRow's fields

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
    # Whole hours, so the 1h level always re-reads every 5m bucket of the hours it rebuilds.
    hour = LEVELS[1][1]
    ranges = [
        (s, floor_to(first, hour), floor_to(last, hour) + hour) for s, (first, last) in sorted(spans.items())
    ]
    for bar, _ in LEVELS:
        _recompute(bar, ranges)


def _recompute(bar: str, ranges: Sequence[tuple[str, datetime, datetime]]) -> None:
    """Rebuild the `bar` buckets in each (symbol, from, until) range (whole buckets, not overlapping)."""
    if not ranges:
        return
    width = dict(LEVELS)[bar]
    symbols, lo, hi = (list(column) for column in zip(*ranges, strict=True))
    with connection.cursor() as cursor:
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


class NewMinutes:
    """The 5m and 1h buckets of the 1m rows a COPY inserts, aggregated while the rows stream to it.

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
        width = _MINUTES["5m"]
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
        fives = _merge(parts, _MINUTES["5m"])
        names = np.array(list(self.codes), dtype=object)
        if not self.exact:
            refresh(_spans(fives, names))
            return
        fives_as_parts = {name: column for name, column in fives.items() if name != "bucket"}
        hours = _merge({**fives_as_parts, "first": fives["bucket"], "last": fives["bucket"]}, _MINUTES["1h"])
        levels = {"5m": fives, "1h": hours}
        before = _StoredMinutes(newest, stored, self.codes, self.minute_of)
        mixed = {bar: before.mask(levels[bar], _MINUTES[bar]) for bar in levels}
        with connection.cursor() as cursor:
            copy_lines(cursor, _COPY, _copy_text(levels, mixed, names))  # conflicts if a bucket had a row
        for bar, width in LEVELS:  # 5m first: the 1h level is rebuilt from the 5m rows
            buckets = levels[bar]
            starts = [_moment(m) for m in buckets["bucket"][mixed[bar]].tolist()]
            symbols = names[buckets["code"][mixed[bar]]].tolist()
            _recompute(bar, [(s, start, start + width) for s, start in zip(symbols, starts, strict=True)])


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


def _copy_text(levels: dict[str, dict], mixed: dict[str, np.ndarray], names: np.ndarray) -> Iterator[str]:
    """COPY text of the buckets that are not `mixed`, a slice at a time (formatted while the server
    parses the slice before), in primary-key order: each insert then lands on the index's rightmost
    page, which PostgreSQL finds without descending the tree (10 % less server time measured)."""
    fields = ("open", "high", "low", "close", "volume")
    kept = {bar: np.flatnonzero(~mixed[bar]) for bar in sorted(levels)}  # "1h" sorts before "5m"
    columns = {
        name: np.concatenate([levels[bar][name][keep] for bar, keep in kept.items()])
        for name in ("code", "bucket", *fields)
    }
    bars = np.concatenate([np.full(len(keep), bar, dtype=object) for bar, keep in kept.items()])
    level = np.concatenate([np.full(len(keep), i) for i, keep in enumerate(kept.values())])
    name_rank = np.argsort(np.argsort(names))  # symbol code -> place in name order
    order = np.lexsort((columns["bucket"], level, name_rank[columns["code"]]))
    stamps = {minute: _moment(minute).isoformat() for minute in set(columns["bucket"].tolist())}
    for at in range(0, len(order), _TEXT_SLICE):
        rows = order[at : at + _TEXT_SLICE]
        # str() per column: format() of a Decimal ("{}") is twice as slow
        numbers = (map(str, columns[name][rows].tolist()) for name in fields)
        starts = map(stamps.__getitem__, columns["bucket"][rows].tolist())
        lines = zip(names[columns["code"][rows]].tolist(), bars[rows].tolist(), starts, *numbers, strict=True)
        yield "\n".join(map("\t".join, lines)) + "\n"


def _spans(fives: dict[str, np.ndarray], names: np.ndarray) -> dict[str, tuple[datetime, datetime]]:
    """Each symbol's (first, last) minute among the buckets."""
    first = np.full(len(names), np.iinfo(np.int64).max)
    last = np.full(len(names), np.iinfo(np.int64).min)
    np.minimum.at(first, fives["code"], fives["first"])
    np.maximum.at(last, fives["code"], fives["last"])
    return {
        str(names[code]): (_moment(int(first[code])), _moment(int(last[code])))
        for code in np.unique(fives["code"]).tolist()
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
