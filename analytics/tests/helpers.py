"""Builders for analytics tests: trades and 1m bars with hand-picked numbers."""

from datetime import datetime, timedelta
from decimal import Decimal
from itertools import count

from market.candles import CandleRow, store_candles
from trading.models import Trade, TradeStatus

_ids = count(1)


def make_trade(
    side: str,
    at: datetime | None,
    *,
    symbol="KRW-BTC",
    price="100",
    quantity="1",
    fee="0",
    regime="BULL",
    exit_reason="",
    signal_info=None,
    post=None,
    created_at=None,
    **fields,
) -> Trade:
    """A FILLED trade executed at `at` (None: only created_at, which then is `created_at`)."""
    trade = Trade.objects.create(
        symbol=symbol,
        side=side,
        price=Decimal(price),
        quantity=Decimal(quantity),
        fee=Decimal(fee),
        status=fields.pop("status", TradeStatus.FILLED),
        regime=regime if side == "SELL" else "",
        exit_reason=exit_reason,
        signal_info=signal_info or {},
        post_exit_prices=post or {},
        client_order_id=f"test-{next(_ids)}",
        executed_at=at,
        **fields,
    )
    if created_at is not None:
        Trade.objects.filter(pk=trade.pk).update(created_at=created_at)
    return trade


def sell(at, *, entry=None, entry_fee=None, **kwargs) -> Trade:
    """A SELL; `entry` becomes signal_info.entry_avg_price like trading/booking.py stores it."""
    info = dict(kwargs.pop("signal_info", {}) or {})
    if entry is not None:
        info["entry_avg_price"] = str(entry)
    if entry_fee is not None:
        info["entry_fee"] = str(entry_fee)
    return make_trade("SELL", at, signal_info=info, **kwargs)


def buy(at, **kwargs) -> Trade:
    return make_trade("BUY", at, **kwargs)


def make_bars(symbol: str, closes: dict[datetime, str]) -> None:
    """Store 1m bars {bar open time: close} (open = high = low = close)."""
    rows = []
    for at, close in sorted(closes.items()):
        price = Decimal(close)
        rows.append(CandleRow(symbol, "1m", at, price, price, price, price, Decimal(1), None))
    store_candles(rows)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
