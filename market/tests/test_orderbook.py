"""Order books at the edge: Upbit's answer through the one HTTP client (fake Upbit server), its
errors, and the books the simulated source derives from its candles."""

from datetime import timedelta
from decimal import Decimal

import pytest

from market.orderbook import Level, OrderBookError, parse_upbit_orderbook
from market.sources.csv import CsvSource
from market.sources.simulated import MIN_LEVEL_KRW, SimulatedSource, simulated_book
from market.sources.upbit import UpbitSource
from market.upbit import RetryableError
from trading.fills import tick_size

from .conftest import REAL_CSV, T0

D = Decimal


def test_upbit_book_is_read_as_decimals_best_first(fake_upbit, upbit_client):
    fake_upbit.set_book(
        "KRW-BTC",
        asks=[(100_001_000, 0.5), (100_002_000, 0), (100_003_000, 1.25)],
        bids=[(100_000_000, 0.3), (99_999_000, 2)],
    )
    book = upbit_client.order_book("KRW-BTC")
    # The empty second ask level offers nothing and is left out.
    assert book.asks == (Level(D("100001000"), D("0.5")), Level(D("100003000"), D("1.25")))
    assert book.bids == (Level(D("100000000"), D("0.3")), Level(D("99999000"), D("2")))
    assert (book.best_ask, book.best_bid, book.symbol) == (D("100001000"), D("100000000"), "KRW-BTC")
    assert book.at is not None and book.at.tzinfo is not None
    request = fake_upbit.requests[-1]
    assert (request.path, request.params) == ("/v1/orderbook", {"markets": "KRW-BTC"})
    assert not any(name.lower() == "origin" for name in request.headers)


def test_a_429_with_remaining_req_is_waited_out_and_retried(fake_upbit, upbit_client):
    fake_upbit.set_book("KRW-BTC", asks=[(1000, 10)], bids=[(999, 10)])
    fake_upbit.orderbook_inject = [429]
    assert upbit_client.order_book("KRW-BTC").best_ask == D("1000")
    assert [r.status for r in fake_upbit.requests] == [429, 200]
    assert upbit_client.stats["throttled"] == 1


def test_a_5xx_is_retried_and_a_lasting_one_is_a_clear_error(fake_upbit, upbit_client):
    fake_upbit.set_book("KRW-BTC", asks=[(1000, 10)], bids=[(999, 10)])
    fake_upbit.orderbook_inject = [502]
    assert upbit_client.order_book("KRW-BTC").best_bid == D("999")
    fake_upbit.orderbook_inject = [500] * upbit_client.max_attempts
    with pytest.raises(RetryableError, match="GET /v1/orderbook: 500"):
        upbit_client.order_book("KRW-BTC")


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("object", "KRW-BTC order book: expected a list, got dict"),
        ("empty", "KRW-BTC order book: orderbook_units is missing or empty"),
        ("missing_field", "KRW-BTC order book level 1 ask_price: missing"),
        ("not_numeric", "KRW-BTC order book level 2 ask_size: not a number ('lots')"),
        ("negative_size", "KRW-BTC order book level 1 ask_size: negative (-1)"),
        ("unsorted", "KRW-BTC order book level 2 ask_price: 1001 is out of order after 1002"),
        ("crossed", "KRW-BTC order book: best bid 1002 is not below best ask 1001"),
        ("wrong_market", "KRW-BTC order book: the answer has no entry for KRW-BTC"),
    ],
)
def test_a_malformed_book_is_a_clear_error(fake_upbit, upbit_client, kind, message):
    fake_upbit.set_book("KRW-BTC", asks=[(1001, 1), (1002, 1)], bids=[(1000, 1), (999, 1)])
    fake_upbit.orderbook_inject = [kind]
    with pytest.raises(OrderBookError) as exc:
        upbit_client.order_book("KRW-BTC")
    assert str(exc.value) == message


def test_numbers_sent_as_strings_or_floats_are_read_exactly():
    body = [
        {
            "market": "KRW-XRP",
            "timestamp": 1_700_000_000_000,
            "orderbook_units": [
                {"ask_price": "905.5", "bid_price": 905.0, "ask_size": 10, "bid_size": "1e3"}
            ],
        }
    ]
    book = parse_upbit_orderbook(body, "KRW-XRP")
    assert book.asks == (Level(D("905.5"), D("10")),) and book.bids == (Level(D("905.0"), D("1E+3")),)
    unit = body[0]["orderbook_units"][0] | {"bid_size": True}
    with pytest.raises(OrderBookError, match="level 1 bid_size: not a number"):
        parse_upbit_orderbook([body[0] | {"orderbook_units": [unit]}], "KRW-XRP")


def test_the_upbit_source_reads_the_book_through_its_client(fake_upbit, upbit_client):
    fake_upbit.set_book("KRW-ETH", asks=[(5_000_000, 2)], bids=[(4_999_000, 2)])
    assert UpbitSource(upbit_client).order_book("KRW-ETH", T0).best_ask == D("5000000")


def test_a_csv_replay_has_no_book():
    assert CsvSource(REAL_CSV).order_book("KRW-BTC", T0) is None


def test_the_simulated_book_sits_on_the_tick_grid_around_the_close():
    # 12,000,000 KRW turned over in the minute: a quarter (3,000,000 KRW) on the first level.
    book = simulated_book("KRW-BTC", D("95123000"), D("12000000"))
    assert (book.best_bid, book.best_ask) == (D("95123000"), D("95124000"))  # one 1,000 KRW tick
    assert book.asks[0].size == D("0.03153778")  # 3,000,000 / 95,124,000, 8 decimals down
    assert book.asks[2].size == D("0.06307423")  # twice the first level's KRW: 6,000,000 / 95,126,000
    assert [level.price for level in book.asks[:3]] == [D("95124000"), D("95125000"), D("95126000")]
    assert [level.price for level in book.bids[:2]] == [D("95123000"), D("95122000")]
    # A quiet minute still leaves the minimum depth on the first level.
    thin = simulated_book("KRW-XRP", D("905.3"), D("1000"))
    assert (thin.best_bid, thin.best_ask) == (D("905"), D("906"))
    assert thin.asks[0].size * thin.asks[0].price <= MIN_LEVEL_KRW < (thin.asks[0].size + D("1e-8")) * D(906)


def test_the_simulated_book_crosses_tick_boundaries_on_upbit_ticks():
    book = simulated_book("KRW-X", D("1000000"), D("0"))
    assert [level.price for level in book.bids[:3]] == [D("1000000"), D("999500"), D("999000")]
    assert all(level.price % tick_size(level.price) == 0 for level in book.asks + book.bids)


def test_the_simulated_source_builds_its_book_from_the_bar_closed_last():
    source = SimulatedSource(seed=7)
    at = T0 + timedelta(hours=5, minutes=3, seconds=20)
    [bar] = source.fetch_candles("KRW-ETH", until=at.replace(second=0), count=1)
    book = source.order_book("KRW-ETH", at)
    assert book == source.order_book("KRW-ETH", at)  # deterministic
    assert book.best_bid <= D(bar["close"]) < book.best_ask
    assert book.best_ask - book.best_bid == tick_size(book.best_bid)
    expected = max(D(bar["quote_volume"]) / 4, MIN_LEVEL_KRW)
    assert abs(book.asks[0].size * book.asks[0].price - expected) < book.asks[0].price * D("1e-8")
