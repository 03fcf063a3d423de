"""Booking is atomic, idempotent and keeps the books balanced."""

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import django_rq
import pytest
from django.db import connection

from trading import booking
from trading.config import default_risk
from trading.fills import buy_fill, sell_fill
from trading.models import Account, DailyRiskState, Position, RiskAudit, Trade

D = Decimal
LIMITS = default_risk()
T0 = datetime(2030, 1, 6, 3, 0, tzinfo=UTC)
INITIAL = D("10000000")

pytestmark = pytest.mark.django_db


def assert_books_balance() -> None:
    """cash + positions at cost + fees paid == initial cash + gross realized PnL.

    Exact on PostgreSQL. SQLite (the embedded default) stores decimals as 64-bit floats, which
    cannot hold a 10,000,000 KRW balance to 8 decimals, so there it may be off by a few 1e-8.
    """
    cash = Account.objects.get(name="paper").balance
    at_cost = sum((p.quantity * p.avg_price for p in Position.objects.all()), D(0))
    fees = sum((t.fee for t in Trade.objects.filter(status="FILLED")), D(0))
    gross = sum((D(t.signal_info["gross_pnl"]) for t in Trade.objects.filter(side="SELL")), D(0))
    tolerance = D(0) if connection.vendor == "postgresql" else D("0.000001")
    assert abs(cash + at_cost + fees - (INITIAL + gross)) <= tolerance


def buy(symbol="KRW-BTC", krw="500000", price="100000000", coid=None, at=T0):
    fill = buy_fill(krw=D(krw), reference=D(price))
    return booking.book_buy(
        symbol=symbol,
        fill=fill,
        client_order_id=coid or f"{symbol}-{at:%H%M}-BUY",
        regime="BULL",
        at=at,
        strategy_name="v3.1",
        signal_info={"rsi_14": 41.0},
    )


def sell(symbol="KRW-BTC", price="101000000", reason="TAKE_PROFIT", at=T0 + timedelta(hours=1)):
    quantity = Position.objects.get(symbol=symbol).quantity
    fill = sell_fill(quantity=quantity, reference=D(price))
    return booking.book_sell(
        symbol=symbol,
        fill=fill,
        client_order_id=f"{symbol}-{at:%H%M}-SELL",
        reason=reason,
        at=at,
        limits=LIMITS,
    )


def test_buy_moves_cash_into_a_position_and_counts_the_entry(django_capture_on_commit_callbacks, redis_conn):
    with django_capture_on_commit_callbacks(execute=True):
        trade = buy()
    position = Position.objects.get(symbol="KRW-BTC")
    assert (trade.side, trade.status, trade.price) == ("BUY", "FILLED", D("100000000"))
    assert position.quantity == trade.quantity and position.entry_fee == trade.fee
    assert Account.objects.get(name="paper").balance == INITIAL - trade.amount - trade.fee
    assert DailyRiskState.objects.get().trade_count == 1
    assert redis_conn.get("position:KRW-BTC:hwm") == b"100000000"
    [alert] = django_rq.get_queue("notifications").jobs
    assert alert.args[0] == "trade" and alert.args[1]["side"] == "BUY"
    assert_books_balance()


def test_the_same_order_id_books_once():
    first = buy(coid="KRW-BTC-20300106T0300-BUY")
    balance = Account.objects.get(name="paper").balance
    again = buy(coid="KRW-BTC-20300106T0300-BUY")
    assert again.pk == first.pk
    assert Trade.objects.count() == 1
    assert Account.objects.get(name="paper").balance == balance


def test_a_buy_without_enough_cash_changes_nothing():
    booking.account_for("paper")
    with pytest.raises(booking.BookingError, match="balance is"):
        buy(krw="20000000")
    assert Trade.objects.count() == 0 and Position.objects.count() == 0
    assert Account.objects.get(name="paper").balance == INITIAL


def test_sell_realises_pnl_net_of_both_fees(django_capture_on_commit_callbacks, redis_conn):
    entry = buy()
    with django_capture_on_commit_callbacks(execute=True):
        exit_ = sell(price="101000000")
    expected = (exit_.price - entry.price) * entry.quantity - entry.fee - exit_.fee
    assert D(exit_.signal_info["pnl"]) == expected.quantize(D("0.00000001"))
    assert exit_.signal_info["entry_avg_price"] == "100000000"
    assert exit_.exit_reason == "TAKE_PROFIT" and exit_.signal_info["held_minutes"] == 60
    assert not Position.objects.exists()
    assert DailyRiskState.objects.get().total_pnl == D(exit_.signal_info["pnl"])
    assert redis_conn.get("position:KRW-BTC:hwm") is None
    assert_books_balance()


def test_selling_without_a_position_is_refused():
    with pytest.raises(booking.BookingError, match="no open position"):
        booking.book_sell(
            symbol="KRW-ETH",
            fill=sell_fill(quantity=D(1), reference=D(1000)),
            client_order_id="x",
            reason="MANUAL",
            at=T0,
            limits=LIMITS,
        )


def test_three_losses_start_a_cooldown_with_an_audit_and_an_alert(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        for minute in range(3):
            at = T0 + timedelta(minutes=10 * minute)
            buy(at=at)
            sell(price="99000000", reason="STOP_LOSS", at=at + timedelta(minutes=5))
    day = DailyRiskState.objects.get()
    assert day.consecutive_losses == 3 and day.cooldown_until == T0 + timedelta(minutes=25, hours=2)
    assert RiskAudit.objects.get().violation_type == "COOLDOWN_STARTED"
    risk_alerts = [j.args[1] for j in django_rq.get_queue("notifications").jobs if j.args[0] == "risk"]
    assert [a["kind"] for a in risk_alerts] == ["COOLDOWN_STARTED"]
    assert_books_balance()


def test_days_are_counted_in_kst():
    buy(at=datetime(2030, 1, 6, 14, 59, tzinfo=UTC))  # 23:59 KST on the 6th
    sell(at=datetime(2030, 1, 6, 15, 1, tzinfo=UTC))  # 00:01 KST on the 7th
    days = dict(DailyRiskState.objects.values_list("date", "trade_count"))
    assert {d.isoformat(): n for d, n in days.items()} == {"2030-01-06": 1, "2030-01-07": 0}
    assert DailyRiskState.objects.get(date="2030-01-07").starting_equity < INITIAL  # cash + at cost, fee gone


@pytest.mark.real_services
@pytest.mark.django_db(transaction=True)
def test_two_workers_booking_the_same_order_at_once_trade_once():
    booking.account_for("paper")
    start = threading.Barrier(2)
    results, errors = [], []

    def attempt():
        try:
            start.wait()
            results.append(buy(coid="KRW-BTC-20300106T0300-BUY").pk)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(results)) == 1 and Trade.objects.count() == 1
    assert_books_balance()
