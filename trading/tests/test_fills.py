"""The one fill model: Upbit tick sizes, fee, slippage against us, minimum order."""

from decimal import Decimal as D

import pytest

from trading import fills


@pytest.mark.parametrize(
    ("price", "tick"),
    [
        ("150000000", "1000"),
        ("2000000", "1000"),
        ("1999999", "1000"),
        ("1000000", "1000"),
        ("999999", "500"),
        ("500000", "500"),
        ("499999", "100"),
        ("100000", "100"),
        ("99999", "50"),
        ("50000", "50"),
        ("49999", "10"),
        ("10000", "10"),
        ("9999", "5"),
        ("5000", "5"),
        ("4999", "1"),
        ("100", "1"),
        ("99.9", "0.1"),
        ("10", "0.1"),
        ("9.99", "0.01"),
        ("1", "0.01"),
        ("0.5", "0.001"),
        ("0.05", "0.0001"),
        ("0.005", "0.00001"),
        ("0.0005", "0.000001"),
        ("0.00005", "0.0000001"),
        ("0.000005", "0.00000001"),
    ],
)
def test_tick_size_table(price, tick):
    assert fills.tick_size(D(price)) == D(tick)


def test_buy_rounds_up_and_sell_rounds_down_to_the_tick():
    assert fills.round_to_tick(D("96512"), "BUY") == D("96550")
    assert fills.round_to_tick(D("96512"), "SELL") == D("96500")
    assert fills.round_to_tick(D("96500"), "BUY") == D("96500")  # already on a tick


def test_slippage_moves_the_price_against_us():
    assert fills.slipped_price(D("100000000"), "BUY", D("5")) == D("100050000")
    assert fills.slipped_price(D("100000000"), "SELL", D("5")) == D("99950000")


def test_buy_spends_at_most_the_budget_including_the_fee():
    fill = fills.buy_fill(krw=D("500000"), reference=D("96500"), slippage_bps=D("0"))
    assert fill.price == D("96500")
    assert fill.quantity == D("5.17875777")  # 500000 / (96500 * 1.0005) = 5.178757772.., cut to 8 decimals
    assert fill.fee == (D("96500") * fill.quantity * D("0.0005")).quantize(D("0.00000001"))
    assert -fill.cash_change <= D("500000")
    assert fill.amount + fill.fee == -fill.cash_change


def test_sell_receives_the_amount_minus_the_fee():
    fill = fills.sell_fill(quantity=D("2"), reference=D("99000"), slippage_bps=D("10"))
    assert fill.price == D("98900")  # 98901 rounded down to the 100 tick
    assert fill.fee == D("98.9") and fill.cash_change == D("197800") - D("98.9")


def test_orders_below_5000_krw_are_refused():
    with pytest.raises(fills.BelowMinimumOrder, match="below the 5,000 KRW minimum"):
        fills.buy_fill(krw=D("4999"), reference=D("1000"))
    assert fills.buy_fill(krw=D("5100"), reference=D("1000")).amount >= D("5000")


def test_floats_are_accepted_as_their_shortest_decimal():
    fill = fills.buy_fill(krw=10000.0, reference=0.1, slippage_bps=0)
    assert fill.price == D("0.1")
