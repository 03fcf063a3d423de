"""Paper fills: order-book slippage, fixed bps fallback, refusals, booking."""

from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal

import pytest

from market.orderbook import OrderBook
from trading.config import default_risk
from trading.executors.base import BuyOrder, OrderRefused, SellOrder
from trading.executors.paper import PaperExecutor
from trading.liquidity import Level, walk_asks
from trading.models import Position

D = Decimal
AT = datetime(2030, 1, 6, 3, 0, tzinfo=UTC)
BOOK = [Level(D("100000000"), D("0.004")), Level(D("100100000"), D("0.004")), Level(D("100200000"), D("1"))]


def books(asks: list[Level]):
    """A book provider serving these asks (and one bid below them) for every symbol."""
    book = OrderBook("KRW-BTC", tuple(asks), (Level(asks[0].price - 1000, D(1)),))
    return lambda symbol, at: book


def test_walking_the_book_averages_the_levels_used():
    liquidity = walk_asks(BOOK, D("1000000"))
    # 400,000 at level 1, 400,400 at level 2, 199,600 at level 3
    assert liquidity.fillable and liquidity.levels_used == 3
    expected = D("1000000") / (D("0.004") + D("0.004") + D("199600") / D("100200000"))
    assert liquidity.average_price == expected
    assert liquidity.warning is None  # 0.08 % over 3 levels


def test_thin_book_warns_and_an_unfillable_order_is_refused():
    thin = [Level(D("100") + i, D("10")) for i in range(8)]
    assert "thin book" in walk_asks(thin, D("7000")).warning  # 7 levels
    assert not walk_asks(BOOK[:1], D("1000000")).fillable


def buy_order(krw="500000", coid="KRW-BTC-1-BUY") -> BuyOrder:
    return BuyOrder(
        symbol="KRW-BTC",
        krw=D(krw),
        reference_price=D("100000000"),
        client_order_id=coid,
        regime="BULL",
        at=AT,
    )


@pytest.mark.django_db
def test_paper_buy_uses_the_book_when_there_is_one():
    executor = PaperExecutor(slippage_bps=D(5), books=books(BOOK))
    trade = executor.buy(buy_order(krw="1000000"))
    # 999,500.25 KRW once the fee is set aside: 400,000 + 400,400 at the first two levels, the
    # rest at the third; the fill is the average, as an exchange reports it.
    spend = D(1_000_000) / D("1.0005")
    bought = D("0.004") + D("0.004") + (spend - D(400_000) - D(400_400)) / D("100200000")
    assert trade.price == (spend / bought).quantize(D("0.00000001"), ROUND_CEILING)
    assert trade.signal_info["book_levels"] == 3


@pytest.mark.django_db
def test_paper_buy_without_a_book_uses_fixed_bps_and_sells_back():
    executor = PaperExecutor(slippage_bps=D(5))
    trade = executor.buy(buy_order())
    assert trade.price == D("100050000") and trade.fee == (
        trade.price * trade.quantity * D("0.0005")
    ).quantize(D("0.00000001"))
    sold = executor.sell(
        SellOrder(
            symbol="KRW-BTC",
            quantity=trade.quantity,
            reference_price=D("100000000"),
            client_order_id="KRW-BTC-2-SELL",
            reason="MANUAL",
            at=AT,
            limits=default_risk(),
        )
    )
    assert sold.price == D("99950000") and not Position.objects.exists()


@pytest.mark.django_db
def test_refusals_book_nothing():
    with pytest.raises(OrderRefused, match="below the 5,000 KRW minimum"):
        PaperExecutor(slippage_bps=D(5)).buy(buy_order(krw="4000"))
    with pytest.raises(OrderRefused, match="cannot fill"):
        PaperExecutor(slippage_bps=D(5), books=books(BOOK[:1])).buy(buy_order(krw="1000000"))
    assert not Position.objects.exists()
