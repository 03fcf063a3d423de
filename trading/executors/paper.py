"""Paper trading: fills simulated with the backtester's fill model, booked like real ones.

When the market source has an order book (Upbit's real one, or the simulated market's), a fill
walks it: a buy is checked like a live one (refused when the book cannot fill it, a RiskAudit
warning above the thresholds) and pays the average of the levels it takes. Without a book (CSV
replay, the replay of history) the fixed-bps model applies, exactly as in the backtester.
"""

import logging
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from django.conf import settings

from core.shared_clients import ClosingCache
from market.orderbook import OrderBook, OrderBookError
from market.sources import get_source
from market.sources.base import MarketDataSource
from market.upbit import UpbitError
from trading import booking
from trading.fills import (
    BelowMinimumOrder,
    Fill,
    book_buy_fill,
    book_sell_fill,
    buy_fill,
    realised_slippage_bps,
    sell_fill,
)
from trading.metrics import observe_slippage
from trading.models import Trade, TradeMode

from .base import BuyOrder, ExecutionError, Executor, OrderRefused, SellOrder, check_liquidity

log = logging.getLogger(__name__)

BookProvider = Callable[[str, datetime], OrderBook | None]
# A book this far from the decision price describes another market than the stored candles
# (e.g. candles loaded from a file while the source is the simulator): it is not used.
BOOK_MISMATCH_PCT = Decimal(5)
BPS_PLACES = Decimal("0.0001")


class PaperExecutor(Executor):
    """Fills from the order book when the source has one, else at the reference price plus a
    fixed number of basis points."""

    mode = TradeMode.PAPER

    def __init__(
        self, *, slippage_bps: Decimal, books: BookProvider | None = None, mode: str = TradeMode.PAPER
    ):
        self.slippage_bps = slippage_bps
        self.books = books
        self.mode = mode

    @classmethod
    def from_settings(cls) -> "PaperExecutor":
        source = book_source(settings.COINPILOT_MARKET_SOURCE)
        return cls(slippage_bps=Decimal(settings.COINPILOT_PAPER_SLIPPAGE_BPS), books=source.order_book)

    def buy(self, order: BuyOrder) -> Trade:
        book = self._book(order.symbol, order.at, order.reference_price)
        try:
            if book is None:
                fill = buy_fill(
                    krw=order.krw, reference=order.reference_price, slippage_bps=self.slippage_bps
                )
                info, expected, reference = {}, self.slippage_bps, order.reference_price
            else:
                fill, liquidity = book_buy_fill(krw=order.krw, asks=book.asks)
                info = check_liquidity(order, order.krw, book, liquidity)  # raises when unfillable
                expected, reference = liquidity.slippage_bps, book.best_ask
        except BelowMinimumOrder as exc:
            raise OrderRefused(str(exc)) from exc
        trade = booking.book_buy(
            symbol=order.symbol,
            fill=fill,
            client_order_id=order.client_order_id,
            regime=order.regime,
            at=order.at,
            strategy_name=order.strategy_name,
            signal_info=order.signal_info | info,
            mode=self.mode,
            slippage=slippage(fill, expected, reference),
        )
        observe_slippage("BUY", self.mode, trade.realised_slippage_bps)
        return trade

    def sell(self, order: SellOrder) -> Trade:
        book = self._book(order.symbol, order.at, order.reference_price, selling=True)
        fill, info = None, {}
        if book is not None:
            fill, liquidity = book_sell_fill(quantity=order.quantity, bids=book.bids)
            expected, reference = liquidity.slippage_bps, book.best_bid if book.bids else None
            info = {"book_best_bid": str(reference), "book_levels": liquidity.levels_used} if fill else {}
        if fill is None:  # no book, or bids too thin: an exit is never refused for size
            fill = sell_fill(
                quantity=order.quantity, reference=order.reference_price, slippage_bps=self.slippage_bps
            )
            expected, reference = self.slippage_bps, order.reference_price
        trade = booking.book_sell(
            symbol=order.symbol,
            fill=fill,
            client_order_id=order.client_order_id,
            reason=order.reason,
            at=order.at,
            limits=order.limits,
            regime=order.regime,
            strategy_name=order.strategy_name,
            signal_info=order.signal_info | info,
            mode=self.mode,
            slippage=slippage(fill, expected, reference),
        )
        observe_slippage("SELL", self.mode, trade.realised_slippage_bps)
        return trade

    def _book(
        self, symbol: str, at: datetime, reference: Decimal, *, selling: bool = False
    ) -> OrderBook | None:
        """The source's book for this order, None when there is none (or it is another market's)."""
        if self.books is None:
            return None
        try:
            book = self.books(symbol, at)
        except (OrderBookError, UpbitError) as exc:
            if selling:  # an exit goes ahead at the fixed-bps price rather than not at all
                log.warning("%s: order book unavailable (%s); selling at the bps model price", symbol, exc)
                return None
            raise ExecutionError(
                f"{symbol}: buy not filled, the order book could not be read: {exc}"
            ) from None
        if book is None:
            return None
        if abs(book.best_ask / reference - 1) * 100 > BOOK_MISMATCH_PCT:
            log.warning(
                "%s: order book best ask %s is more than %s%% from the decision price %s; using bps",
                symbol,
                book.best_ask,
                BOOK_MISMATCH_PCT,
                reference,
            )
            return None
        return book


def slippage(fill: Fill, expected_bps: Decimal, reference: Decimal) -> dict:
    """The trade's slippage fields: expected by the model or book, realised against `reference`."""
    return {
        "expected_slippage_bps": expected_bps.quantize(BPS_PLACES),
        "realised_slippage_bps": realised_slippage_bps(fill.side, fill.price, reference),
    }


_sources = ClosingCache(4)


def book_source(spec: str) -> MarketDataSource:
    """One source per process for the books (an Upbit source keeps its connection pool)."""
    return _sources.get(spec, lambda: get_source(spec))
