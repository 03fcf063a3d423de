"""The interface every candle source implements (Upbit, simulated, CSV replay)."""

from abc import ABC, abstractmethod
from datetime import datetime


class MarketDataSource(ABC):
    """Where 1-minute candles come from.

    A raw candle is a dict with `timestamp` (bar open, UTC) and `open`, `high`, `low`, `close`,
    `volume`, optionally `quote_volume`: not yet validated (market.candles does that at the edge).
    """

    name: str = "source"
    page_size: int = 200  # the most candles one fetch may return

    @abstractmethod
    def fetch_candles(self, symbol: str, *, until: datetime, count: int) -> list[dict]:
        """Up to `count` candles of `symbol` starting before `until`: the newest ones, oldest first.

        Minutes without trades have no candle. An empty list means there is nothing before `until`.
        """

    def default_until(self, now: datetime) -> datetime:
        """The exclusive end of "all data so far" (a replayed file ends in the past)."""
        return now

    def close(self) -> None:  # noqa: B027  (optional hook, not abstract)
        """Release connections (nothing by default)."""
