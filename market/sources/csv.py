"""Replay of historical candles from a `timestamp,open,high,low,close,volume[,quote_volume]` file."""

import bisect
import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ..candles import parse_timestamp
from .base import MarketDataSource


class CsvSource(MarketDataSource):
    """Serves one file's candles for whichever symbol is asked (a file holds one market)."""

    name = "csv"
    page_size = 10_000

    def __init__(self, path: str | Path):
        self.path = Path(path)
        with self.path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            missing = {"timestamp", "open", "high", "low", "close", "volume"} - set(reader.fieldnames or ())
            if missing:
                raise ValueError(f"{self.path}: missing columns {sorted(missing)}")
            rows = list(reader)
        # Sort by time so paging works on files stored newest first; an unreadable timestamp sorts
        # first and is then rejected, with its text, by validation.
        self.rows = sorted(rows, key=self._sort_key)
        self.times = [self._sort_key(row) for row in self.rows]

    @staticmethod
    def _sort_key(row: dict) -> datetime:
        try:
            return parse_timestamp(row.get("timestamp") or "")
        except (TypeError, ValueError):
            return datetime.min.replace(tzinfo=UTC)

    def fetch_candles(self, symbol: str, *, until: datetime, count: int) -> list[dict]:
        end = bisect.bisect_left(self.times, until)
        return [dict(row) for row in self.rows[max(0, end - count) : end]]

    def default_until(self, now: datetime) -> datetime:
        if not self.times:
            return now
        return min(now, self.times[-1] + timedelta(minutes=1))

    def first_time(self) -> datetime | None:
        return self.times[0] if self.times else None
