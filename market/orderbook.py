"""Order books: one validated shape for Upbit's answer and the simulated market's book.

A book is checked at the edge like candles are: a malformed answer raises OrderBookError naming
the market, the level and the field, and nothing downstream ever sees a half-read book.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

MAX_VALUE = Decimal("1e18")


class OrderBookError(ValueError):
    """The order book is missing or malformed; the message says which market and field."""


@dataclass(frozen=True)
class Level:
    price: Decimal
    size: Decimal  # base-asset quantity offered at this price


@dataclass(frozen=True)
class OrderBook:
    symbol: str
    asks: tuple[Level, ...]  # lowest price first
    bids: tuple[Level, ...]  # highest price first
    at: datetime | None = None  # when the exchange built it (UTC)

    @property
    def best_ask(self) -> Decimal:
        return self.asks[0].price

    @property
    def best_bid(self) -> Decimal:
        return self.bids[0].price


def validated(symbol: str, asks: list[Level], bids: list[Level], at: datetime | None = None) -> OrderBook:
    """An OrderBook whose sides are sorted best first and do not cross; raise OrderBookError."""
    if not asks:
        raise OrderBookError(f"{symbol} order book: no ask levels (nothing offered for sale)")
    for side, levels, ascending in (("ask", asks, True), ("bid", bids, False)):
        for n, (before, after) in enumerate(zip(levels, levels[1:], strict=False), start=2):
            if (after.price <= before.price) if ascending else (after.price >= before.price):
                raise OrderBookError(
                    f"{symbol} order book level {n} {side}_price: {after.price} is out of order "
                    f"after {before.price}"
                )
    if bids and bids[0].price >= asks[0].price:
        raise OrderBookError(
            f"{symbol} order book: best bid {bids[0].price} is not below best ask {asks[0].price}"
        )
    return OrderBook(symbol, tuple(asks), tuple(bids), at)


def parse_upbit_orderbook(body, symbol: str) -> OrderBook:
    """Upbit's `GET /v1/orderbook?markets=SYMBOL` answer as an OrderBook; raise OrderBookError."""
    if not isinstance(body, list):
        raise OrderBookError(f"{symbol} order book: expected a list, got {type(body).__name__}")
    item = next((x for x in body if isinstance(x, dict) and x.get("market") == symbol), None)
    if item is None:
        raise OrderBookError(f"{symbol} order book: the answer has no entry for {symbol}")
    units = item.get("orderbook_units")
    if not isinstance(units, list) or not units:
        raise OrderBookError(f"{symbol} order book: orderbook_units is missing or empty")
    asks, bids = [], []
    for n, unit in enumerate(units, start=1):
        if not isinstance(unit, dict):
            raise OrderBookError(f"{symbol} order book level {n}: not an object ({unit!r:.60})")
        ask_price, bid_price = (_price(unit, name, symbol, n) for name in ("ask_price", "bid_price"))
        ask_size, bid_size = (_size(unit, name, symbol, n) for name in ("ask_size", "bid_size"))
        if ask_size > 0:  # an empty level offers nothing; Upbit pads thin books with them
            asks.append(Level(ask_price, ask_size))
        if bid_size > 0:
            bids.append(Level(bid_price, bid_size))
    return validated(symbol, asks, bids, _moment(item.get("timestamp")))


def _number(unit: dict, name: str, symbol: str, n: int) -> Decimal:
    value = unit.get(name)
    where = f"{symbol} order book level {n} {name}"
    if value is None:
        raise OrderBookError(f"{where}: missing")
    try:
        if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
            raise InvalidOperation
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError):
        raise OrderBookError(f"{where}: not a number ({value!r:.40})") from None
    if not number.is_finite() or not -MAX_VALUE < number < MAX_VALUE:
        raise OrderBookError(f"{where}: not a finite number in range ({value!r:.40})")
    return number


def _price(unit: dict, name: str, symbol: str, n: int) -> Decimal:
    price = _number(unit, name, symbol, n)
    if price <= 0:
        raise OrderBookError(f"{symbol} order book level {n} {name}: must be positive, got {price}")
    return price


def _size(unit: dict, name: str, symbol: str, n: int) -> Decimal:
    size = _number(unit, name, symbol, n)
    if size < 0:
        raise OrderBookError(f"{symbol} order book level {n} {name}: negative ({size})")
    return size


def _moment(millis) -> datetime | None:
    if isinstance(millis, int) and not isinstance(millis, bool) and millis > 0:
        return datetime.fromtimestamp(millis / 1000, UTC)
    return None
