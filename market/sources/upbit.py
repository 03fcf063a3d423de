"""Candles from Upbit's quotation API (through market.upbit, the one HTTP module)."""

from datetime import datetime

from ..orderbook import OrderBook
from ..ticker import Ticker, TickerError, validate_tickers
from ..upbit import MAX_COUNT, UpbitClient
from .base import MarketDataSource

# Upbit field -> our field.
FIELDS = {
    "candle_date_time_utc": "timestamp",
    "opening_price": "open",
    "high_price": "high",
    "low_price": "low",
    "trade_price": "close",
    "candle_acc_trade_volume": "volume",
    "candle_acc_trade_price": "quote_volume",
}


def candle_from_upbit(item: dict) -> dict:
    """Rename one Upbit candle's fields; missing ones stay missing for validation to report."""
    if not isinstance(item, dict):
        return {}
    return {ours: item[theirs] for theirs, ours in FIELDS.items() if theirs in item}


class UpbitSource(MarketDataSource):
    name = "upbit"
    page_size = MAX_COUNT

    def __init__(self, client: UpbitClient | None = None, *, unit: int = 1):
        self.client = client or UpbitClient()
        self.unit = unit

    def fetch_candles(self, symbol: str, *, until: datetime, count: int) -> list[dict]:
        page = self.client.minute_candles(symbol, unit=self.unit, to=until, count=min(count, MAX_COUNT))
        if not isinstance(page, list):
            # A JSON object where a list belongs: let validation name it rather than crash later.
            return [{"timestamp": None}]
        return [candle_from_upbit(item) for item in reversed(page)]  # Upbit sends newest first

    def order_book(self, symbol: str, at: datetime) -> OrderBook:
        """Upbit's current book (validated; raises OrderBookError or an UpbitError)."""
        return self.client.order_book(symbol)

    def tickers(self, symbols: list[str], now: datetime) -> dict[str, Ticker]:
        """Upbit's ticker of every symbol in one request (validated; raises TickerError or an
        UpbitError)."""
        answer = self.client.ticker(symbols)
        if not isinstance(answer, list):
            raise TickerError(f"ticker: expected a list, got {type(answer).__name__} ({answer!r:.60})")
        raw = [
            {
                "symbol": item.get("market"),
                "price": item.get("trade_price"),
                "timestamp": item.get("trade_timestamp"),
            }
            if isinstance(item, dict)
            else item
            for item in answer
        ]
        return validate_tickers(raw, symbols=symbols, now=now)

    def close(self) -> None:
        self.client.close()
