"""Keep the newest closed 1-minute candles of every symbol stored (the `collect_candles` job).

One query finds every symbol's last stored bar; each symbol is then fetched forward from there in
windows of 200 minutes (oldest first, so a run cut short leaves no hole), through a few threads
that share the Redis rate limiter; all new bars are stored in one bulk insert at the end.
"""

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .candles import (
    ONE_MINUTE,
    CandleRow,
    CandleSourceError,
    CandleValidationError,
    floor_minute,
    last_stored_timestamps,
    source_conflict,
    store_candles,
    stored_sources,
    validate_candles,
)
from .models import CandleSource
from .sources.base import MarketDataSource
from .upbit import BannedError, UpbitError

log = logging.getLogger(__name__)

PAGE = 200
FLUSH_ROWS = 20_000


@dataclass
class CollectResult:
    symbols: int = 0
    stored: int = 0
    requests: int = 0
    db_seconds: float = 0.0
    errors: dict[str, str] = field(default_factory=dict)
    banned: str = ""

    def summary(self) -> str:
        text = (
            f"{self.stored} new bars for {self.symbols} symbols, {self.requests} requests, "
            f"db {self.db_seconds:.3f}s"
        )
        if self.banned:
            text += f"; stopped: {self.banned}"
        if self.errors:
            text += f"; {len(self.errors)} failed: " + "; ".join(f"{s}: {e}" for s, e in self.errors.items())
        return text


@dataclass
class _Fetched:
    symbol: str
    rows: list[CandleRow] = field(default_factory=list)
    requests: int = 0
    error: str = ""
    banned: bool = False


def collect(
    source: MarketDataSource,
    symbols: list[str],
    *,
    now: datetime,
    max_pages: int = 36,
    threads: int = 4,
    budget: float = 90.0,
) -> CollectResult:
    """Fetch and store every closed bar after each symbol's last stored one.

    A long gap is filled at most `max_pages` per symbol and `budget` seconds per run (the job's
    time limit is 120 s); what is left is continued by the next run, oldest first.
    """
    result = CollectResult(symbols=len(symbols))
    started = time.perf_counter()
    symbols = _same_source_only(source, symbols, result)
    last = last_stored_timestamps(symbols)
    result.db_seconds += time.perf_counter() - started
    end = floor_minute(now)  # bars before the current minute are closed
    deadline = time.monotonic() + budget

    def fetch(symbol: str) -> _Fetched:
        start = last[symbol] + ONE_MINUTE if last[symbol] else end - timedelta(minutes=PAGE)
        return _fetch_forward(source, symbol, start, end, now=now, max_pages=max_pages, deadline=deadline)

    rows: list[CandleRow] = []
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for item in pool.map(fetch, symbols):
            rows.extend(item.rows)
            result.requests += item.requests
            if item.banned:
                result.banned = item.error
            elif item.error:
                result.errors[item.symbol] = item.error
            if len(rows) >= FLUSH_ROWS:  # a long catch-up is stored as it goes
                _flush(rows, result, source.name)
    _flush(rows, result, source.name)
    return result


def _same_source_only(source: MarketDataSource, symbols: list[str], result: CollectResult) -> list[str]:
    """The symbols whose stored candles are not from another source; the others are errors."""
    keep = []
    for symbol, stored in stored_sources(symbols).items():
        if stored in (None, CandleSource.UNKNOWN, source.name):
            keep.append(symbol)
        else:
            result.errors[symbol] = source_conflict(symbol, stored, source.name)
    return keep


def _flush(rows: list[CandleRow], result: CollectResult, source: str) -> None:
    started = time.perf_counter()
    try:
        result.stored += store_candles(rows, source=source)
    except CandleSourceError as exc:  # another source stored a symbol since the check above
        result.errors["store"] = str(exc)
    result.db_seconds += time.perf_counter() - started
    rows.clear()


def _fetch_forward(
    source: MarketDataSource,
    symbol: str,
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    max_pages: int,
    deadline: float,
) -> _Fetched:
    fetched = _Fetched(symbol)
    cursor = start
    page_minutes = min(PAGE, source.page_size)
    try:
        while cursor < end and fetched.requests < max_pages:
            if fetched.requests and time.monotonic() > deadline:
                break  # the next run continues from here
            to = min(cursor + timedelta(minutes=page_minutes), end)
            count = int((to - cursor) / ONE_MINUTE)
            page = source.fetch_candles(symbol, until=to, count=count)
            fetched.requests += 1
            rows = validate_candles(page, symbol=symbol, now=now)
            fetched.rows.extend(row for row in rows if cursor <= row.timestamp < to)
            cursor = to
    except BannedError as exc:
        fetched.error, fetched.banned = str(exc), True
    except (UpbitError, CandleValidationError) as exc:
        # Earlier pages stay (they are contiguous); the next run starts again at the bad one.
        fetched.error = f"{type(exc).__name__}: {exc}"
        log.warning("collect %s: %s", symbol, fetched.error)
    return fetched
