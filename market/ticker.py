"""Ticker prices: the latest trade price of each market, one validated shape for every source.

The bot cycle asks for them only when a held symbol's candles stopped, so its stop loss, trailing
stop and time limit keep working. An answer is checked at the edge like candles are: one bad item
rejects the whole answer with the market and field in the message, and nothing is used from it.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

MAX_VALUE = Decimal(10) ** 20  # prices are stored as DecimalField(max_digits=28, decimal_places=8)
CLOCK_SKEW = timedelta(seconds=60)  # the exchange's clock may run a little ahead of ours


class TickerError(ValueError):
    """A ticker answer was rejected; the message names the market and the field."""


@dataclass(frozen=True)
class Ticker:
    symbol: str
    price: Decimal
    at: datetime  # time of that trade (UTC)


def validate_tickers(raw: Iterable[Mapping], *, symbols: Sequence[str], now: datetime) -> dict[str, Ticker]:
    """Raw `{symbol, price, timestamp}` items as Tickers by symbol; raise TickerError on the first
    bad one. A market the answer leaves out simply has no price."""
    wanted = set(symbols)
    found: dict[str, Ticker] = {}
    for item in raw:
        if not isinstance(item, Mapping):
            raise TickerError(f"ticker: an item is not an object ({item!r:.60})")
        symbol = item.get("symbol")
        if symbol not in wanted:
            raise TickerError(f"ticker: market {symbol!r:.30} was not asked for")
        if symbol in found:
            raise TickerError(f"ticker {symbol}: market appears twice")
        found[symbol] = Ticker(
            symbol, _price(item.get("price"), symbol), _moment(item.get("timestamp"), symbol, now)
        )
    return found


def _price(value, symbol: str) -> Decimal:
    if value is None or value == "":
        raise TickerError(f"ticker {symbol} price: missing")
    try:
        if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
            raise InvalidOperation
        price = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError):
        raise TickerError(f"ticker {symbol} price: not a number ({value!r:.40})") from None
    if not price.is_finite() or not 0 < price < MAX_VALUE:
        raise TickerError(f"ticker {symbol} price: must be a positive number in range, got {value!r:.40}")
    return price


def _moment(value, symbol: str, now: datetime) -> datetime:
    """A trade time given as a datetime, an ISO string (UTC if no offset) or epoch milliseconds."""
    try:
        if isinstance(value, int) and not isinstance(value, bool):
            moment = datetime.fromtimestamp(value / 1000, UTC)
        elif isinstance(value, str):
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        elif isinstance(value, datetime):
            moment = value
        else:
            raise TypeError
    except (TypeError, ValueError, OverflowError, OSError):
        raise TickerError(f"ticker {symbol} timestamp: not a time ({value!r:.40})") from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if moment > now + CLOCK_SKEW:
        raise TickerError(f"ticker {symbol} timestamp: {moment:%Y-%m-%dT%H:%M:%SZ} is in the future")
    return moment
