"""A process killed (SIGKILL) at any point inside a booking leaves the whole booking or none."""

import signal
import subprocess
import sys
from decimal import Decimal

import pytest

from trading import booking
from trading.fills import buy_fill
from trading.models import Account, DailyRiskState, Position, Trade
from trading.tests.test_booking import INITIAL, T0, assert_books_balance

pytestmark = [pytest.mark.real_services, pytest.mark.django_db(transaction=True)]

BUY_POINTS = [
    '"account_state"',
    'INSERT INTO "daily_risk_state"',
    'INSERT INTO "positions"',
    'INSERT INTO "trading_history"',
    'UPDATE "daily_risk_state"',
    "after_commit",
]
SELL_POINTS = [
    'UPDATE "account_state"',
    'INSERT INTO "trading_history"',
    'DELETE FROM "positions"',
    'UPDATE "daily_risk_state"',
    "after_commit",
]


def run_child(env: dict, side: str, point: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "trading.tests.crash_child", side, point],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("point", BUY_POINTS)
def test_buy_killed_at_each_point_books_all_or_nothing(point, subprocess_env, redis_conn):
    booking.account_for("paper")
    result = run_child(subprocess_env, "buy", point)
    assert result.returncode == -signal.SIGKILL, result.stdout + result.stderr

    trades, positions = Trade.objects.count(), Position.objects.count()
    balance = Account.objects.get(name="paper").balance
    if point == "after_commit":
        assert (trades, positions) == (1, 1)  # committed; only the alert and the Redis HWM were lost
        assert redis_conn.get("position:KRW-BTC:hwm") is None
        assert balance < INITIAL and DailyRiskState.objects.get().trade_count == 1
    else:
        assert (trades, positions, balance) == (0, 0, INITIAL)
    assert_books_balance()


@pytest.mark.parametrize("point", SELL_POINTS)
def test_sell_killed_at_each_point_books_all_or_nothing(point, subprocess_env):
    fill = buy_fill(krw=Decimal("500000"), reference=Decimal("100000000"))
    booking.book_buy(symbol="KRW-BTC", fill=fill, client_order_id="setup-BUY", regime="BULL", at=T0)
    balance_before = Account.objects.get(name="paper").balance
    result = run_child(subprocess_env, "sell", point)
    assert result.returncode == -signal.SIGKILL, result.stdout + result.stderr

    sold = Trade.objects.filter(side="SELL").count()
    if point == "after_commit":
        assert sold == 1 and not Position.objects.exists()
        assert DailyRiskState.objects.get().total_pnl < 0
    else:
        assert sold == 0 and Position.objects.count() == 1
        assert Account.objects.get(name="paper").balance == balance_before
        assert DailyRiskState.objects.get().total_pnl == 0
    assert_books_balance()
