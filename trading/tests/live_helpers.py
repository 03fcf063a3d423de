"""Shared set-up of the live executor and reconciliation tests: a fake Upbit exchange and a
LiveExecutor pointed at it. Test modules import the `*_fixture` functions, registered as
`exchange` and `executor`."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection

from market.upbit import UpbitClient
from market.upbit_private import UpbitExchangeClient
from tests.fakes.upbit import FakeUpbit
from tests.fakes.upbit_exchange import ACCESS_KEY, SECRET_KEY, FakeExchange
from trading.config import default_risk
from trading.executors.base import BuyOrder, SellOrder
from trading.executors.live import LiveExecutor
from trading.models import Account, Position, Trade, TradeMode

D = Decimal
T0 = datetime(2030, 1, 6, 3, 0, tzinfo=UTC)
PRICE = D("100000000")
INITIAL_KRW = D("1000000")


@pytest.fixture(name="exchange")
def exchange_fixture(settings):
    with FakeUpbit() as upbit:
        fake = FakeExchange(upbit)
        fake.prices["KRW-BTC"] = PRICE
        fake.balances["KRW"] = INITIAL_KRW
        # A deep book at the fill price: the buy's liquidity check passes at zero slippage.
        upbit.set_book("KRW-BTC", asks=[(PRICE, 100)], bids=[(PRICE - 1000, 100)])
        settings.UPBIT_BASE_URL = fake.url
        settings.UPBIT_ACCESS_KEY, settings.UPBIT_SECRET_KEY = ACCESS_KEY, SECRET_KEY
        yield fake


FAST = {"backoff": 0.01, "max_backoff": 0.05, "throttle_pause": 0.05, "timeout": 2}


def make_client(exchange: FakeExchange, **options) -> UpbitExchangeClient:
    return UpbitExchangeClient(exchange.url, access_key=ACCESS_KEY, secret_key=SECRET_KEY, **FAST | options)


def make_quotes(exchange: FakeExchange, **options) -> UpbitClient:
    """The public quotation client the executor reads the order book with (no keys)."""
    return UpbitClient(exchange.url, **FAST | options)


@pytest.fixture(name="executor")
def executor_fixture(exchange):
    """A live executor whose books start equal to the exchange (1,000,000 KRW, nothing held)."""
    Account.objects.update_or_create(name="live", defaults={"balance": INITIAL_KRW})
    executor = LiveExecutor(
        make_client(exchange), quotes=make_quotes(exchange), poll_timeout=2, poll_interval=0.01
    )
    yield executor
    executor.client.close()
    executor.quotes.close()


def buy_order(krw="100000", coid="KRW-BTC-20300106T0300-BUY") -> BuyOrder:
    return BuyOrder(
        symbol="KRW-BTC",
        krw=D(krw),
        reference_price=PRICE,
        client_order_id=coid,
        regime="BULL",
        at=T0,
        strategy_name="v3.1",
        signal_info={"rsi_14": 41.0},
    )


def sell_order(coid="KRW-BTC-20300106T0400-SELL", reason="TAKE_PROFIT") -> SellOrder:
    return SellOrder(
        symbol="KRW-BTC",
        quantity=Position.objects.get(symbol="KRW-BTC").quantity,
        reference_price=PRICE,
        client_order_id=coid,
        reason=reason,
        at=T0,
        limits=default_risk(),
        strategy_name="v3.1",
    )


def assert_live_books_balance(initial: Decimal = INITIAL_KRW) -> None:
    """cash + positions at cost + fees paid == initial cash + gross realized PnL (live account)."""
    cash = Account.objects.get(name="live").balance
    at_cost = sum((p.quantity * p.avg_price for p in Position.objects.all()), D(0))
    live = Trade.objects.filter(mode=TradeMode.LIVE, status="FILLED")
    fees = sum((t.fee for t in live), D(0))
    gross = sum((D(t.signal_info["gross_pnl"]) for t in live.filter(side="SELL")), D(0))
    assert abs(cash + at_cost + fees - (initial + gross)) <= _tolerance()


def assert_books_match_exchange(exchange: FakeExchange) -> None:
    """Our live cash and positions equal what the exchange holds."""
    cash = Account.objects.get(name="live").balance
    assert abs(cash - (exchange.balances["KRW"] + exchange.locked["KRW"])) <= _tolerance()
    for position in Position.objects.all():
        currency = position.symbol.split("-")[1]
        assert position.quantity == exchange.balances[currency] + exchange.locked[currency]


def _tolerance() -> Decimal:
    # SQLite keeps decimals as floats (see test_booking.assert_books_balance); PostgreSQL is exact.
    return D(0) if connection.vendor == "postgresql" else D("0.000001")
