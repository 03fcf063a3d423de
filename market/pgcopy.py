"""Bulk candle storage on PostgreSQL: COPY, streamed while the rows are formatted.

Measured on the 2-core box (bench/bench_candle_store.py): `INSERT ... ON CONFLICT DO NOTHING`
costs twice a plain insert per row, even when nothing conflicts. So a large batch first reads
which of its keys are already stored (one index range scan), COPYs only the new rows straight
into market_data, and falls back to a staging table + ON CONFLICT when a concurrent writer
stored one of them in between (a unique violation rolls back to the savepoint).
"""

from collections.abc import Iterator, Sequence

import psycopg2
from django.db import IntegrityError, connection, transaction

# A CandleRow's fields, then the source, which is one for the whole batch.
COLUMNS = (
    "symbol", "interval", "timestamp", "open", "high", "low", "close", "volume", "quote_volume",
    "source",
)  # fmt: skip
_COLUMN_LIST = ", ".join(COLUMNS)


class _Lines:
    """A file-like object producing COPY text lazily, so formatting overlaps the server's work."""

    def __init__(self, lines: Iterator[str]):
        self.lines = lines
        self.pending = ""

    def read(self, size: int = -1) -> str:
        chunks, length = [self.pending], len(self.pending)
        for line in self.lines:
            chunks.append(line)
            length += len(line)
            if 0 < size <= length:
                break
        text = "".join(chunks)
        if size > 0:
            text, self.pending = text[:size], text[size:]
        else:
            self.pending = ""
        return text

    readline = read


def _copy_lines(rows, source: str) -> Iterator[str]:
    stamps = {}  # a batch of many symbols repeats each minute once per symbol
    for r in rows:
        stamp = stamps.get(r.timestamp)
        if stamp is None:
            stamp = stamps[r.timestamp] = r.timestamp.isoformat()
        quote = "\\N" if r.quote_volume is None else str(r.quote_volume)
        yield "\t".join(
            (r.symbol, r.interval, stamp, str(r.open), str(r.high), str(r.low),
             str(r.close), str(r.volume), quote, source)
        ) + "\n"  # fmt: skip


def store_by_copy(rows: Sequence, source: str) -> int:
    """Insert the rows not yet stored; return how many were new. Call inside a transaction."""
    present = _stored_keys(rows)
    fresh = [r for r in rows if (r.symbol, r.interval, r.timestamp) not in present] if present else rows
    if not fresh:
        return 0
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.copy_expert(
                f"COPY market_data ({_COLUMN_LIST}) FROM STDIN", _Lines(_copy_lines(fresh, source)), 65536
            )
        return len(fresh)
    except (IntegrityError, psycopg2.IntegrityError):  # copy_expert raises the driver's own
        return _store_via_staging(fresh, source)  # someone stored some of them meanwhile, or duplicates


def _stored_keys(rows: Sequence) -> set:
    symbols = sorted({r.symbol for r in rows})
    intervals = sorted({r.interval for r in rows})
    first = min(r.timestamp for r in rows)
    last = max(r.timestamp for r in rows)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT symbol, interval, timestamp FROM market_data "
            "WHERE symbol = ANY(%s) AND interval = ANY(%s) AND timestamp BETWEEN %s AND %s",
            [symbols, intervals, first, last],
        )
        return set(cursor.fetchall())


def _store_via_staging(rows: Sequence, source: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE market_data_staging (LIKE market_data INCLUDING DEFAULTS) ON COMMIT DROP"
        )
        cursor.copy_expert(
            f"COPY market_data_staging ({_COLUMN_LIST}) FROM STDIN", _Lines(_copy_lines(rows, source)), 65536
        )
        cursor.execute(
            f"INSERT INTO market_data ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} "  # noqa: S608
            "FROM market_data_staging ON CONFLICT DO NOTHING"
        )
        inserted = cursor.rowcount
        # Dropped now, not only at commit: an enclosing transaction may store another batch.
        cursor.execute("DROP TABLE market_data_staging")
        return inserted
