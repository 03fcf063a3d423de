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
    CandleValidationError,
    floor_minute,
    last_stored_timestamps,
    store_candles,
    validate_candles,
)
from .sources.base import MarketDataSource
from .upbit import BannedError, UpbitError

log = logging.getLogger(__name__)

PAGE = 200


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
) -> CollectResult:
    """Fetch and store every closed bar after each symbol's last stored one (at most `max_pages` each)."""
    result = CollectResult(symbols=len(symbols))
    started = time.perf_counter()
    last = last_stored_timestamps(symbols)
    result.db_seconds += time.perf_counter() - started
    end = floor_minute(now)  # bars before the current minute are closed

    def fetch(symbol: str) -> _Fetched:
        start = last[symbol] + ONE_MINUTE if last[symbol] else end - timedelta(minutes=PAGE)
        return _fetch_forward(source, symbol, start, end, now=now, max_pages=max_pages)

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        fetched = list(pool.map(fetch, symbols))
    rows = []
    for item in fetched:
        rows.extend(item.rows)
        result.requests += item.requests
        if item.banned:
            result.banned = item.error
        elif item.error:
            result.errors[item.symbol] = item.error
    started = time.perf_counter()
    result.stored = store_candles(rows)
    result.db_seconds += time.perf_counter() - started
    return result


def _fetch_forward(
    source: MarketDataSource, symbol: str, start: datetime, end: datetime, *, now: datetime, max_pages: int
) -> _Fetched:
    fetched = _Fetched(symbol)
    cursor = start
    page_minutes = min(PAGE, source.page_size)
    try:
        while cursor < end and fetched.requests < max_pages:
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
