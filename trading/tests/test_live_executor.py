"""The live executor against the fake Upbit exchange: it books what Upbit executed, once."""

import pytest
from django.core.management import call_command

from coinpilot_site.checks import live_trading_is_safe
from trading.executors import ExecutionError, OrderRefused, get_executor
from trading.executors.live import SHARED_CLIENTS_MAX, LiveExecutor, close_shared_clients, order_amount
from trading.models import Account, DailyRiskState, Position, Trade

from .live_helpers import (  # noqa: F401 (fixtures)
    INITIAL_KRW,
    PRICE,
    D,
    assert_books_match_exchange,
    assert_live_books_balance,
    buy_order,
    exchange_fixture,
    executor_fixture,
    sell_order,
)

pytestmark = pytest.mark.django_db


def posts(exchange) -> list:
    return [r for r in exchange.upbit.requests if r.method == "POST"]


def test_a_market_buy_spends_the_budget_fee_included_and_books_what_executed(exchange, executor):
    trade = executor.buy(buy_order(krw="100000"))
    [order] = exchange.placed()
    assert order["price"] == "99950" == str(order_amount(D("100000")))  # + 0.05 % fee <= 100,000 KRW
    assert (trade.status, trade.side, trade.mode) == ("FILLED", "BUY", "live")
    assert (trade.price, trade.quantity, trade.fee) == (PRICE, D("0.0009995"), D("49.975"))
    assert trade.exchange_order_id == order["uuid"] and trade.signal_info["upbit_state"] == "done"
    position = Position.objects.get(symbol="KRW-BTC")
    assert position.quantity == D("0.0009995") and position.entry_fee == D("49.975")
    assert Account.objects.get(name="live").balance == INITIAL_KRW - D("99950") - D("49.975")
    assert DailyRiskState.objects.get().trade_count == 1
    assert_books_match_exchange(exchange)
    assert_live_books_balance()


def test_a_market_sell_closes_the_position_with_pnl_net_of_both_fees(exchange, executor):
    entry = executor.buy(buy_order())
    exchange.prices["KRW-BTC"] = D("101000000")
    exit_ = executor.sell(sell_order())
    [_, order] = exchange.placed()
    assert (order["ord_type"], order["volume"]) == ("market", "0.0009995")
    expected = (exit_.price - entry.price) * exit_.quantity - entry.fee - exit_.fee
    assert D(exit_.signal_info["pnl"]) == expected.quantize(D("0.00000001"))
    assert exit_.exit_reason == "TAKE_PROFIT" and not Position.objects.exists()
    assert_books_match_exchange(exchange)
    assert_live_books_balance()


def test_a_partially_filled_sell_keeps_the_unsold_rest(exchange, executor):
    executor.buy(buy_order(krw="200000"))
    bought = Position.objects.get().quantity
    exchange.fill_mode, exchange.partial_ratio = "partial", D("0.5")
    exit_ = executor.sell(sell_order())
    position = Position.objects.get()
    assert exit_.status == "FILLED" and exit_.signal_info["upbit_state"] == "cancel"
    assert exit_.quantity + position.quantity == bought and exit_.quantity < bought
    assert_books_match_exchange(exchange)
    assert_live_books_balance()


def test_a_scale_out_on_upbit_sells_its_part_and_records_the_level(exchange, executor):
    """A PARTIAL_TAKE_PROFIT order carries its level in the intent recorded before sending, so the
    position learns it from the settled order (after a crash too: the same PENDING row)."""
    import dataclasses

    executor.buy(buy_order(krw="200000"))
    bought = Position.objects.get().quantity
    half = (bought / 2).quantize(D("0.00000001"))
    exchange.prices["KRW-BTC"] = D("101000000")
    order = dataclasses.replace(
        sell_order(reason="PARTIAL_TAKE_PROFIT"), quantity=half, signal_info={"partial_levels_done": 1}
    )
    sale = executor.sell(order)
    [_, placed] = exchange.placed()
    assert D(placed["volume"]) == half and sale.exit_reason == "PARTIAL_TAKE_PROFIT"
    position = Position.objects.get()
    assert (position.quantity, position.partials_taken, position.initial_quantity) == (
        bought - half,
        1,
        bought,
    )
    assert_books_match_exchange(exchange)
    assert_live_books_balance()


def test_a_market_buy_ending_cancel_with_volume_is_a_fill(exchange, executor):
    exchange.fill_mode = "cancel_with_volume"
    trade = executor.buy(buy_order())
    assert trade.status == "FILLED" and trade.signal_info["upbit_state"] == "cancel"
    assert Position.objects.get().quantity == trade.quantity > 0
    assert_books_match_exchange(exchange)


def test_a_partially_filled_buy_books_only_the_executed_part(exchange, executor):
    exchange.fill_mode = "partial"
    trade = executor.buy(buy_order(krw="100000"))
    assert trade.quantity == D("0.00049975") and trade.fee == D("24.9875")
    assert_books_match_exchange(exchange)
    assert_live_books_balance()


def test_an_order_that_executed_nothing_is_failed_and_books_nothing(exchange, executor):
    exchange.fill_mode = "nothing"
    with pytest.raises(ExecutionError, match="executed nothing"):
        executor.buy(buy_order())
    trade = Trade.objects.get()
    assert trade.status == "FAILED" and "nothing executed" in trade.signal_info["failure"]
    assert not Position.objects.exists() and Account.objects.get(name="live").balance == INITIAL_KRW
    assert_books_match_exchange(exchange)


@pytest.mark.parametrize(("krw", "name"), [("5000000", "insufficient_funds_bid")])
def test_insufficient_funds_is_refused_and_nothing_is_booked(exchange, executor, krw, name):
    Account.objects.filter(name="live").update(balance=D("10000000"))  # our books think we are rich
    with pytest.raises(OrderRefused, match=name):
        executor.buy(buy_order(krw=krw))
    assert Trade.objects.get().status == "FAILED" and not Position.objects.exists()
    assert Account.objects.get(name="live").balance == D("10000000")


def test_under_the_minimum_is_refused_by_upbit_too(exchange, executor, monkeypatch):
    monkeypatch.setattr("trading.executors.live.MIN_ORDER_KRW", D("1000"))  # let it reach Upbit
    with pytest.raises(OrderRefused, match="under_min_total_bid"):
        executor.buy(buy_order(krw="3000"))
    assert Trade.objects.get().status == "FAILED"


def test_a_budget_below_the_minimum_is_not_sent(exchange, executor):
    with pytest.raises(OrderRefused, match="minimum"):
        executor.buy(buy_order(krw="5001"))  # 4,998 KRW once the fee is set aside
    assert exchange.placed() == [] and not Trade.objects.exists()


def test_429_then_success_places_one_order(exchange, executor):
    exchange.inject["POST /v1/orders"] = [429]
    trade = executor.buy(buy_order())
    assert trade.status == "FILLED" and len(exchange.placed()) == 1 and len(posts(exchange)) == 2
    assert executor.client.stats["throttled"] == 1


def test_a_lost_answer_is_looked_up_by_identifier_and_not_resent(exchange, executor):
    exchange.inject["POST /v1/orders"] = ["lose"]
    trade = executor.buy(buy_order())
    assert trade.status == "FILLED" and len(posts(exchange)) == 1
    assert_books_match_exchange(exchange)


def test_a_request_that_never_arrived_stays_pending_and_is_not_resent(exchange, executor):
    exchange.inject["POST /v1/orders"] = ["drop"]
    with pytest.raises(ExecutionError, match="left PENDING"):
        executor.buy(buy_order())
    assert Trade.objects.get().status == "PENDING" and len(posts(exchange)) == 1


def test_a_retried_cycle_never_sends_the_same_order_again(exchange, executor):
    first = executor.buy(buy_order())
    again = executor.buy(buy_order())
    assert again.pk == first.pk and len(posts(exchange)) == 1 and Trade.objects.count() == 1


def test_an_order_still_open_at_the_time_limit_is_left_pending(exchange, executor):
    exchange.polls_before_final = 10**6
    executor.poll_timeout = 0.1
    with pytest.raises(ExecutionError, match="not done after"):
        executor.buy(buy_order())
    trade = Trade.objects.get()
    assert trade.status == "PENDING" and trade.exchange_order_id == exchange.placed()[0]["uuid"]
    assert not Position.objects.exists()


def test_a_wrong_secret_is_refused_as_an_auth_error_and_nothing_is_booked(exchange, executor):
    executor.client._secret_key = "not-the-secret"
    with pytest.raises(OrderRefused, match="refused the API credentials") as caught:
        executor.buy(buy_order())
    assert "not-the-secret" not in str(caught.value)
    assert exchange.refusals == ["jwt_verification"] and Trade.objects.get().status == "FAILED"


def test_settings_choose_the_live_executor_only_on_opt_in(exchange, settings):
    settings.COINPILOT_LIVE_TRADING = False
    assert get_executor().mode == "paper"
    settings.COINPILOT_LIVE_TRADING = True
    live = get_executor()
    assert isinstance(live, LiveExecutor) and live.client.base_url == exchange.url


def test_the_system_check_still_refuses_live_trading_without_keys(settings):
    settings.COINPILOT_LIVE_TRADING, settings.DEBUG = True, False
    settings.UPBIT_ACCESS_KEY, settings.UPBIT_SECRET_KEY = "", ""
    assert [e.id for e in live_trading_is_safe()] == ["coinpilot.E001"]
    with pytest.raises(Exception, match="coinpilot.E001"):
        call_command("check")


def test_each_process_keeps_one_client_per_setting_and_closes_the_ones_it_drops(exchange, settings):
    first = LiveExecutor.from_settings()
    assert first.client.accounts()  # a pooled connection to the fake is open now
    again = LiveExecutor.from_settings()
    assert (again.client, again.quotes) == (first.client, first.quotes)
    for port in range(1, SHARED_CLIENTS_MAX):  # other settings push both of the first out
        settings.UPBIT_BASE_URL = f"http://127.0.0.1:{port}"
        LiveExecutor.from_settings()
    assert first.client.http.is_closed and first.quotes.http.is_closed
    close_shared_clients()
