"""Resumable, idempotent backfill of 1-minute candles from any source.

Pages are fetched newest first (Upbit's order: `to` is exclusive, the next page ends at the
oldest bar of the last one) and each page is stored in its own transaction. So an interrupted
run leaves [x, until) stored, and the next run only fetches what is missing at either end of the
stored block: [since, first stored) and (last stored, until). Stored bars are never re-fetched.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from .candles import (
    ONE_MINUTE,
    floor_minute,
    store_candles,
    stored_extent,
    stored_sources,
    validate_candles,
)
from .models import Candle, CandleSource
from .sources.base import MarketDataSource

log = logging.getLogger(__name__)


@dataclass
class SymbolReport:
    """What one symbol's backfill did."""

    symbol: str
    minutes: int = 0  # minutes of the range this run had to fetch
    minutes_done: int = 0
    present: int = 0  # bars of the range already stored before the run
    stored: int = 0  # bars this run added
    duplicates: int = 0  # bars fetched but already stored (another writer got there first)
    gaps: int = 0  # runs of minutes without a candle
    missing_minutes: int = 0
    pages: int = 0
    error: str = ""


Progress = Callable[[SymbolReport], None]


@dataclass
class Backfill:
    """Fill [since, until) for each symbol from `source`."""

    source: MarketDataSource
    since: datetime
    until: datetime
    progress: Progress | None = None
    reports: list[SymbolReport] = field(default_factory=list)

    def run(self, symbols: list[str]) -> list[SymbolReport]:
        for symbol in symbols:
            self.reports.append(self.run_symbol(symbol))
        return self.reports

    def run_symbol(self, symbol: str) -> SymbolReport:
        report = SymbolReport(symbol)
        count, first, last = stored_extent(symbol, self.since, self.until)
        report.present = count
        segments = missing_segments(self.since, self.until, first, last)
        report.minutes = sum(int((hi - lo) / ONE_MINUTE) for lo, hi in segments)
        self._notify(report)
        try:
            for lo, hi in segments:
                self._fill(symbol, lo, hi, report)
            report.minutes_done = report.minutes
            self._notify(report)
        except Exception as exc:
            # One symbol's failure (validation, permanent API error) must not stop the others;
            # a ban stops them all (the caller sees it as the exception).
            from .upbit import BannedError

            if isinstance(exc, BannedError | KeyboardInterrupt):
                raise
            report.error = f"{type(exc).__name__}: {exc}"
            log.warning("backfill %s stopped: %s", symbol, report.error)
        return report

    def _fill(self, symbol: str, lo: datetime, hi: datetime, report: SymbolReport) -> None:
        to = hi
        newer = hi  # the bar after the last one seen, for gap counting
        while to > lo:
            page = self.source.fetch_candles(symbol, until=to, count=self.source.page_size)
            report.pages += 1
            if not page:
                break  # nothing older exists (listing start)
            rows = validate_candles(page, symbol=symbol, now=timezone.now())
            keep = [row for row in rows if lo <= row.timestamp < to]
            inserted = store_candles(keep, source=self.source.name)
            report.stored += inserted
            report.duplicates += len(keep) - inserted
            for row in reversed(keep):
                _count_gap(report, row.timestamp, newer)
                newer = row.timestamp
            oldest = rows[0].timestamp
            report.minutes_done += int((to - max(oldest, lo)) / ONE_MINUTE)
            self._notify(report)
            if oldest <= lo or oldest >= to:
                break
            to = oldest
        if newer > lo:
            _count_gap(report, lo - ONE_MINUTE, newer)  # no bar at the old end of the range

    def _notify(self, report: SymbolReport) -> None:
        if self.progress:
            self.progress(report)


@dataclass(frozen=True)
class StoredElsewhere:
    """A symbol whose stored candles come from another source (or an unrecorded one)."""

    symbol: str
    source: str  # a CandleSource value
    count: int


def stored_elsewhere(symbols: list[str], source: str) -> list[StoredElsewhere]:
    """The symbols whose stored candles are not (known to be) from `source`, with their counts."""
    found = []
    for symbol, stored in stored_sources(symbols).items():
        if stored not in (None, source):
            found.append(StoredElsewhere(symbol, stored, Candle.objects.filter(symbol=symbol).count()))
    return found


def switching_refusal(others: list[StoredElsewhere], source: str) -> str:
    """Why a backfill from `source` is refused without --replace ("" when it is not)."""
    known = [o for o in others if o.source != CandleSource.UNKNOWN]
    if not known:
        return ""
    held = "; ".join(f"{o.symbol} holds {o.count:,} candles from {o.source}" for o in known)
    return (
        f"{held}. Candles from {source} would be mixed with them (bars already stored are never "
        f"fetched again). Run again with --replace to delete those symbols' stored candles and "
        f"rollups, then backfill them from {source}."
    )


def _count_gap(report: SymbolReport, older: datetime, newer: datetime) -> None:
    missing = int((newer - older) / ONE_MINUTE) - 1
    if missing > 0:
        report.gaps += 1
        report.missing_minutes += missing


def missing_segments(
    since: datetime, until: datetime, first: datetime | None, last: datetime | None
) -> list[tuple[datetime, datetime]]:
    """The parts of [since, until) outside the stored block [first, last], newest first."""
    if first is None:
        return [(since, until)] if since < until else []
    segments = []
    if last + ONE_MINUTE < until:
        segments.append((last + ONE_MINUTE, until))
    if since < first:
        segments.append((since, first))
    return segments


def resolve_range(
    source: MarketDataSource,
    *,
    now: datetime,
    days: float | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[datetime, datetime]:
    """[since, until) on minute boundaries; only closed bars, so until <= the current minute."""
    end = floor_minute(min(until or source.default_until(now), now))
    if since is None:
        first = getattr(source, "first_time", lambda: None)()
        if days is None and first is not None:
            since = first  # a replayed file: all of it by default
        else:
            since = end - timedelta(days=30 if days is None else days)
    start = floor_minute(since) + (ONE_MINUTE if since != floor_minute(since) else timedelta(0))
    if start >= end:
        raise ValueError(f"empty range: since {start:%Y-%m-%d %H:%M} is not before {end:%Y-%m-%d %H:%M}")
    return start, end
