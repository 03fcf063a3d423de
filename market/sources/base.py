"""The interface every candle source implements (Upbit, simulated, CSV replay)."""

from abc import ABC, abstractmethod
from datetime import datetime

from ..candles import ONE_MINUTE, floor_minute, parse_timestamp
from ..orderbook import OrderBook
from ..ticker import Ticker, validate_tickers


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

    def order_book(self, symbol: str, at: datetime) -> OrderBook | None:
        """The order book of `symbol` at `at` (validated), or None when this source has none."""
        return None

    def tickers(self, symbols: list[str], now: datetime) -> dict[str, Ticker]:
        """The latest trade price of each symbol (validated; a bad answer raises TickerError).

        A source of candles only knows their closes: here, the close of the newest bar closed by
        `now`, at its close time (Upbit asks its ticker instead).
        """
        raw = []
        for symbol in symbols:
            rows = self.fetch_candles(symbol, until=floor_minute(now), count=1)
            if rows:
                raw.append(
                    {"symbol": symbol, "price": rows[-1].get("close"), "timestamp": _closed_at(rows[-1])}
                )
        return validate_tickers(raw, symbols=symbols, now=now)

    def default_until(self, now: datetime) -> datetime:
        """The exclusive end of "all data so far" (a replayed file ends in the past)."""
        return now

    def close(self) -> None:  # noqa: B027  (optional hook, not abstract)
        """Release connections (nothing by default)."""


def _closed_at(candle: dict):
    """When a raw candle closed; an unreadable time is passed on for validation to name."""
    try:
        return parse_timestamp(candle.get("timestamp")) + ONE_MINUTE
    except (TypeError, ValueError):
        return candle.get("timestamp")
