"""Quick backtest gate: off by default; thresholds; one backtest per symbol per KST day."""

from datetime import UTC, datetime
from unittest import mock

import pytest

from market.models import Candle
from trading import backtest_gate as gate

GOOD = {
    "total_return_pct": 5.0,
    "win_rate_pct": 50.0,
    "profit_factor": 1.5,
    "sharpe": 1.2,
    "max_drawdown_pct": 8.0,
}
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 10:00 KST


def test_good_statistics_pass():
    assert gate.misses(GOOD, gate.DEFAULT_THRESHOLDS) == []


@pytest.mark.parametrize(
    ("stat", "value", "text"),
    [
        ("total_return_pct", 2.9, "return 2.90% < 3.00%"),
        ("win_rate_pct", 34.0, "win rate 34.0% < 35.0%"),
        ("profit_factor", 1.2, "profit factor 1.20 < 1.30"),
        ("sharpe", 0.5, "Sharpe 0.50 < 0.80"),
        ("max_drawdown_pct", 21.0, "max drawdown 21.00% > 20.00%"),
        ("profit_factor", None, "profit factor n/a"),
    ],
)
def test_each_threshold_refuses(stat, value, text):
    (miss,) = gate.misses(GOOD | {stat: value}, gate.DEFAULT_THRESHOLDS)
    assert miss.startswith(text)


def test_the_gate_is_off_by_default(settings):
    assert settings.COINPILOT_BACKTEST_GATE is False
    assert gate.gate_refusal("KRW-BTC", NOW) is None


@pytest.mark.django_db
def test_the_verdict_is_computed_once_per_symbol_and_kst_day(settings, redis_conn):
    settings.COINPILOT_BACKTEST_GATE = True
    with mock.patch.object(gate, "_run", return_value="backtest gate (30 days): Sharpe 0.10 < 0.8") as run:
        assert gate.gate_refusal("KRW-BTC", NOW).endswith("Sharpe 0.10 < 0.8")
        assert gate.gate_refusal("KRW-BTC", NOW.replace(hour=14)).endswith("Sharpe 0.10 < 0.8")  # 23:00 KST
        assert run.call_count == 1
        gate.gate_refusal("KRW-BTC", NOW.replace(hour=15))  # 00:00 KST: a new day, a new backtest
        assert run.call_count == 2
    assert (
        14 * 3600 - 5 <= redis_conn.ttl("trading:backtest_gate:KRW-BTC:2026-03-02") <= 14 * 3600
    )  # to midnight


@pytest.mark.django_db
def test_no_history_is_a_refusal(settings):
    settings.COINPILOT_BACKTEST_GATE = True
    assert gate.gate_refusal("KRW-ETH", NOW) == "backtest gate: no candles for the last 30 days"


@pytest.mark.django_db
def test_a_real_backtest_with_no_trades_is_refused(settings):
    settings.COINPILOT_BACKTEST_GATE = True
    Candle.objects.bulk_create(
        Candle(symbol="KRW-XRP", timestamp=NOW.replace(minute=m), open=9, high=9, low=9, close=9, volume=1)
        for m in range(30)
    )
    refusal = gate.gate_refusal("KRW-XRP", NOW.replace(minute=45))
    assert refusal.startswith("backtest gate (30 days): return 0.00% < 3.00%")
