"""Live trading on Upbit (opt-in: COINPILOT_LIVE_TRADING=1 plus keys; system checks guard it).

One order, start to finish:
0. a buy first reads the order book (public API, the shared rate limiter) and walks the asks for
   its KRW amount: refused, with nothing sent or stored but a RiskAudit row, when the book cannot
   fill it; sent with a RiskAudit warning above the operator's slippage/levels thresholds. An
   unreadable or malformed book sends nothing;
1. the intent is committed as a PENDING trade carrying the client_order_id (the crash record);
2. the market order is sent with `identifier` = client_order_id;
3. it is polled until `done` or `cancel` (bounded by UPBIT_ORDER_POLL_TIMEOUT_SECONDS);
4. what actually executed (executed_volume, volume-weighted price, paid_fee) is booked through
   `trading.booking`, completing the PENDING row: cash, Position and Trade in one transaction.

A market buy ending `cancel` with volume is a fill; an order that executed nothing is FAILED.
When the outcome of the send is unknown (timeout, 5xx, lost answer) the order is looked up by
identifier and never sent again (an identifier is single-use); if Upbit cannot say yet, the
trade stays PENDING and `trading.reconcile` settles it at the start of the next cycle.
"""

import logging
import time
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.utils import timezone

from core.shared_clients import ClosingCache
from market.orderbook import OrderBookError
from market.upbit import BannedError, RateLimitedError, RetryableError, UpbitClient, UpbitError
from market.upbit_private import (
    AuthError,
    MalformedResponse,
    Order,
    RequestRefused,
    UpbitExchangeClient,
)
from trading import booking
from trading.config import RiskLimits, load_risk
from trading.fills import FEE_RATE, MIN_ORDER_KRW, Fill, realised_slippage_bps
from trading.liquidity import walk_asks
from trading.metrics import observe_slippage
from trading.models import ExitReason, Side, Trade, TradeMode, TradeStatus

from .base import BuyOrder, ExecutionError, Executor, OrderRefused, SellOrder, check_liquidity

log = logging.getLogger(__name__)

PRICE_STEP = Decimal("0.00000001")
BPS_PLACES = Decimal("0.0001")
LOOKUP_ATTEMPTS = 3  # after an unknown outcome Upbit may need a moment to show the order


class LiveExecutor(Executor):
    """Market orders on Upbit, booked from what the exchange reports as executed."""

    mode = TradeMode.LIVE

    def __init__(
        self,
        client: UpbitExchangeClient,
        *,
        quotes: UpbitClient | None = None,
        poll_timeout: float = 15.0,
        poll_interval: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.client = client
        self.quotes = quotes or client  # where the order book is read (public quotation API)
        self.poll_timeout = poll_timeout
        self.poll_interval = poll_interval
        self.sleep = sleep

    @classmethod
    def from_settings(cls) -> "LiveExecutor":
        client = shared_client(settings.UPBIT_BASE_URL, settings.UPBIT_ACCESS_KEY, settings.UPBIT_SECRET_KEY)
        return cls(
            client,
            quotes=shared_quotes(settings.UPBIT_BASE_URL),
            poll_timeout=settings.UPBIT_ORDER_POLL_TIMEOUT_SECONDS,
            poll_interval=settings.UPBIT_ORDER_POLL_INTERVAL_SECONDS,
        )

    def buy(self, order: BuyOrder) -> Trade:
        krw = order_amount(order.krw)
        if krw < MIN_ORDER_KRW:
            raise OrderRefused(f"{order.symbol}: buy of {krw:,.0f} KRW is below the Upbit minimum")
        book, expected = {}, None
        if not Trade.objects.filter(client_order_id=order.client_order_id).exists():
            book, expected = self._check_book(order, krw)  # a known order is never sent again: no check
        trade, created = booking.record_pending(
            symbol=order.symbol,
            side=Side.BUY,
            client_order_id=order.client_order_id,
            price=order.reference_price,
            regime=order.regime,
            strategy_name=order.strategy_name,
            signal_info=order.signal_info | {"order_krw": booking.decimal_str(krw)} | book,
            mode=self.mode,
            expected_slippage_bps=expected,
        )
        send = lambda: self.client.market_buy(order.symbol, krw, order.client_order_id)  # noqa: E731
        return self._execute(trade, created, send, limits=None)

    def sell(self, order: SellOrder) -> Trade:
        trade, created = booking.record_pending(
            symbol=order.symbol,
            side=Side.SELL,
            client_order_id=order.client_order_id,
            price=order.reference_price,
            quantity=order.quantity,
            regime=order.regime,
            strategy_name=order.strategy_name,
            signal_info=order.signal_info,
            exit_reason=order.reason,
            mode=self.mode,
        )
        send = lambda: self.client.market_sell(order.symbol, order.quantity, order.client_order_id)  # noqa: E731
        return self._execute(trade, created, send, limits=order.limits)

    def _check_book(self, order: BuyOrder, krw: Decimal) -> tuple[dict, Decimal]:
        """Walk Upbit's asks for `krw`: refuse or warn (see check_liquidity); raise if unreadable."""
        try:
            book = self.quotes.order_book(order.symbol)
        except OrderBookError as exc:
            raise ExecutionError(
                f"{order.symbol}: buy not sent, Upbit's order book is malformed: {exc}"
            ) from None
        except UpbitError as exc:
            raise ExecutionError(
                f"{order.symbol}: buy not sent, the order book could not be read: {exc}"
            ) from None
        liquidity = walk_asks(book.asks, krw)
        info = check_liquidity(order, krw, book, liquidity)
        return info, liquidity.slippage_bps.quantize(BPS_PLACES)

    # --- one order ----------------------------------------------------------------------------

    def _execute(self, trade: Trade, created: bool, send, *, limits: RiskLimits | None) -> Trade:
        if trade.status == TradeStatus.FILLED:
            return trade  # a retried cycle: booked already
        if trade.status != TradeStatus.PENDING:
            raise ExecutionError(f"order {trade.client_order_id} is {trade.status}; not sent again")
        placed = self._send(trade, send) if created else None
        if placed is None:  # outcome unknown, or an earlier attempt may have sent it: ask, never resend
            placed = self._lookup(trade.client_order_id)
            if placed is None:
                raise ExecutionError(
                    f"order {trade.client_order_id}: outcome unknown; left PENDING for reconciliation"
                )
        Trade.objects.filter(pk=trade.pk, exchange_order_id="").update(exchange_order_id=placed.uuid)
        final = self._wait(placed)
        if final is None:
            raise ExecutionError(
                f"order {trade.client_order_id} ({placed.uuid}) not done after {self.poll_timeout:.0f}s; "
                "left PENDING for reconciliation"
            )
        booked = settle(trade, final, limits=limits)
        if booked is None:
            raise ExecutionError(f"order {trade.client_order_id} executed nothing ({final.state})")
        return booked

    def _send(self, trade: Trade, send) -> Order | None:
        """The accepted order, or None when the outcome is unknown; raises when surely not placed."""
        try:
            return send()
        except MalformedResponse:
            log.exception("order %s: unreadable answer; looking it up", trade.client_order_id)
            return None
        except (RequestRefused, AuthError, BannedError, RateLimitedError) as exc:
            booking.mark_failed(trade.client_order_id, str(exc))
            raise OrderRefused(f"{trade.symbol}: {exc}") from exc
        except RetryableError as exc:
            log.warning("order %s: outcome unknown (%s); looking it up", trade.client_order_id, exc)
            return None

    def _lookup(self, client_order_id: str) -> Order | None:
        for attempt in range(LOOKUP_ATTEMPTS):
            if attempt:
                self.sleep(self.poll_interval)
            try:
                found = self.client.order(identifier=client_order_id)
            except UpbitError as exc:
                log.warning("look-up of %s failed: %s", client_order_id, exc)
                continue
            if found is not None:
                return found
        return None

    def _wait(self, placed: Order) -> Order | None:
        """Poll until the order is done or cancelled; None if it is not within the time limit."""
        deadline = time.monotonic() + self.poll_timeout
        while True:
            try:
                order = self.client.order(uuid=placed.uuid)
            except (RetryableError, MalformedResponse) as exc:
                log.warning("polling %s failed: %s", placed.uuid, exc)
                order = None
            if order is not None and order.is_final:
                return order
            if time.monotonic() >= deadline:
                return None
            self.sleep(self.poll_interval)


SHARED_CLIENTS_MAX = 4  # settings rarely change in a process; tests point each one at its own fake
_clients = ClosingCache(SHARED_CLIENTS_MAX)


def shared_quotes(base_url: str) -> UpbitClient:
    """One quotation client per process for the order book (public, no keys sent)."""
    return _clients.get(("quotes", base_url), lambda: UpbitClient(base_url))


def shared_client(base_url: str, access_key: str, secret_key: str) -> UpbitExchangeClient:
    """One exchange client (and its connection pool) per process, not a new one every cycle."""
    return _clients.get(
        ("exchange", base_url, access_key, secret_key),
        lambda: UpbitExchangeClient(base_url, access_key=access_key, secret_key=secret_key),
    )


def close_shared_clients() -> None:
    _clients.close_all()


def order_amount(budget: Decimal) -> Decimal:
    """KRW to put in a market buy so that it plus Upbit's fee (charged on top) fits the budget."""
    return (budget / (1 + FEE_RATE)).to_integral_value(rounding=ROUND_DOWN)


def fill_from(order: Order, side: str, fallback_price: Decimal) -> tuple[Fill, bool]:
    """What the exchange executed as a Fill, and whether the price had to be estimated."""
    price = order.average_price()
    estimated = price is None
    price = (fallback_price if estimated else price).quantize(PRICE_STEP)
    return Fill(side, price, order.executed_volume, order.paid_fee), estimated


def settle(trade: Trade, order: Order, *, limits: RiskLimits | None = None) -> Trade | None:
    """Book a finished order onto its PENDING trade; None (and FAILED) when nothing executed."""
    if order.executed_volume <= 0:
        why = f"Upbit order {order.uuid} ended {order.state}, nothing executed"
        booking.mark_failed(trade.client_order_id, why)
        return None
    fill, estimated = fill_from(order, trade.side, trade.price)
    realised = None if estimated else realised_slippage_bps(trade.side, fill.price, decision_price(trade))
    at = order.executed_at() or timezone.now()
    info = trade.signal_info | {"upbit_state": order.state} | ({"price_estimated": True} if estimated else {})
    common = {
        "symbol": trade.symbol,
        "fill": fill,
        "client_order_id": trade.client_order_id,
        "at": at,
        "strategy_name": trade.strategy_name,
        "signal_info": info,
        "mode": TradeMode.LIVE,
        "exchange_order_id": order.uuid,
        "slippage": {"realised_slippage_bps": realised},
    }
    if trade.side == Side.BUY:
        booked = booking.book_buy(regime=trade.regime, **common)
    else:
        booked = booking.book_sell(
            reason=trade.exit_reason or ExitReason.MANUAL,
            limits=limits or load_risk(),
            regime=trade.regime,
            **common,
        )
    observe_slippage(trade.side, TradeMode.LIVE, realised)
    return booked


def decision_price(trade: Trade) -> Decimal:
    """What a fill is measured against: the best ask read before a buy, else the decision price."""
    best_ask = trade.signal_info.get("book_best_ask")
    return Decimal(best_ask) if best_ask else trade.price
