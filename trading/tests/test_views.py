"""The Overview, Risk and History pages and their endpoints (server side)."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.utils import timezone

from market.models import Candle
from trading import booking, dashboard
from trading.config import default_risk
from trading.fills import buy_fill, sell_fill
from trading.models import DailyRiskState, RiskAudit, Trade, TradingControl
from trading.risk import kst_day

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def operator(client):
    client.force_login(get_user_model().objects.create_user("operator", password="pw-123456789"))


@pytest.fixture
def trades():
    """A won trade on BTC (closed), an open ETH position, a stored close for each."""
    now = timezone.now().replace(second=0, microsecond=0)
    for symbol, close in (("KRW-BTC", 101_000_000), ("KRW-ETH", 4_100_000)):
        Candle.objects.create(
            symbol=symbol,
            timestamp=now - timedelta(minutes=1),
            open=close,
            high=close,
            low=close,
            close=close,
            volume=1,
        )
    booking.book_buy(
        symbol="KRW-BTC",
        fill=buy_fill(krw=D(500000), reference=D(100_000_000)),
        client_order_id="b1",
        regime="BULL",
        at=now - timedelta(hours=3),
    )
    booking.book_sell(
        symbol="KRW-BTC",
        fill=sell_fill(quantity=D("0.00499750"), reference=D(102_000_000)),
        client_order_id="s1",
        reason="TAKE_PROFIT",
        at=now - timedelta(hours=1),
        limits=default_risk(),
    )
    booking.book_buy(
        symbol="KRW-ETH",
        fill=buy_fill(krw=D(400000), reference=D(4_000_000)),
        client_order_id="b2",
        regime="SIDEWAYS",
        at=now - timedelta(minutes=30),
    )


def test_overview_shows_equity_positions_and_bot_status(client, operator, trades, redis_conn):
    redis_conn.set(
        "bot:status:KRW-ETH",
        json.dumps(
            {
                "price": 4100000.0,
                "regime": "SIDEWAYS",
                "action": "HOLD",
                "reason": "HOLD",
                "detail": "no exit",
                "at": timezone.now().isoformat(),
            }
        ),
    )
    page = client.get("/").content.decode()
    assert "Equity" in page and "KRW-ETH" in page and "AI: off (no key)" in page
    data = client.get("/api/overview").json()
    assert [p["symbol"] for p in data["positions"]] == ["KRW-ETH"]
    eth = data["positions"][0]
    assert eth["price"] == 4_100_000 and eth["unrealized_pnl"] > 0
    status = {row["symbol"]: row["status"] for row in data["statuses"]}["KRW-ETH"]
    assert status["action"] == "HOLD" and status["age_s"] >= 0
    today = DailyRiskState.objects.filter(date=kst_day(timezone.now())).first()
    assert data["realized_today"] == float(today.total_pnl if today else 0)
    assert data["kill_switch"] is False


def test_overview_banners_for_kill_switch_and_halt(client, operator):
    TradingControl.objects.update_or_create(pk=1, defaults={"kill_switch": True, "reason": "maintenance"})
    for url in ("/", "/risk/", "/history/"):  # the first two from the control row they read anyway
        page = client.get(url).content.decode()
        assert "Kill switch is ON" in page and "maintenance" in page
    TradingControl.objects.filter(pk=1).update(kill_switch=False)
    for url in ("/", "/risk/", "/history/"):
        assert "Kill switch is ON" not in client.get(url).content.decode()


def test_equity_curve_is_in_kst_and_bounded(trades):
    from trading.dashboard import equity_curve_points

    curve = equity_curve_points(D(10_000_000))
    sell = Trade.objects.get(side="SELL")
    assert curve["t"] == [timezone.localtime(sell.executed_at).strftime("%Y-%m-%d %H:%M:%S")]
    assert curve["equity"][0] == pytest.approx(10_000_000 + float(sell.signal_info["pnl"]))


def test_equity_curve_keeps_every_nth_point_and_the_last(monkeypatch):

    start = timezone.now() - timedelta(days=2)
    pnls = [D("1000.5"), D("-250"), None, D("75.25")] * 6 + [D("-1"), D("3")]  # 26, some without PnL
    Trade.objects.bulk_create(
        Trade(
            symbol="KRW-BTC",
            side="SELL",
            price=1,
            quantity=1,
            status="FILLED",
            client_order_id=f"s{i}",
            executed_at=start + timedelta(minutes=i),
            signal_info={} if pnl is None else {"pnl": str(pnl)},
        )
        for i, pnl in enumerate(pnls)
    )
    monkeypatch.setattr(dashboard, "MAX_CURVE_POINTS", 10)  # step 2: rows 1, 3, ..., 25 and the last
    curve = dashboard.equity_curve_points(D(1_000_000))
    running = [D(1_000_000) + sum(p or 0 for p in pnls[: i + 1]) for i in range(len(pnls))]
    assert curve["trades"] == 26
    assert curve["equity"] == [float(running[i]) for i in [*range(0, 26, 2), 25]]
    assert curve["t"][-1] == timezone.localtime(start + timedelta(minutes=25)).strftime("%Y-%m-%d %H:%M:%S")


def test_risk_page_shows_usage_and_the_audit_log(client, operator, trades):
    RiskAudit.objects.create(
        violation_type="MAX_POSITIONS", description="3 positions open, limit 3", symbol="KRW-XRP"
    )
    page = client.get("/risk/").content.decode()
    assert "Open positions" in page and "1 / 3" in page and "MAX_POSITIONS" in page
    filtered = client.get("/risk/?type=COOLDOWN").content.decode()
    assert "MAX_POSITIONS</td>" not in filtered and "Nothing was refused" in filtered


def test_risk_audit_log_folds_repeated_refusals_within_an_hour(client, operator):
    start = datetime(2030, 1, 6, 1, 0, tzinfo=UTC)  # 10:00 KST
    same = {"violation_type": "DAILY_TRADE_LIMIT", "description": "10 entries today, limit 10"}
    RiskAudit.objects.bulk_create(
        [
            RiskAudit(symbol="KRW-BTC", created_at=start + timedelta(seconds=10 * i), **same)
            for i in range(303)
        ]
        + [RiskAudit(symbol="KRW-ETH", created_at=start + timedelta(minutes=5), **same)]
        + [RiskAudit(symbol="KRW-BTC", created_at=start + timedelta(hours=1, minutes=1), **same)]
    )
    rows = list(client.get("/risk/").context["page"])
    assert [(r["symbol"], r["count"]) for r in rows] == [("KRW-BTC", 1), ("KRW-BTC", 303), ("KRW-ETH", 1)]
    folded = rows[1]
    assert (folded["first_at"], folded["last_at"]) == (start, start + timedelta(seconds=3020))
    page = client.get("/risk/").content.decode()
    assert "&times;303" in page and "first 10:00:00" in page and page.count('class="audit-row"') == 3


def test_risk_audit_log_shows_the_last_week_from_the_start_of_its_kst_hour(client, operator):
    now = timezone.now().replace(minute=30)
    start = dashboard.audit_window_start(now)
    assert start.minute == start.second == 0 and timedelta(days=7) <= now - start < timedelta(days=7, hours=1)
    for symbol, at in (("KRW-OLD", start - timedelta(seconds=1)), ("KRW-EDGE", start), ("KRW-NEW", now)):
        RiskAudit.objects.create(
            violation_type=f"LIMIT_{symbol[4:]}", description="x", symbol=symbol, created_at=at
        )
    with time_machine.travel(now, tick=False):  # the view's window is the one above, whatever the hour
        response = client.get("/risk/")
        assert [r["symbol"] for r in response.context["page"]] == ["KRW-NEW", "KRW-EDGE"]
        assert response.context["types"] == ["LIMIT_EDGE", "LIMIT_NEW"]
        page = response.content.decode()
        assert "The last 7 days." in page and 'id="audit-all"' not in page  # the admin link: staff only
        get_user_model().objects.filter(username="operator").update(is_staff=True)
        assert 'href="/admin/trading/riskaudit/" id="audit-all"' in client.get("/risk/").content.decode()
        RiskAudit.objects.all().delete()
        assert "Nothing was refused in the last 7 days." in client.get("/risk/").content.decode()


def test_risk_page_shows_the_volatility_fit_in_kst_and_annualised(client, operator, monkeypatch):
    state = {"current_volatility": 0.001, "long_run_volatility": 0.001, "is_high_volatility": False,
             "alpha": 0.1, "beta": 0.8, "timestamp": "2030-01-06T00:05:00+00:00"}  # fmt: skip
    monkeypatch.setattr(dashboard, "read_state", lambda: state)
    page = client.get("/risk/").content.decode()
    assert "72.5% a year" in page  # 0.001 x sqrt(525,600) = 0.725
    assert "fitted 2030-01-06 09:05 KST" in page and "+00:00" not in page


def test_history_filters_and_shows_pnl_per_sell(client, operator, trades):
    page = client.get("/history/?side=SELL").content.decode()
    rows = page.split('<table id="trades">', 1)[1].split("</table>", 1)[0]
    assert "TAKE_PROFIT" in rows and "KRW-ETH" not in rows  # ETH's only trade is a BUY
    assert rows.count("action-SELL") == 1 and "action-BUY" not in rows
    bad = client.get("/history/?from=yesterday").content.decode()
    assert "&#x27;yesterday&#x27; is not a date (YYYY-MM-DD)" in bad


def test_history_csv_streams_the_filtered_trades(client, operator, trades):
    response = client.get("/history.csv?symbol=KRW-BTC")
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["side"], r["exit_reason"]) for r in rows] == [("BUY", ""), ("SELL", "TAKE_PROFIT")]
    assert D(rows[1]["pnl_krw"]) > 0 and rows[1]["created_at_kst"]


def test_history_paginates(client, operator):
    at = datetime(2030, 1, 1, tzinfo=UTC)
    Trade.objects.bulk_create(
        [
            Trade(
                symbol="KRW-BTC",
                side="BUY",
                price=1,
                quantity=1,
                status="FILLED",
                client_order_id=f"o{i}",
                executed_at=at,
            )
            for i in range(120)
        ]
    )
    first = client.get("/history/").content.decode()
    assert "page 1 of 3 (120 rows)" in first
    assert "page 3 of 3" in client.get("/history/?page=3").content.decode()
