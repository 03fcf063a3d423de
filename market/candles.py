"""Candles at the edge: validation of incoming bars, bulk storage, and loading for analysis
(DataFrames) and for the bot cycle (`Candles`: many symbols' bars as column arrays).

A batch is validated as a whole before anything is written: one bad candle rejects the batch,
so a half-stored page can never look like a natural gap.
"""

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import NamedTuple

import numpy as np
import pandas as pd
from django.db import connection, transaction

from core.bounds import EARLIEST_DAY

from . import rollups
from .models import Candle, CandleSource
from .pgcopy import COLUMNS, store_by_copy

ONE_MINUTE = timedelta(minutes=1)
PRICE_FIELDS = ("open", "high", "low", "close")
REQUIRED_FIELDS = ("timestamp", *PRICE_FIELDS, "volume")
MAX_VALUE = Decimal(10) ** 20  # DecimalField(max_digits=28, decimal_places=8)
EARLIEST = datetime.combine(EARLIEST_DAY, datetime.min.time(), tzinfo=UTC)  # Upbit opened in 2017
PG_PAGE = 1000  # rows per INSERT statement on the small-batch PostgreSQL path
PG_COPY_MIN_ROWS = 5000  # below this a staging table costs more than it saves


class CandleRow(NamedTuple):
    """A validated bar, in the column order of `market_data`."""

    symbol: str
    interval: str
    timestamp: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal | None


class CandleValidationError(ValueError):
    """A batch was rejected; the message names the symbol, the bar time and the field."""


class CandleSourceError(ValueError):
    """Candles of a symbol were offered from another source than its stored ones; nothing stored."""


def floor_minute(moment: datetime) -> datetime:
    """The start of the minute containing `moment`."""
    return moment.replace(second=0, microsecond=0)


def parse_timestamp(value) -> datetime:
    """A UTC-aware datetime from a datetime or an ISO string (no offset = UTC, as Upbit sends)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if not isinstance(value, datetime):
        raise TypeError(f"not a timestamp: {value!r}")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        raise ValueError(f"{value.isoformat()} is out of range") from None


def validate_candles(
    raw: Iterable[Mapping], *, symbol: str, now: datetime, interval: str = "1m"
) -> list[CandleRow]:
    """Validate a batch of raw candles (oldest first or not); raise on the first bad one."""
    rows = []
    seen = set()
    for item in raw:
        row = _validate_one(item, symbol=symbol, now=now, interval=interval)
        if row.timestamp in seen:
            raise CandleValidationError(f"{symbol} {_fmt(row.timestamp)} timestamp: duplicated in the batch")
        seen.add(row.timestamp)
        rows.append(row)
    rows.sort(key=lambda row: row.timestamp)
    return rows


def _fmt(moment) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%SZ}" if isinstance(moment, datetime) else repr(moment)


def _validate_one(item: Mapping, *, symbol: str, now: datetime, interval: str) -> CandleRow:
    when = item.get("timestamp")
    for name in REQUIRED_FIELDS:
        if item.get(name) in (None, ""):
            raise CandleValidationError(f"{symbol} {_fmt(when)} {name}: missing")
    ts = _bar_time(when, symbol, now)
    o, h, lo, c, v = (_decimal(item[name], symbol, ts, name) for name in (*PRICE_FIELDS, "volume"))
    quote = item.get("quote_volume")
    quote = None if quote in (None, "") else _decimal(quote, symbol, ts, "quote_volume")
    if h < lo:
        _reject(symbol, ts, "high", f"{h} is below low {lo}")
    if lo <= 0:
        _reject(symbol, ts, "low", f"must be positive, got {lo}")
    if not lo <= o <= h:
        _reject(symbol, ts, "open", f"{o} outside [low {lo}, high {h}]")
    if not lo <= c <= h:
        _reject(symbol, ts, "close", f"{c} outside [low {lo}, high {h}]")
    if v < 0:
        _reject(symbol, ts, "volume", f"negative ({v})")
    if quote is not None and quote < 0:
        _reject(symbol, ts, "quote_volume", f"negative ({quote})")
    return CandleRow(symbol, interval, ts, o, h, lo, c, v, quote)


def _bar_time(when, symbol: str, now: datetime) -> datetime:
    try:
        ts = parse_timestamp(when)
    except (TypeError, ValueError) as exc:
        raise CandleValidationError(f"{symbol} {when!r} timestamp: not a timestamp ({exc})") from None
    if ts.second or ts.microsecond:
        _reject(symbol, ts, "timestamp", "not on a minute boundary")
    if ts > now:
        _reject(symbol, ts, "timestamp", f"in the future (now {_fmt(now)})")
    if ts < EARLIEST:
        _reject(symbol, ts, "timestamp", f"before {EARLIEST_DAY} (Upbit's data starts in 2017)")
    return ts


def _reject(symbol: str, ts: datetime, field: str, problem: str):
    raise CandleValidationError(f"{symbol} {_fmt(ts)} {field}: {problem}")


def _decimal(value, symbol: str, ts: datetime, name: str) -> Decimal:
    kind = type(value)
    try:
        if kind is str or kind is int:
            number = Decimal(value)
        elif kind is Decimal:
            number = value
        elif kind is float:
            number = Decimal(repr(value))
        else:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        _reject(symbol, ts, name, f"not a number ({value!r})")
    if not number.is_finite() or not -MAX_VALUE < number < MAX_VALUE:
        _reject(symbol, ts, name, f"not a finite number in range ({value!r})")
    return number


def closed_only(rows: Iterable[CandleRow], now: datetime) -> list[CandleRow]:
    """Drop the bar still forming: a stored bar must never change afterwards."""
    return [row for row in rows if row.timestamp + ONE_MINUTE <= now]


# --- storage ---------------------------------------------------------------------------------


def store_candles(rows: Sequence[CandleRow], *, source: str = CandleSource.UNKNOWN) -> int:
    """Insert validated rows, skipping any already stored; return how many were new. All or nothing.

    `source` is where the rows come from (a market source's name: upbit, sim, csv). Rows of a
    symbol whose stored candles come from another source are refused (CandleSourceError): two
    markets in one series would look like real prices. "unknown" (a caller that does not say)
    claims nothing and is never refused.
    """
    if not rows:
        return 0
    source = CandleSource(source).value
    with transaction.atomic():
        if source != CandleSource.UNKNOWN:
            _refuse_other_sources({row.symbol for row in rows}, source, rows[0].interval)
        if connection.vendor == "postgresql":
            if len(rows) >= PG_COPY_MIN_ROWS:
                return store_by_copy(rows, source)  # it brings the rollup up to date itself
            inserted = _store_pg_values(rows, source)
            if inserted:
                rollups.refresh_for(rows)  # same transaction: the chart's rollup never lags
            return inserted
        return _store_generic(rows, source)


def _refuse_other_sources(symbols: set[str], source: str, interval: str) -> None:
    if connection.vendor == "postgresql":
        # Two writers of different sources must not both find a symbol empty and both store:
        # per-symbol locks until commit (sorted, so two multi-symbol batches cannot deadlock).
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(s)) FROM unnest(%s::text[]) AS s ORDER BY s",
                [SOURCE_LOCK_CLASS, sorted(symbols)],
            )
    for symbol, stored in stored_sources(sorted(symbols), interval).items():
        if stored not in (None, CandleSource.UNKNOWN, source):
            raise CandleSourceError(source_conflict(symbol, stored, source))


SOURCE_LOCK_CLASS = 0x43414E44  # first key of the advisory locks above ("CAND")


def source_conflict(symbol: str, stored: str, source: str) -> str:
    """The refusal for storing `source` candles of `symbol` over `stored` ones, with the way out."""
    spec = "csv:PATH" if source == CandleSource.CSV else source
    return (
        f"{symbol}: the stored candles come from {stored}, these from {source}; the two are never "
        f"mixed. To switch, run `manage.py backfill --symbols {symbol} --source {spec} --replace` "
        "(it deletes the stored candles first)"
    )


def stored_sources(symbols: Sequence[str], interval: str = "1m") -> dict[str, str | None]:
    """Where each symbol's stored candles come from: a source, "unknown", or None (none stored).

    A symbol's candles with a recorded source all share it (store_candles refuses others), so the
    newest and the oldest bar (two primary-key probes) tell it. Only when both are "unknown" (rows
    from before sources were recorded) are the symbol's rows searched for a recorded one.
    """
    symbols = list(symbols)
    if not symbols:
        return {}
    table = Candle._meta.db_table
    values = ", ".join(["(%s)"] * len(symbols))
    probe = (
        f"(SELECT m.source FROM {table} m WHERE m.symbol = wanted.symbol AND m.interval = %s "  # noqa: S608
        'ORDER BY m."timestamp" {order} LIMIT 1)'
    )
    sql = (
        f"WITH wanted(symbol) AS (VALUES {values}) "  # noqa: S608 (placeholders and constants only)
        f"SELECT symbol, {probe.format(order='DESC')}, {probe.format(order='ASC')} FROM wanted"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*symbols, interval, interval])
        ends = {symbol: (newest, oldest) for symbol, newest, oldest in cursor.fetchall()}
        found = {}
        for symbol in symbols:
            newest, oldest = ends.get(symbol, (None, None))
            known = next((s for s in (newest, oldest) if s not in (None, CandleSource.UNKNOWN)), None)
            if known is None and newest is not None:
                cursor.execute(
                    f"SELECT source FROM {table} WHERE symbol = %s AND interval = %s "  # noqa: S608
                    "AND source <> %s LIMIT 1",
                    [symbol, interval, CandleSource.UNKNOWN.value],
                )
                hit = cursor.fetchone()
                known = hit[0] if hit else CandleSource.UNKNOWN.value
            found[symbol] = known
    return found


def delete_candles(symbols: Sequence[str]) -> int:
    """Delete every stored candle and rollup bar of `symbols`; return how many candles went."""
    symbols = list(symbols)
    if not symbols:
        return 0
    names = ", ".join(["%s"] * len(symbols))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {Candle._meta.db_table} WHERE symbol IN ({names})", symbols)  # noqa: S608
        deleted = cursor.rowcount
        rollups.delete(symbols)
    return deleted


def _store_pg_values(rows: Sequence[CandleRow], source: str) -> int:
    from psycopg2.extras import execute_values

    inserted = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), PG_PAGE):
            page = [(*row, source) for row in rows[start : start + PG_PAGE]]
            result = execute_values(
                cursor.cursor,
                f"INSERT INTO market_data ({', '.join(COLUMNS)}) VALUES %s "  # noqa: S608
                "ON CONFLICT DO NOTHING RETURNING 1",
                page,
                page_size=PG_PAGE,
                fetch=True,
            )
            inserted += len(result)
    return inserted


def _store_generic(rows: Sequence[CandleRow], source: str) -> int:
    # SQLite: executemany of one prepared INSERT OR IGNORE; values adapted the way the ORM does.
    ops = connection.ops
    params = [
        (
            r.symbol,
            r.interval,
            ops.adapt_datetimefield_value(r.timestamp),
            str(r.open),
            str(r.high),
            str(r.low),
            str(r.close),
            str(r.volume),
            None if r.quote_volume is None else str(r.quote_volume),
            source,
        )
        for r in rows
    ]
    placeholders = ", ".join(["%s"] * len(COLUMNS))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT OR IGNORE INTO market_data ({', '.join(COLUMNS)}) VALUES ({placeholders})",  # noqa: S608
            params,
        )
        return cursor.rowcount


# --- reading ---------------------------------------------------------------------------------


def last_stored_timestamps(symbols: Sequence[str], interval: str = "1m") -> dict[str, datetime | None]:
    """The newest stored bar time of every symbol, in one query (one index probe per symbol)."""
    if not symbols:
        return {}
    values = ", ".join(["(%s)"] * len(symbols))
    sql = (
        f"WITH wanted(symbol) AS (VALUES {values}) "  # noqa: S608
        "SELECT wanted.symbol, (SELECT MAX(m.timestamp) FROM market_data m "
        "WHERE m.symbol = wanted.symbol AND m.interval = %s) FROM wanted"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*symbols, interval])
        found = dict(cursor.fetchall())
    return {symbol: _db_datetime(found.get(symbol)) for symbol in symbols}


def stored_extent(symbol: str, since: datetime, until: datetime, interval: str = "1m") -> tuple:
    """(count, first, last) of the stored bars of `symbol` in [since, until)."""
    from django.db.models import Count, Max, Min

    found = Candle.objects.filter(
        symbol=symbol, interval=interval, timestamp__gte=since, timestamp__lt=until
    ).aggregate(count=Count("timestamp"), first=Min("timestamp"), last=Max("timestamp"))
    return found["count"], found["first"], found["last"]


def _db_datetime(value) -> datetime | None:
    # A raw cursor gives aware datetimes on PostgreSQL and text on SQLite.
    if value is None:
        return None
    return parse_timestamp(value)


FRAME_COLUMNS = ["timestamp", "open", "high", "low", "close", "volume", "quote_volume"]

# Newest `last` bars per symbol: on PostgreSQL one backward walk of the primary key per symbol
# (LATERAL ... LIMIT), on SQLite a window function. Floats are cast in SQL, so no Decimal objects
# are built for data that only feeds numpy. Only placeholders and the table name are formatted in.
LATEST_SQL = {
    "postgresql": (
        "SELECT s.symbol, c.* FROM unnest(%s::text[]) WITH ORDINALITY AS s(symbol, ord) "
        'CROSS JOIN LATERAL (SELECT EXTRACT(EPOCH FROM m."timestamp")::bigint AS epoch, '
        "m.open::float8, m.high::float8, m.low::float8, "
        "m.close::float8, m.volume::float8, m.quote_volume::float8 FROM {table} m "
        "WHERE m.symbol = s.symbol AND m.interval = %s{bounds} "
        'ORDER BY m."timestamp" DESC LIMIT %s) c ORDER BY s.ord, c.epoch'
    ),
    "sqlite": (
        'SELECT symbol, "timestamp", open, high, low, close, volume, quote_volume FROM ('
        'SELECT *, ROW_NUMBER() OVER (PARTITION BY symbol ORDER BY "timestamp" DESC) AS rank '
        "FROM {table} m WHERE m.symbol IN ({names}) AND m.interval = %s{bounds}) "
        'WHERE rank <= %s ORDER BY symbol, "timestamp"'
    ),
}
# DOUBLE PRECISION, never REAL: PostgreSQL's REAL is 4 bytes (50,559,586.58 comes back as
# 50,559,588); SQLite reads either name as its 8-byte REAL.
RANGE_SQL = (
    'SELECT symbol, "timestamp", CAST(open AS DOUBLE PRECISION), CAST(high AS DOUBLE PRECISION), '
    "CAST(low AS DOUBLE PRECISION), CAST(close AS DOUBLE PRECISION), CAST(volume AS DOUBLE PRECISION), "
    "CAST(quote_volume AS DOUBLE PRECISION) FROM {table} m "
    'WHERE m.symbol IN ({names}) AND m.interval = %s{bounds} ORDER BY symbol, "timestamp"'
)


def load_frames(
    symbols: Sequence[str],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    last: int | None = None,
    interval: str = "1m",
) -> dict[str, pd.DataFrame]:
    """OHLCV DataFrames (float64, UTC index `timestamp`, oldest first) for many symbols, one query.

    `last` keeps the newest N bars per symbol (before `end`, after `start` when given).
    """
    symbols = list(symbols)
    if not symbols:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(*_frames_query(symbols, start, end, last, interval))
        rows = cursor.fetchall()
    return _split_frames(symbols, rows)


def _bounds(start: datetime | None, end: datetime | None) -> tuple[str, list]:
    """The optional time bounds of a candle query: SQL (on alias m) and its parameters."""
    bounds, params = "", []
    adapt = connection.ops.adapt_datetimefield_value
    if start is not None:
        bounds, params = bounds + ' AND m."timestamp" >= %s', [*params, adapt(start)]
    if end is not None:
        bounds, params = bounds + ' AND m."timestamp" < %s', [*params, adapt(end)]
    return bounds, params


def _frames_query(symbols: list[str], start, end, last: int | None, interval: str) -> tuple[str, list]:
    bounds, bound_params = _bounds(start, end)
    names = ", ".join(["%s"] * len(symbols))
    table = Candle._meta.db_table
    if last is not None and connection.vendor == "postgresql":
        sql = LATEST_SQL["postgresql"].format(table=table, bounds=bounds)
        return sql, [symbols, interval, *bound_params, last]
    if last is not None:
        sql = LATEST_SQL["sqlite"].format(table=table, names=names, bounds=bounds)
        return sql, [*symbols, interval, *bound_params, last]
    return RANGE_SQL.format(table=table, names=names, bounds=bounds), [*symbols, interval, *bound_params]


def _split_frames(symbols: list[str], rows: list[tuple]) -> dict[str, pd.DataFrame]:
    frame = pd.DataFrame.from_records(rows, columns=["symbol", *FRAME_COLUMNS])
    epoch = pd.api.types.is_integer_dtype(frame["timestamp"])  # PostgreSQL sends epoch seconds
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, unit="s" if epoch else None)
    frame = frame.astype({name: "float64" for name in FRAME_COLUMNS[1:]})
    empty = frame.iloc[:0].drop(columns="symbol").set_index("timestamp")
    frames = {symbol: empty for symbol in symbols}
    for symbol, part in frame.groupby("symbol", sort=False):
        frames[symbol] = part.drop(columns="symbol").set_index("timestamp")
    return frames


def latest_closes(symbols: Sequence[str], interval: str = "1m") -> dict[str, Decimal]:
    """The newest stored close of each symbol, exact (one query; symbols without bars are left out).

    A scalar subquery per symbol walks the primary key backwards: one index probe each, on
    PostgreSQL and SQLite alike, however many bars are stored.
    """
    symbols = list(symbols)
    if not symbols:
        return {}
    table = Candle._meta.db_table
    values = ", ".join(["(%s)"] * len(symbols))
    sql = (
        f"WITH wanted(symbol) AS (VALUES {values}) "  # noqa: S608 (placeholders and a constant only)
        f"SELECT symbol, (SELECT CAST(close AS TEXT) FROM {table} m WHERE m.symbol = wanted.symbol "
        'AND m.interval = %s ORDER BY m."timestamp" DESC LIMIT 1) FROM wanted'
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*symbols, interval])
        return {symbol: Decimal(close) for symbol, close in cursor.fetchall() if close is not None}


# --- many symbols as column arrays (the bot cycle) ---------------------------------------------

OHLCV_COLUMNS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True, eq=False)  # arrays: no field-wise ==
class Candles:
    """The bars of many symbols in one array per column, each symbol's oldest first: the bars of
    `symbols[i]` are rows `starts[i]:ends[i]`. No DataFrame per symbol; `frame()` builds one for
    the few callers that want it. No quote volume: the bot cycle, its only user, never reads it.
    """

    symbols: tuple[str, ...]
    starts: np.ndarray  # int64 per symbol
    ends: np.ndarray
    ts: np.ndarray  # bar open, epoch seconds (UTC), int64
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    frames: Mapping[str, pd.DataFrame | None] | None = None  # when made from frames: those

    @cached_property
    def _position(self) -> dict[str, int]:
        return {symbol: i for i, symbol in enumerate(self.symbols)}

    def rows(self, symbol: str) -> slice:
        """The rows of `symbol` (none for a symbol without bars or not loaded)."""
        i = self._position.get(symbol)
        return slice(0, 0) if i is None else slice(int(self.starts[i]), int(self.ends[i]))

    def last_close(self, symbol: str) -> float | None:
        """The newest close of `symbol`, None without bars."""
        rows = self.rows(symbol)  # made from frames too: the columns hold their closes
        return None if rows.start == rows.stop else float(self.close[rows.stop - 1])

    def frame(self, symbol: str) -> pd.DataFrame | None:
        """The bars of `symbol` as `load_frames` gives them (without quote volume), or the frame it
        was made from; None if there is none."""
        if self.frames is not None:
            return self.frames.get(symbol)
        rows = self.rows(symbol)
        if rows.start == rows.stop:
            return None
        index = pd.DatetimeIndex(pd.to_datetime(self.ts[rows], unit="s", utc=True), name="timestamp")
        return pd.DataFrame({name: getattr(self, name)[rows] for name in OHLCV_COLUMNS}, index=index)

    @classmethod
    def from_frames(cls, frames: Mapping[str, pd.DataFrame | None]) -> "Candles":
        """From OHLCV frames with a UTC `timestamp` index or column (in-memory markets); `frame()`
        then gives back the frames themselves."""
        kept = {i: f for i, f in enumerate(frames.values()) if f is not None and not f.empty}
        position = _joined((np.full(len(f), i) for i, f in kept.items()), np.int64)
        ts = _joined(
            (epoch_seconds(f["timestamp"] if "timestamp" in f else f.index) for f in kept.values()), np.int64
        )
        columns = {name: _joined((f[name] for f in kept.values()), np.float64) for name in OHLCV_COLUMNS}
        return _assemble(list(frames), position, ts, columns, frames=dict(frames))


def _joined(parts, dtype) -> np.ndarray:
    return np.concatenate([np.asarray(part, dtype=dtype) for part in parts] or [np.empty(0, dtype=dtype)])


PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}  # a DatetimeIndex's integer units


def epoch_seconds(stamps) -> np.ndarray:
    """Epoch seconds (int64, floored) of UTC-aware timestamps. From the index's integers: pandas'
    Timedelta arithmetic took 8x as long, and the replayed cycle converts a window every bar."""
    index = pd.DatetimeIndex(stamps)
    return index.asi8 // PER_SECOND[index.unit]


def load_candles(
    symbols: Sequence[str],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    last: int | None = None,
    interval: str = "1m",
) -> Candles:
    """The bars of many symbols as column arrays (float64, oldest first), in one query; the same
    bounds as `load_frames`. On PostgreSQL with `last` (the bot cycle's window) the rows come by
    binary COPY straight into numpy: no Python object per value."""
    symbols = list(symbols)
    if last is not None and symbols and connection.vendor == "postgresql":
        position, ts, columns = _copy_latest(symbols, start, end, last, interval)
    else:
        position, ts, columns = _fetch_columns(symbols, start, end, last, interval)
    return _assemble(symbols, position, ts, columns)


# One fixed-width binary row per bar: the symbol's place in the request (int4), the bar time as
# PostgreSQL sends a timestamptz (int8 microseconds since 2000-01-01 UTC) and five float8, cast in
# the server as load_frames casts them. No ORDER BY: sorting 100,000 rows costs the server more
# than it costs numpy (each LATERAL walk comes newest first). Every column read is in the primary
# key's btree (migration market 0011): the server reads the index alone, not the table.
WINDOW_SQL = (
    "SELECT (s.ord - 1)::int4, c.* FROM unnest(%s::text[]) WITH ORDINALITY AS s(symbol, ord) "
    'CROSS JOIN LATERAL (SELECT m."timestamp", m.open::float8, m.high::float8, m.low::float8, '
    "m.close::float8, m.volume::float8 FROM {table} m "
    "WHERE m.symbol = s.symbol AND m.interval = %s{bounds} "
    'ORDER BY m."timestamp" DESC LIMIT %s) c'
)
WINDOW_COPY_SQL = f"COPY ({WINDOW_SQL}) TO STDOUT (FORMAT binary)"
COPY_FIELDS = [("position", ">i4"), ("ts", ">i8"), *((name, ">f8") for name in OHLCV_COLUMNS)]
# each row: its field count, then per field its length and its big-endian value
COPY_ROW = np.dtype(
    [
        ("fields", ">i2"),
        *(item for name, kind in COPY_FIELDS for item in ((f"{name}_size", ">i4"), (name, kind))),
    ]
)
COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
PG_EPOCH = 946_684_800  # 2000-01-01T00:00:00Z in epoch seconds


def _copy_latest(symbols: list[str], start, end, last: int, interval: str):
    bounds, bound_params = _bounds(start, end)
    sql = WINDOW_COPY_SQL.format(table=Candle._meta.db_table, bounds=bounds)
    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg2's own: COPY takes no parameters, mogrify quotes them in
        raw.copy_expert(raw.mogrify(sql, [symbols, interval, *bound_params, last]), buffer)
    rows = _copy_rows(buffer.getbuffer())
    ts = rows["ts"].astype(np.int64) // 1_000_000 + PG_EPOCH
    columns = {name: rows[name].astype(np.float64) for name in OHLCV_COLUMNS}
    return rows["position"].astype(np.int64), ts, columns


def _copy_rows(data: memoryview) -> np.ndarray:
    """The rows of a COPY BINARY stream of COPY_FIELDS, checked field by field (no NULL)."""
    signature = len(COPY_SIGNATURE)
    header = signature + 8 + int.from_bytes(data[signature + 4 : signature + 8], "big")  # flags, extension
    count, rest = divmod(len(data) - header - 2, COPY_ROW.itemsize)  # 2: the end marker
    if bytes(data[:signature]) != COPY_SIGNATURE or rest or bytes(data[-2:]) != b"\xff\xff":
        raise ValueError("the candle window's COPY BINARY stream has an unexpected layout")
    rows = np.frombuffer(data, dtype=COPY_ROW, count=count, offset=header)
    bad = rows["fields"] != len(COPY_FIELDS)
    for name, kind in COPY_FIELDS:
        bad |= rows[f"{name}_size"] != np.dtype(kind).itemsize
    if bad.any():
        raise ValueError("the candle window's COPY BINARY rows have an unexpected field")
    return rows


def _fetch_columns(symbols: list[str], start, end, last: int | None, interval: str):
    """The generic path (SQLite, or no `last`): load_frames' query, its rows turned into columns."""
    rows = []
    if symbols:
        with connection.cursor() as cursor:
            cursor.execute(*_frames_query(symbols, start, end, last, interval))
            rows = cursor.fetchall()
    found = pd.DataFrame.from_records(rows, columns=["symbol", *FRAME_COLUMNS])
    position = found["symbol"].map({symbol: i for i, symbol in enumerate(symbols)}).to_numpy(np.int64)
    ts = epoch_seconds(pd.to_datetime(found["timestamp"], utc=True))
    return position, ts, {name: found[name].to_numpy(np.float64) for name in OHLCV_COLUMNS}


def _assemble(
    symbols: list[str], position: np.ndarray, ts: np.ndarray, columns: dict, frames=None
) -> Candles:
    """Rows in any order -> each symbol's rows together, oldest first."""
    span = ts - (ts.min() if len(ts) else 0)  # < 2**32 s (136 years): one sort key with the place
    order = np.argsort((position << 32) + span, kind="stable")
    counts = np.bincount(position, minlength=len(symbols)).astype(np.int64)
    ends = np.cumsum(counts)
    arrays = {name: values[order] for name, values in columns.items()}
    return Candles(tuple(symbols), ends - counts, ends, ts[order], frames=frames, **arrays)
