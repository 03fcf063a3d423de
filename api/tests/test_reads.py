"""The read endpoints answer what the pages show: money as exact text, times in UTC and KST, and
refuse bad filters in the operator's terms."""

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from core.models import JobRun
from market.models import RegimeHistory
from trading import booking
from trading.config import default_risk
from trading.cycle import STATUS_KEY
from trading.fills import sell_fill
from trading.models import DailyRiskState, Trade
from trading.risk import kst_day

from .conftest import bearer

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(client, read_token):
    def get(path: str, **params):
        return client.get(path, params, **bearer(read_token))

    return get


@pytest.fixture
def kst_afternoon():
    """The clock at 15:00 KST today: held_btc buys "an hour ago" and sold_btc sells half an hour
    ago, which in the first hour after KST midnight fell on yesterday (CI failed at 00:2x KST)."""
    with time_machine.travel(timezone.localtime().replace(hour=15, minute=0), tick=True):
        yield


@pytest.fixture
def sold_btc(held_btc):
    """The held KRW-BTC position sold at take profit, half an hour ago."""
    booking.book_sell(
        symbol="KRW-BTC",
        fill=sell_fill(quantity=Trade.objects.get().quantity, reference=Decimal(102_000_000)),
        client_order_id="sold-SELL",
        reason="TAKE_PROFIT",
        at=timezone.now() - timedelta(minutes=30),
        limits=default_risk(),
    )


def test_status_shows_each_symbol_the_kill_switch_and_the_position(reader, held_btc, redis_conn):
    now = timezone.now()
    status = {
        "price": 100500000.0,
        "regime": "BULL",
        "action": "HOLD",
        "reason": "in position",
        "at": now.isoformat(),
    }
    redis_conn.set(STATUS_KEY.format(symbol="KRW-BTC"), json.dumps(status))
    body = reader("/api/v1/status").json()
    btc = next(s for s in body["symbols"] if s["symbol"] == "KRW-BTC")
    assert btc["price"] == "100500000" and btc["regime"] == "BULL"
    assert btc["last_action"] == "HOLD" and btc["last_reason"] == "in position"
    assert btc["position"]["price"] == "100500000" and btc["position"]["regime"] == "BULL"
    assert btc["last_at"].endswith("Z") and btc["last_at_kst"].endswith("+09:00")
    assert body["kill_switch"]["on"] is False and body["kill_switch"]["entries_paused"] is False
    eth = next(s for s in body["symbols"] if s["symbol"] == "KRW-ETH")
    assert eth["last_action"] is None and eth["position"] is None  # no status published yet


def test_positions_are_marked_with_exact_decimal_text(reader, held_btc):
    [row] = reader("/api/v1/positions").json()
    trade = Trade.objects.get()
    assert row["quantity"] == str(trade.quantity.normalize())  # exact, no trailing zeros
    assert row["avg_price"] == "100000000" and Decimal(row["avg_price"]) == trade.price
    assert Decimal(row["value"]) == trade.quantity * Decimal(100_500_000)
    assert row["opened_at_kst"].endswith("+09:00")


def test_trades_filter_and_page(reader, sold_btc):
    everything = reader("/api/v1/trades").json()
    assert everything["count"] == 2 and [t["side"] for t in everything["items"]] == ["SELL", "BUY"]
    sell = everything["items"][0]
    assert sell["exit_reason"] == "TAKE_PROFIT" and Decimal(sell["pnl"]) > 0
    assert reader("/api/v1/trades", side="BUY").json()["count"] == 1
    assert reader("/api/v1/trades", exit_reason="TAKE_PROFIT", symbol="krw-btc").json()["count"] == 1
    today = kst_day(timezone.now()).isoformat()
    assert reader("/api/v1/trades", **{"from": today, "to": today}).json()["count"] == 2
    tomorrow = (kst_day(timezone.now()) + timedelta(days=1)).isoformat()
    assert reader("/api/v1/trades", **{"from": tomorrow}).json()["count"] == 0
    first = reader("/api/v1/trades", limit=1).json()
    assert len(first["items"]) == 1 and first["next_offset"] == 1
    last = reader("/api/v1/trades", limit=1, offset=1).json()
    assert last["items"][0]["side"] == "BUY" and last["next_offset"] is None


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"side": "HOLD"}, "side", "Input should be 'BUY' or 'SELL'"),
        ({"exit_reason": "PANIC"}, "exit_reason", "Input should be"),
        ({"regime": "MOON"}, "regime", "Input should be 'BULL', 'SIDEWAYS', 'BEAR' or 'UNKNOWN'"),
        ({"from": "2026-13-01"}, "from", "'2026-13-01' is not a date (YYYY-MM-DD, a KST day)"),
        ({"from": "2026-12-02", "to": "2026-12-01"}, "from", "2026-12-02 is after to (2026-12-01)"),
        ({"symbol": "BTC"}, "symbol", "BTC is not a market name: write it as KRW-BTC"),
        ({"symbol": "KRW-NOPE"}, "symbol", "KRW-NOPE is not traded by CoinPilot"),
        ({"symbol": "KRW-\x00"}, "symbol", "is not a KRW market name"),
        ({"limit": "500"}, "limit", "less than or equal to 200"),
        ({"limit": "ten"}, "limit", "valid integer"),
        ({"offset": "-1"}, "offset", "greater than or equal to 0"),
    ],
)
def test_bad_trade_filters_are_named(reader, params, field, message):
    response = reader("/api/v1/trades", **params)
    assert response.status_code == 400
    body = response.json()
    assert message in body["problems"][field] and field in body["error"]


def test_daily_pnl_over_a_range_of_kst_days(kst_afternoon, reader, sold_btc):
    today = kst_day(timezone.now())
    DailyRiskState.objects.create(
        date=today - timedelta(days=40), total_pnl=Decimal("-1234.5"), trade_count=3
    )
    body = reader("/api/v1/daily-pnl").json()  # the last 30 days
    assert body["to"] == today.isoformat() and body["from"] == (today - timedelta(days=29)).isoformat()
    [day] = body["days"]
    assert day["date"] == today.isoformat() and Decimal(day["realized_pnl"]) > 0 and day["trades"] == 1
    wide = reader("/api/v1/daily-pnl", **{"from": (today - timedelta(days=60)).isoformat()}).json()
    assert [d["realized_pnl"] for d in wide["days"]][0] == "-1234.5"
    assert Decimal(wide["total"]) == Decimal(day["realized_pnl"]) - Decimal("1234.5")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "yesterday"}, "'yesterday' is not a date"),
        ({"from": "2024-01-01", "to": "2026-01-01"}, "at most 366 days"),
        ({"from": "2026-02-01", "to": "2026-01-01"}, "is after to"),
    ],
)
def test_bad_daily_ranges_are_named(reader, params, message):
    response = reader("/api/v1/daily-pnl", **params)
    assert response.status_code == 400 and message in response.json()["error"]


def test_regimes_current_and_history(reader):
    RegimeHistory.objects.create(coin_symbol="KRW-BTC", regime="BEAR", diff_pct=Decimal("-1.25"))
    RegimeHistory.objects.create(coin_symbol="KRW-ETH", regime="BULL", diff_pct=Decimal("2.5"))
    body = reader("/api/v1/regimes").json()
    assert {"symbol": "KRW-BTC", "regime": "BEAR"} in body["current"]
    assert [h["symbol"] for h in body["history"]] == ["KRW-ETH", "KRW-BTC"]
    btc = reader("/api/v1/regimes", symbol="KRW-BTC").json()
    assert (
        btc["current"] == [{"symbol": "KRW-BTC", "regime": "BEAR"}]
        and btc["history"][0]["diff_pct"] == "-1.25"
    )
    assert reader("/api/v1/regimes", symbol="KRW-NOPE").status_code == 400


def test_jobs_latest_run_and_failures(reader):
    now = timezone.now()
    JobRun.objects.create(job="bot_cycle", slot=now, status="failure", message="boom", started_at=now)
    body = reader("/api/v1/jobs").json()
    cycle = next(j for j in body["jobs"] if j["name"] == "bot_cycle")
    assert cycle["last_run"]["status"] == "failure" and cycle["failures_24h"] == 1
    assert cycle["next_slot_kst"].endswith("+09:00")
    assert [f["message"] for f in body["failures"]] == ["boom"]
    assert reader("/api/v1/jobs", failures=0).json()["failures"] == []


def test_metrics_summary(kst_afternoon, reader, held_btc):
    body = reader("/api/v1/metrics").json()
    trade = Trade.objects.get()
    assert Decimal(body["exposure_cost"]) == trade.quantity * trade.price
    assert Decimal(body["equity"]) == Decimal(body["cash"]) + Decimal(body["exposure_value"])
    assert body["positions"] == 1 and body["trades_today"] == 1
    assert body["ai"]["enabled"] is False and body["ai"]["cap_day"] > 0
    assert body["kst_day"] == kst_day(timezone.now()).isoformat()
    assert date.fromisoformat(body["kst_day"])
