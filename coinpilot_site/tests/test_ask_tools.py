"""Ask CoinPilot's read-only tools on fixtures: filters, limits, bad arguments, read-only, no secrets.

`seed()` (used by the other test_ask files too) books real trades through trading.booking and
adds AI decisions, risk audits, regimes, candles and a bot status around NOW.
"""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents.models import AgentDecision
from coinpilot_site.ask import registry, tools
from coinpilot_site.ask.args import ToolArgumentError
from market.candles import CandleRow, store_candles
from market.models import RegimeHistory
from trading import booking
from trading.config import default_risk
from trading.cycle import STATUS_KEY
from trading.fills import buy_fill, sell_fill
from trading.models import RiskAudit

NOW = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)  # 12:00 KST
SECRETS = {
    "ANTHROPIC_API_KEY": "sk-ant-SECRET-anthropic-0001",
    "OPENAI_API_KEY": "sk-SECRET-openai-0002",
    "UPBIT_ACCESS_KEY": "SECRET-upbit-access-0003",
    "UPBIT_SECRET_KEY": "SECRET-upbit-secret-0004",
    "DISCORD_WEBHOOK_URL": "https://discord.com/api/webhooks/1/SECRET-webhook-0005",
    "SECRET_KEY": "SECRET-django-key-0006-" + "x" * 40,
    "METRICS_TOKEN": "SECRET-metrics-0007",
}


def _round_trip(
    symbol: str, price: str, *, bought: timedelta, sold: timedelta | None, rise: str, reason: str
):
    booking.book_buy(
        symbol=symbol,
        fill=buy_fill(krw=Decimal(500000), reference=Decimal(price)),
        client_order_id=f"{symbol}-buy",
        regime="SIDEWAYS",
        at=NOW - bought,
        signal_info={"rsi14": 31.2},
    )
    if sold is None:
        return
    qty = booking.Position.objects.get(symbol=symbol).quantity
    booking.book_sell(
        symbol=symbol,
        fill=sell_fill(quantity=qty, reference=Decimal(price) * Decimal(rise)),
        client_order_id=f"{symbol}-sell",
        reason=reason,
        at=NOW - sold,
        limits=default_risk(),
    )


def _decision(symbol: str, decision: str, reasoning: str, ago: timedelta, **extra) -> AgentDecision:
    row = AgentDecision.objects.create(symbol=symbol, decision=decision, reasoning=reasoning, **extra)
    AgentDecision.objects.filter(pk=row.pk).update(created_at=NOW - ago)
    return row


def seed(redis=None) -> dict:
    """Trades (BTC take profit, XRP stop loss, ETH open), decisions, audits, regimes, candles, a status."""
    _round_trip(
        "KRW-BTC",
        "90000000",
        bought=timedelta(hours=10),
        sold=timedelta(hours=8),
        rise="1.03",
        reason="TAKE_PROFIT",
    )
    _round_trip(
        "KRW-XRP",
        "3000",
        bought=timedelta(hours=30),
        sold=timedelta(hours=26),
        rise="0.97",
        reason="STOP_LOSS",
    )
    _round_trip("KRW-ETH", "5000000", bought=timedelta(hours=3), sold=None, rise="1", reason="")
    rejected = _decision(
        "KRW-ETH",
        "REJECTED",
        "lower highs for 12 hours: a weak bounce",
        timedelta(hours=4),
        analyst_decision="REJECT",
        confidence=75,
        price_at_decision=Decimal("4950000"),
        regime="BEAR",
    )
    _decision("KRW-BTC", "APPROVED", "RSI recovered on rising volume", timedelta(hours=10), confidence=82)
    RiskAudit.objects.create(
        violation_type="MAX_POSITIONS",
        description="3 positions open",
        symbol="KRW-SOL",
        created_at=NOW - timedelta(hours=2),
    )
    RiskAudit.objects.create(
        violation_type="DAILY_TRADES",
        description="10 entries today",
        symbol="KRW-DOGE",
        created_at=NOW - timedelta(hours=50),
    )
    for symbol, regime, diff in (("KRW-BTC", "SIDEWAYS", "0.8"), ("KRW-ETH", "BEAR", "-2.6")):
        row = RegimeHistory.objects.create(coin_symbol=symbol, regime=regime, diff_pct=Decimal(diff))
        RegimeHistory.objects.filter(pk=row.pk).update(created_at=NOW - timedelta(hours=1))
    bar = NOW - timedelta(minutes=2)
    store_candles([CandleRow("KRW-ETH", "1m", bar, *(Decimal("5100000"),) * 4, Decimal("3"), None)])
    if redis is not None:
        status = {
            "price": 5100000.0,
            "regime": "BEAR",
            "action": "HOLD",
            "reason": "exit checks passed",
            "at": NOW.isoformat(),
        }
        redis.set(STATUS_KEY.format(symbol="KRW-ETH"), json.dumps(status))
    return {"rejected": rejected}


@pytest.fixture
def data(db, redis_conn):
    return seed(redis_conn)


def run(name: str, **args) -> tools.ToolResult:
    return registry.call(name, args, NOW)


def test_trades_filter_by_symbol_side_and_kst_period(data):
    result = run("get_trades", symbol="KRW-BTC", side="SELL")
    [sell] = result.data["rows"]
    assert sell["exit_reason"] == "TAKE_PROFIT" and Decimal(sell["pnl_krw"]) > 0
    assert sell["executed_at"] == "2026-03-10T04:00:00+09:00"  # NOW - 8 h, in KST
    assert result.data["filters"] == {"symbol": "KRW-BTC", "side": "SELL"}
    # KST days: 2026-03-09 holds the XRP round trip (06:00 and 10:00 KST), not the BTC one (03-10)
    period = run("get_trades", **{"from": "2026-03-09", "to": "2026-03-09"})
    assert {(r["symbol"], r["side"]) for r in period.data["rows"]} == {
        ("KRW-XRP", "BUY"),
        ("KRW-XRP", "SELL"),
    }


def test_trades_limit_and_truncation(data, settings):
    settings.ASK_TOOL_ROW_LIMIT = 3
    result = run("get_trades")
    assert result.rows == 3 and result.data["truncated"] is True and result.data["limit"] == 3
    assert [r["symbol"] for r in result.data["rows"]] == ["KRW-ETH", "KRW-BTC", "KRW-BTC"]  # newest first
    assert run("get_trades", limit=1).data["rows"][0]["symbol"] == "KRW-ETH"
    with pytest.raises(ToolArgumentError, match="limit must be between 1 and 3, not 4"):
        run("get_trades", limit=4)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"coin": "BTC"}, r"unknown argument\(s\) coin \(allowed: symbol, side"),
        ({"symbol": "BTC/USDT"}, "symbol must be a KRW market like KRW-BTC"),
        ({"side": "HOLD"}, "side must be one of BUY, SELL"),
        ({"from": "yesterday"}, "from must be a date"),
        ({"from": "2026-03-09", "to": "2026-03-01"}, "'from' must be before 'to'"),
        ({"from": "2024-01-01", "to": "2026-03-01"}, "at most 366 days"),
        ({"limit": "10"}, "limit must be a whole number"),
        ({"limit": True}, "limit must be a whole number"),
    ],
)
def test_bad_arguments_get_a_clear_error(data, args, message):
    with pytest.raises(ToolArgumentError, match=message):
        run("get_trades", **args)


def test_unknown_tool_and_non_object_arguments_are_refused(db):
    with pytest.raises(ToolArgumentError, match="unknown tool 'delete_trades'"):
        run("delete_trades")
    with pytest.raises(ToolArgumentError, match="arguments must be a JSON object"):
        registry.call("get_trades", ["KRW-BTC"], NOW)


def test_timed_call_reports_errors_instead_of_raising(data):
    result, error, ms = registry.timed_call("get_trades", {"symbol": 42}, NOW)
    assert result is None and error == "invalid arguments: symbol must be a string" and ms >= 0


def test_a_short_symbol_means_its_krw_market(data):
    assert {r["symbol"] for r in run("get_trades", symbol="eth").data["rows"]} == {"KRW-ETH"}


def test_ai_decisions_carry_reasons_and_admin_sources(data):
    result = run("get_ai_decisions", symbol="KRW-ETH", **{"from": "2026-03-10"})
    [row] = result.data["rows"]
    assert row["decision"] == "REJECTED" and row["reasoning"].startswith("lower highs")
    assert row["confidence"] == 75 and row["price_at_decision"] == "4950000"
    assert row["created_at"] == "2026-03-10T08:00:00+09:00"
    admin = [s for s in result.sources if s["admin"]]
    assert admin == [
        {
            "label": f"AI decision #{data['rejected'].pk} KRW-ETH REJECTED",
            "url": f"/admin/agents/agentdecision/{data['rejected'].pk}/change/",
            "admin": True,
        }
    ]
    assert run("get_ai_decisions", decision="APPROVED").data["rows"][0]["symbol"] == "KRW-BTC"


def test_risk_audits_regimes_and_risk_state(data):
    audits = run("get_risk_audits", **{"from": "2026-03-10T00:00:00"})
    assert [r["violation_type"] for r in audits.data["rows"]] == ["MAX_POSITIONS"]
    assert audits.sources[0] == {"label": "Risk", "url": "/risk/", "admin": False}
    assert run("get_risk_audits", symbol="KRW-DOGE").data["rows"][0]["description"] == "10 entries today"
    regimes = run("get_regime_history", symbol="KRW-ETH")
    assert regimes.data["rows"][0]["regime"] == "BEAR" and regimes.data["rows"][0]["diff_pct"] == "-2.6"
    assert regimes.sources == [{"label": "Market KRW-ETH", "url": "/market/?symbol=KRW-ETH", "admin": False}]
    state = run("get_risk_state").data
    assert state["kill_switch"] is False and state["days"][0]["entries"] >= 1


def test_positions_are_marked_at_the_latest_close(data):
    result = run("get_positions")
    [eth] = result.data["positions"]
    assert eth["symbol"] == "KRW-ETH" and eth["price"] == "5100000"
    assert Decimal(eth["unrealized_pnl"]) > 0 and result.data["cash_krw"] is not None


def test_bot_status_reads_the_cycles_redis_key(data):
    rows = run("get_bot_status").data["symbols"]
    by_symbol = {r["symbol"]: r["status"] for r in rows}
    assert by_symbol["KRW-ETH"]["action"] == "HOLD" and by_symbol["KRW-ETH"]["age_s"] == 0
    assert by_symbol["KRW-BTC"].startswith("no status in the last 5 minutes")
    with pytest.raises(ToolArgumentError):
        run("get_bot_status", symbol="")


def test_reports_and_config(data):
    daily = run("get_daily_report", **{"from": "2026-03-09"}).data
    assert daily["report_day_kst"] == "2026-03-09" and daily["sells"] == 1  # XRP at 03-09 10:00 KST
    assert set(daily["by_exit_reason"]) == {"STOP_LOSS"} and Decimal(daily["realized_pnl_krw"]) < 0
    weekly = run("get_weekly_exit_report", days=7).data
    assert weekly["sells"] == 2 and {r["exit_reason"] for r in weekly["by_regime_and_exit_reason"]} == {
        "TAKE_PROFIT",
        "STOP_LOSS",
    }
    with pytest.raises(ToolArgumentError, match="days must be between 1 and 90"):
        run("get_weekly_exit_report", days=365)
    config = run("get_config").data
    assert config["risk_limits"]["max_concurrent_positions"] == 3
    assert config["strategy"]["regimes"]["BULL"]["take_profit_pct"] == 5.0


def test_every_schema_is_an_object_without_extra_properties():
    for schema in registry.schemas():
        assert schema["input_schema"]["type"] == "object"
        assert schema["input_schema"]["additionalProperties"] is False
        assert len(schema["description"]) > 20


ALL_CALLS = [
    ("get_trades", {"symbol": "KRW-BTC"}),
    ("get_ai_decisions", {}),
    ("get_risk_audits", {}),
    ("get_regime_history", {}),
    ("get_positions", {}),
    ("get_bot_status", {}),
    ("get_risk_state", {}),
    ("get_daily_report", {}),
    ("get_weekly_exit_report", {}),
    ("get_config", {}),
]


def test_every_tool_is_covered_by_the_read_only_and_secret_checks():
    assert {name for name, _ in ALL_CALLS} == set(registry.TOOLS)


def test_tools_only_read(data):
    with CaptureQueriesContext(connection) as queries:
        for name, args in ALL_CALLS:
            registry.call(name, args, NOW)
    writes = [
        q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    assert writes == [] and len(queries) > 10


def test_no_secret_reaches_a_tool_result(data, settings):
    for name, value in SECRETS.items():
        setattr(settings, name, value)
    dumped = json.dumps([registry.call(name, args, NOW).data for name, args in ALL_CALLS])
    assert not [name for name, value in SECRETS.items() if value in dumped]
    assert "SECRET" not in dumped
