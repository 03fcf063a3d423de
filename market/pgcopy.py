"""Bulk candle storage on PostgreSQL: COPY, streamed while the rows are formatted.

Measured on the 2-core box (bench/bench_candle_store.py): `INSERT ... ON CONFLICT DO NOTHING`
costs twice a plain insert per row, even when nothing conflicts. So a large batch first reads
each symbol's newest stored bar (one index probe each): rows newer than it cannot be stored yet;
only for the others does it read which keys are stored (one index range scan). It COPYs the new
rows straight into market_data, and falls back to a staging table + ON CONFLICT when a concurrent
writer stored one of them in between (a unique violation rolls back to the savepoint). The rollup
is brought up to date from the rows as they stream (market/rollups.py).
"""

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from itertools import repeat
from operator import is_, itemgetter

import psycopg2
from django.db import IntegrityError, connection, transaction

from . import rollups
from .copystream import copy_lines

# A CandleRow's fields, then the source, which is one for the whole batch.
COLUMNS = (
    "symbol", "interval", "timestamp", "open", "high", "low", "close", "volume", "quote_volume",
    "source",
)  # fmt: skip
_COLUMN_LIST = ", ".join(COLUMNS)


PIECE = 1000  # rows per piece of COPY text (about 90 KB: the server parses one while the next is made)


class _Stamps(dict):
    """moment -> its COPY text, made once per distinct moment (a batch of many symbols repeats each
    minute once per symbol)."""

    def __missing__(self, moment: datetime) -> str:
        text = self[moment] = moment.isoformat()
        return text


def copy_text(
    rows: Sequence, source: str, then: Callable[[list[tuple]], None] | None = None
) -> Iterator[str]:
    """The rows as COPY text in pieces of PIECE rows, formatted a column at a time (`map` over a
    column runs in C: no Python frame per row). `then` gets each piece's columns after its text."""
    stamps = _Stamps()
    for at in range(0, len(rows), PIECE):
        columns = list(zip(*rows[at : at + PIECE], strict=True))
        symbol, interval, moment, *numbers, quote = columns
        if any(map(is_, quote, repeat(None))):  # not `None in quote`: Decimal == None costs an isinstance
            quotes = ["\\N" if q is None else str(q) for q in quote]
        else:
            quotes = map(str, quote)
        lines = zip(
            symbol, interval, map(stamps.__getitem__, moment), *(map(str, column) for column in numbers),
            quotes, repeat(source),
        )  # fmt: skip
        yield "\n".join(map("\t".join, lines)) + "\n"
        if then is not None:
            then(columns)


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Python's cycle collector off while a batch is formatted and sent: the text is made of new
    strings and tuples (no cycles), yet their count sets off full collections, each walking every
    object the caller holds (a million candle rows: 0.3-0.4 s of a 1.4 s batch, in every other
    run). Switched back on after, unless it was off."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def store_by_copy(rows: Sequence, source: str) -> int:
    """Insert the rows not yet stored and bring the rollup up to date; return how many were new.

    Call inside a transaction.
    """
    newest = _newest_stored(rows)
    present = _stored_keys(_not_newer(rows, newest))
    fresh = [r for r in rows if (r.symbol, r.interval, r.timestamp) not in present] if present else rows
    if not fresh:
        return 0
    minutes = rollups.NewMinutes()
    try:
        with transaction.atomic(), connection.cursor() as cursor, cyclic_gc_paused():
            text = copy_text(fresh, source, then=minutes.add)
            copy_lines(cursor, f"COPY market_data ({_COLUMN_LIST}) FROM STDIN", text)
            minutes.store(newest, present)
    except (IntegrityError, psycopg2.IntegrityError):  # copy_expert raises the driver's own
        # Someone stored some of them meanwhile, duplicates, or a rollup row without minutes:
        # the rows again through ON CONFLICT, the rollup from the table.
        inserted = _store_via_staging(fresh, source)
        if inserted:
            rollups.refresh_for(rows)
        return inserted
    return len(fresh)


def _newest_stored(rows: Sequence) -> dict[tuple[str, str], datetime]:
    """The newest stored bar of each (symbol, interval) of the rows that has one."""
    with connection.cursor() as cursor:
        cursor.execute(
            'SELECT s.symbol, i.iv, (SELECT max(m."timestamp") FROM market_data m '
            "WHERE m.symbol = s.symbol AND m.interval = i.iv) "
            "FROM unnest(%s::text[]) AS s(symbol) CROSS JOIN unnest(%s::text[]) AS i(iv)",
            [sorted(set(map(itemgetter(0), rows))), sorted(set(map(itemgetter(1), rows)))],
        )
        return {(symbol, interval): newest for symbol, interval, newest in cursor.fetchall() if newest}


def _not_newer(rows: Sequence, newest: dict[tuple[str, str], datetime]) -> list:
    """The rows that may be stored already: not newer than their series' newest stored bar."""
    if not newest or min(map(itemgetter(2), rows)) > max(newest.values()):
        return []
    return [r for r in rows if (n := newest.get((r[0], r[1]))) is not None and r[2] <= n]


def _stored_keys(rows: Sequence) -> set:
    """The stored keys of the rows' series in the whole hours around them (the rollup asks too)."""
    if not rows:
        return set()
    hour = rollups.WIDTH
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT symbol, interval, timestamp FROM market_data "
            "WHERE symbol = ANY(%s) AND interval = ANY(%s) AND timestamp >= %s AND timestamp < %s",
            [
                sorted({r.symbol for r in rows}),
                sorted({r.interval for r in rows}),
                rollups.floor_to(min(r.timestamp for r in rows), hour),
                rollups.floor_to(max(r.timestamp for r in rows), hour) + hour,
            ],
        )
        return set(cursor.fetchall())


def _store_via_staging(rows: Sequence, source: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE market_data_staging (LIKE market_data INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        copy_lines(cursor, f"COPY market_data_staging ({_COLUMN_LIST}) FROM STDIN", copy_text(rows, source))
        cursor.execute(
            f"INSERT INTO market_data ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} "  # noqa: S608
            "FROM market_data_staging ON CONFLICT DO NOTHING"
        )
        inserted = cursor.rowcount
        # Dropped now, not only at commit: an enclosing transaction may store another batch.
        cursor.execute("DROP TABLE market_data_staging")
        return inserted
