"""The order book is checked before money moves: live buys against the fake Upbit's book, paper
fills walking the simulated book, the bps fallback, the slippage stored on every trade, and the
operator's thresholds in the risk config."""

from dataclasses import asdict
from datetime import timedelta
from decimal import ROUND_CEILING, Decimal

import django_rq
import pytest
from prometheus_client import REGISTRY

from conftest import TEST_DATA
from market.orderbook import Level, OrderBook
from market.sources.csv import CsvSource
from market.sources.simulated import SimulatedSource, simulated_book
from market.sources.upbit import UpbitSource
from market.upbit import UpbitClient
from tests.fakes.upbit import FakeUpbit
from trading import config
from trading.executors import ExecutionError, OrderRefused
from trading.executors.base import BuyOrder, SellOrder
from trading.executors.paper import PaperExecutor
from trading.models import Account, Position, RiskAudit, RiskConfig, Trade

from .live_helpers import (  # noqa: F401 (fixtures)
    INITIAL_KRW,
    PRICE,
    T0,
    D,
    assert_books_match_exchange,
    assert_live_books_balance,
    buy_order,
    exchange_fixture,
    executor_fixture,
    sell_order,
)

pytestmark = pytest.mark.django_db
CENT = D("0.00000001")


def posts(exchange) -> list:
    return [r for r in exchange.upbit.requests if r.method == "POST"]


def book_reads(exchange) -> list:
    return [r for r in exchange.upbit.requests if r.path == "/v1/orderbook"]


def alerts() -> list[tuple]:
    return [job.args for job in django_rq.get_queue("notifications").jobs]


def slippage_count(side: str, mode: str) -> float:
    return REGISTRY.get_sample_value("coinpilot_slippage_bps_count", {"side": side, "mode": mode}) or 0


# --- live ---------------------------------------------------------------------------------------


def test_a_live_buy_the_book_cannot_fill_is_refused_before_anything_is_sent(
    exchange, executor, django_capture_on_commit_callbacks
):
    exchange.upbit.set_book("KRW-BTC", asks=[(PRICE, "0.0005")], bids=[(PRICE - 1000, 1)])  # 50,000 KRW
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(OrderRefused, match="cannot fill"):
            executor.buy(buy_order(krw="100000"))
    assert posts(exchange) == [] and exchange.placed() == []
    assert not Trade.objects.exists() and not Position.objects.exists()
    assert Account.objects.get(name="live").balance == INITIAL_KRW
    [audit] = RiskAudit.objects.all()
    assert (audit.violation_type, audit.symbol, audit.created_at) == ("LIQUIDITY_REFUSED", "KRW-BTC", T0)
    assert audit.related_order_id == "KRW-BTC-20300106T0300-BUY"
    assert audit.description == (
        "buy of 99,950 KRW: the order book cannot fill this order (50,000 KRW offered over 1 levels)"
    )
    [(kind, payload)] = alerts()
    assert kind == "risk" and payload["kind"] == "LIQUIDITY_REFUSED" and payload["symbol"] == "KRW-BTC"


def test_a_live_buy_on_a_thin_book_is_warned_about_and_sent(exchange, executor):
    exchange.upbit.set_book("KRW-BTC", asks=[(PRICE, "0.0004"), (101_000_000, 1)], bids=[(PRICE - 1000, 1)])
    exchange.prices["KRW-BTC"] = D("100500000")  # where Upbit actually fills
    trade = executor.buy(buy_order(krw="100000"))
    # 99,950 KRW: 40,000 at 100,000,000 (0.0004 BTC), the other 59,950 at 101,000,000.
    average = D(99950) / (D("0.0004") + D(59950) / D(101_000_000))
    expected_bps = ((average / PRICE - 1) * 10000).quantize(D("0.0001"))
    assert expected_bps == D("59.7409")
    assert trade.status == "FILLED" and len(posts(exchange)) == 1
    assert trade.expected_slippage_bps == expected_bps
    assert trade.realised_slippage_bps == D("50")  # 100,500,000 vs the best ask 100,000,000
    assert trade.signal_info["book_best_ask"] == "100000000" and trade.signal_info["book_levels"] == 2
    [audit] = RiskAudit.objects.all()
    assert audit.violation_type == "LIQUIDITY_WARNING"
    assert audit.description.startswith(
        "buy of 99,950 KRW: thin book: 0.597% expected slippage over 2 levels"
    )
    assert_books_match_exchange(exchange)
    assert_live_books_balance()


def test_the_warning_thresholds_come_from_the_active_risk_config(exchange, executor):
    values = asdict(config.load_risk()) | {"liquidity_warn_slippage_pct": D("1"), "liquidity_warn_levels": 1}
    values.pop("version")
    config.save_risk_version(values=values, note="thin books are fine up to 1 %")
    exchange.upbit.set_book("KRW-BTC", asks=[(PRICE, "0.0004"), (101_000_000, 1)], bids=[(PRICE - 1000, 1)])
    executor.buy(buy_order(krw="100000"))  # 0.6 % is under 1 %, but 2 levels are over 1
    [audit] = RiskAudit.objects.all()
    assert "(warn above 1% or 1 levels)" in audit.description


def test_a_deep_book_passes_quietly_and_a_retried_order_reads_no_book_again(exchange, executor):
    first = executor.buy(buy_order())
    again = executor.buy(buy_order())
    assert again.pk == first.pk and len(book_reads(exchange)) == 1 and len(posts(exchange)) == 1
    assert not RiskAudit.objects.exists()
    assert (first.expected_slippage_bps, first.realised_slippage_bps) == (D(0), D(0))


@pytest.mark.parametrize("kind", ["crossed", "missing_field", "object"])
def test_a_malformed_book_sends_and_stores_nothing(exchange, executor, kind):
    exchange.upbit.orderbook_inject = [kind]
    with pytest.raises(
        ExecutionError, match="KRW-BTC: buy not sent, Upbit's order book is malformed: KRW-BTC"
    ):
        executor.buy(buy_order())
    assert posts(exchange) == [] and not Trade.objects.exists() and not RiskAudit.objects.exists()
    assert not Position.objects.exists() and Account.objects.get(name="live").balance == INITIAL_KRW


def test_a_book_that_cannot_be_read_sends_nothing_and_a_429_is_waited_out(exchange, executor):
    exchange.upbit.orderbook_inject = [500] * executor.quotes.max_attempts
    with pytest.raises(
        ExecutionError, match="buy not sent, the order book could not be read: GET /v1/orderbook: 500"
    ):
        executor.buy(buy_order())
    assert posts(exchange) == [] and not Trade.objects.exists()
    exchange.upbit.orderbook_inject = [429]
    assert executor.buy(buy_order()).status == "FILLED"
    assert [r.status for r in book_reads(exchange)][-2:] == [429, 200]


def test_a_live_sell_stores_its_realised_slippage(exchange, executor):
    executor.buy(buy_order())
    before = slippage_count("SELL", "live")
    exchange.prices["KRW-BTC"] = D("99900000")
    sold = executor.sell(sell_order())
    assert sold.expected_slippage_bps is None  # no book is read before an exit
    assert sold.realised_slippage_bps == D("10")  # 99,900,000 vs the decision price 100,000,000
    assert slippage_count("SELL", "live") == before + 1


# --- paper --------------------------------------------------------------------------------------


CLOSE = D("95123000")  # the decision price of the paper orders


def paper_buy(krw="4000000", reference=CLOSE, coid="KRW-BTC-1-BUY") -> BuyOrder:
    return BuyOrder(
        symbol="KRW-BTC", krw=D(krw), reference_price=reference, client_order_id=coid, regime="BULL", at=T0
    )


def paper_sell(quantity: Decimal, reference=CLOSE, coid="KRW-BTC-2-SELL") -> SellOrder:
    return SellOrder(
        symbol="KRW-BTC",
        quantity=quantity,
        reference_price=reference,
        client_order_id=coid,
        reason="TAKE_PROFIT",
        at=T0 + timedelta(minutes=5),
        limits=config.default_risk(),
    )


def test_a_paper_buy_walks_the_simulated_book():
    # The simulator's book for a 95,123,000 KRW close after 12,000,000 KRW of turnover: best ask
    # 95,124,000 holding 0.03153778 BTC (3,000,000 KRW), then 95,125,000 holding 4,500,000 KRW.
    book = simulated_book("KRW-BTC", D("95123000"), D("12000000"))
    assert book.asks[:2] == (Level(D("95124000"), D("0.03153778")), Level(D("95125000"), D("0.04730617")))
    before = slippage_count("BUY", "paper")
    trade = PaperExecutor(slippage_bps=D(5), books=lambda symbol, at: book).buy(paper_buy(krw="4000000"))
    spend = D(4_000_000) / D("1.0005")  # the fee comes on top, as on Upbit
    first = D("95124000") * D("0.03153778")  # level 1 taken whole: 2,999,999.78 KRW
    bought = D("0.03153778") + (spend - first) / D("95125000")  # the rest at level 2
    assert trade.price == (spend / bought).quantize(CENT, ROUND_CEILING) == D("95124249.62308473")
    assert trade.quantity == D("0.04202925") and trade.fee == D("1999.00043424")
    assert trade.expected_slippage_bps == D("0.0262") and trade.realised_slippage_bps == D("0.0262")
    assert trade.signal_info["book_levels"] == 2 and not RiskAudit.objects.exists()
    # An average price has 8 decimals, so the amount has 16: the balance keeps 8, like a live fill's.
    assert Account.objects.get(name="paper").balance == (D(10_000_000) - trade.amount - trade.fee).quantize(
        CENT
    )
    assert slippage_count("BUY", "paper") == before + 1


def test_a_paper_sell_walks_the_bids():
    book = simulated_book("KRW-BTC", D("95123000"), D("12000000"))
    executor = PaperExecutor(slippage_bps=D(5), books=lambda symbol, at: book)
    bought = executor.buy(paper_buy(krw="1000000"))
    assert bought.price == D("95124000")  # well within the first level: the best ask itself
    sold = executor.sell(paper_sell(bought.quantity))
    assert sold.price == D("95123000") and sold.realised_slippage_bps == D(0)
    assert sold.signal_info["book_best_bid"] == "95123000" and not Position.objects.exists()


def test_the_simulated_source_gives_the_paper_fill_its_book():
    source = SimulatedSource(seed=3)
    at = T0 + timedelta(days=3, minutes=17, seconds=21)
    [bar] = source.fetch_candles("KRW-BTC", until=at.replace(second=0), count=1)
    executor = PaperExecutor(slippage_bps=D(5), books=source.order_book)
    order = BuyOrder("KRW-BTC", D(500_000), D(bar["close"]), "KRW-BTC-3-BUY", "BULL", at)
    trade = executor.buy(order)
    book = source.order_book("KRW-BTC", at)
    assert trade.price == book.best_ask  # 500,000 KRW fills within the first level
    assert trade.signal_info["book_best_ask"] == str(book.best_ask)
    assert trade.realised_slippage_bps == 0 and trade.expected_slippage_bps == 0


def test_a_thin_paper_book_is_refused_like_a_live_one():
    thin = OrderBook("KRW-BTC", (Level(D("95124000"), D("0.01")),), (Level(D("95123000"), D(1)),))
    with pytest.raises(OrderRefused, match="cannot fill"):
        PaperExecutor(slippage_bps=D(5), books=lambda symbol, at: thin).buy(paper_buy())
    assert not Trade.objects.exists() and RiskAudit.objects.get().violation_type == "LIQUIDITY_REFUSED"


@pytest.mark.parametrize(
    "books",
    [
        None,  # the replay of history
        CsvSource(TEST_DATA / "upbit_krw_btc_1m_20180125.csv").order_book,
        # a book 30 % away describes another market than the candles the decision was made on
        lambda symbol, at: simulated_book(symbol, D("123000000"), D(0)),
    ],
    ids=["no-source", "csv", "another-market"],
)
def test_without_a_usable_book_paper_fills_at_the_fixed_bps(books):
    executor = PaperExecutor(slippage_bps=D(5), books=books)
    trade = executor.buy(paper_buy(krw="500000", reference=D("100000000")))
    assert trade.price == D("100050000")  # + 5 bps, on the 1,000 KRW tick
    assert (trade.expected_slippage_bps, trade.realised_slippage_bps) == (D(5), D(5))
    assert "book_levels" not in trade.signal_info
    sold = executor.sell(paper_sell(trade.quantity, reference=D("100000000")))
    assert sold.price == D("99950000") and sold.realised_slippage_bps == D(5)


def test_paper_trading_on_upbit_reads_the_real_book_and_refuses_a_malformed_one(settings):
    with FakeUpbit() as fake:
        fake.set_book(
            "KRW-BTC", asks=[(95_124_000, 1), (95_125_000, 1)], bids=[(95_123_000, 1), (95_122_000, 1)]
        )
        client = UpbitClient(fake.url, backoff=0.01, max_backoff=0.05, throttle_pause=0.05, timeout=2)
        executor = PaperExecutor(slippage_bps=D(5), books=UpbitSource(client).order_book)
        fake.orderbook_inject = ["unsorted"]
        with pytest.raises(ExecutionError, match="buy not filled, the order book could not be read: KRW-BTC"):
            executor.buy(paper_buy(krw="500000"))
        assert not Trade.objects.exists() and not RiskAudit.objects.exists()
        assert executor.buy(paper_buy(krw="500000")).price == D("95124000")
        client.close()


@pytest.mark.simulated_order_book
def test_from_settings_uses_the_configured_source(settings):
    settings.COINPILOT_MARKET_SOURCE = "sim"
    assert isinstance(PaperExecutor.from_settings().books.__self__, SimulatedSource)
    settings.COINPILOT_MARKET_SOURCE = f"csv:{TEST_DATA / 'upbit_krw_btc_1m_20180125.csv'}"
    assert PaperExecutor.from_settings().books(symbol="KRW-BTC", at=T0) is None


# --- the thresholds in the risk config ----------------------------------------------------------


def test_the_thresholds_default_to_0_3_percent_and_5_levels_and_are_versioned():
    limits = config.load_risk()
    assert (limits.liquidity_warn_slippage_pct, limits.liquidity_warn_levels) == (D("0.3"), 5)
    assert RiskConfig.objects.get(version=1).liquidity_warn_levels == 5
    values = asdict(limits) | {"liquidity_warn_levels": 8}
    values.pop("version")
    row = config.save_risk_version(values=values)
    assert config.load_risk().liquidity_warn_levels == 8 and row.version == 2
    assert config.diff_risk(RiskConfig.objects.get(version=1), row) == ["liquidity_warn_levels: 5 -> 8"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("liquidity_warn_slippage_pct", "0", "liquidity_warn_slippage_pct is 0%, it must be above 0"),
        ("liquidity_warn_slippage_pct", "101", "liquidity_warn_slippage_pct is 101%"),
        ("liquidity_warn_levels", "0", "liquidity_warn_levels must be a whole number from 1 to 30"),
        ("liquidity_warn_levels", "31", "liquidity_warn_levels must be a whole number from 1 to 30"),
        ("liquidity_warn_levels", "2.5", "liquidity_warn_levels must be a whole number"),
        ("liquidity_warn_levels", "many", "liquidity_warn_levels: a number is required"),
    ],
)
def test_nonsense_thresholds_are_refused(field, value, message):
    values = asdict(config.default_risk()) | {field: value}
    with pytest.raises(config.ConfigError) as exc:
        config.parse_risk(values)
    assert any(m.startswith(message) for m in exc.value.messages), exc.value.messages


def test_the_admin_form_shows_the_thresholds_and_refuses_nonsense_on_the_field(admin_client):
    from django.urls import reverse

    v1 = RiskConfig.objects.get(version=1)
    url = reverse("admin:trading_riskconfig_change", args=[v1.pk])
    page = admin_client.get(url).content.decode()
    assert 'class="fieldset-heading">Order book</h2>' in page
    assert "Warn above expected slippage (%)" in page and "Warn above book levels (levels)" in page
    data = {name: str(getattr(v1, name)) for name in config.RISK_FIELDS} | {"note": ""}
    response = admin_client.post(url, data | {"liquidity_warn_slippage_pct": "0"})
    errors = response.context["adminform"].form.errors
    assert errors["liquidity_warn_slippage_pct"] == [
        "Warn above expected slippage is 0%, it must be above 0 and at most 100"
    ]
    assert RiskConfig.objects.count() == 1
    response = admin_client.post(url, data | {"liquidity_warn_slippage_pct": "0.5"})
    assert response.status_code == 302
    assert config.load_risk().liquidity_warn_slippage_pct == D("0.5")


def test_the_cycle_reports_a_book_refusal_as_a_risk_block(monkeypatch):
    """The cycle shows the refusal as BLOCKED with the rule, counted like every risk block."""
    import pandas as pd

    from trading import cycle
    from trading.tests.test_cycle import CSV, buy_signal, run, trade_symbols

    trade_symbols("KRW-BTC")
    monkeypatch.setattr(cycle, "entry_signal", buy_signal)
    thin = OrderBook("KRW-BTC", (Level(D("11273000"), D("0.001")),), (Level(D("11272000"), D(1)),))
    executor = PaperExecutor(slippage_bps=D(5), books=lambda symbol, at: thin)
    before = REGISTRY.get_sample_value("coinpilot_risk_blocks_total", {"rule": "LIQUIDITY_REFUSED"}) or 0
    frame = pd.read_csv(CSV, parse_dates=["timestamp"]).set_index("timestamp").tail(1200)

    [result] = run(frame, executor=executor)

    assert (result.action, result.reason) == ("BLOCKED", "LIQUIDITY_REFUSED")
    assert "cannot fill" in result.detail and not Trade.objects.exists()
    assert RiskAudit.objects.get().violation_type == "LIQUIDITY_REFUSED"  # once, by the executor
    after = REGISTRY.get_sample_value("coinpilot_risk_blocks_total", {"rule": "LIQUIDITY_REFUSED"})
    assert after == before + 1
