"""Candles at the edge: validation of incoming bars, bulk storage, and loading for analysis.

A batch is validated as a whole before anything is written: one bad candle rejects the batch,
so a half-stored page can never look like a natural gap.
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

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
                inserted = store_by_copy(rows, source)
            else:
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
RANGE_SQL = (
    'SELECT symbol, "timestamp", CAST(open AS REAL), CAST(high AS REAL), CAST(low AS REAL), '
    "CAST(close AS REAL), CAST(volume AS REAL), CAST(quote_volume AS REAL) FROM {table} m "
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
    bounds, bound_params = "", []
    adapt = connection.ops.adapt_datetimefield_value
    if start is not None:
        bounds, bound_params = bounds + ' AND m."timestamp" >= %s', [*bound_params, adapt(start)]
    if end is not None:
        bounds, bound_params = bounds + ' AND m."timestamp" < %s', [*bound_params, adapt(end)]
    names = ", ".join(["%s"] * len(symbols))
    table = Candle._meta.db_table
    if last is not None and connection.vendor == "postgresql":
        sql = LATEST_SQL["postgresql"].format(table=table, bounds=bounds)
        params = [symbols, interval, *bound_params, last]
    elif last is not None:
        sql = LATEST_SQL["sqlite"].format(table=table, names=names, bounds=bounds)
        params = [*symbols, interval, *bound_params, last]
    else:
        sql = RANGE_SQL.format(table=table, names=names, bounds=bounds)
        params = [*symbols, interval, *bound_params]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return _split_frames(symbols, rows)


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
