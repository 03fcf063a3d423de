"""GARCH(1,1) volatility state: a good fit is stored; a failed fit keeps the last one."""

import json
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest

from market import volatility
from market.analysis_jobs import retrain_volatility
from market.models import Candle, VolatilityFit

NOW = datetime(2026, 3, 20, 0, 5, tzinfo=UTC)


def garch_returns(n=1000, omega=2e-8, alpha=0.06, beta=0.92, seed=1, shock_at=None):
    """Simulated 1-minute log returns of a known GARCH(1,1) (optionally a volatility shock)."""
    rng = np.random.default_rng(seed)
    var, out = omega / (1 - alpha - beta), np.empty(n)
    for i in range(n):
        out[i] = np.sqrt(var) * rng.standard_normal()
        if shock_at is not None and i >= shock_at:
            out[i] = 8 * np.sqrt(var)  # an 8-sigma minute
        var = omega + alpha * out[i] ** 2 + beta * var
    return out


def store_closes(symbol: str, returns: np.ndarray) -> None:
    closes = 50_000_000 * np.exp(np.concatenate([[0.0], np.cumsum(returns)]))
    start = NOW - timedelta(minutes=len(closes))
    Candle.objects.bulk_create(
        Candle(symbol=symbol, timestamp=start + timedelta(minutes=i), open=Decimal(f"{c:.8f}"),
               high=Decimal(f"{c:.8f}"), low=Decimal(f"{c:.8f}"), close=Decimal(f"{c:.8f}"), volume=1)
        for i, c in enumerate(closes)
    )  # fmt: skip


def test_fit_on_basis_points_recovers_a_stable_model():
    state = volatility.fit_garch(garch_returns(), high_ratio=1.5, now=NOW)
    assert state.alpha + state.beta < 0.999
    assert 5e-4 < state.long_run_volatility < 2e-3  # true long-run sigma is 1e-3 per minute
    assert state.is_high_volatility is False


def test_a_volatility_shock_is_flagged_high():
    state = volatility.fit_garch(garch_returns(alpha=0.15, beta=0.8, shock_at=999), high_ratio=1.5, now=NOW)
    assert state.current_volatility > 1.5 * state.long_run_volatility
    assert state.is_high_volatility is True


def test_threshold_is_configurable():
    state = volatility.fit_garch(garch_returns(alpha=0.15, beta=0.8, shock_at=999), high_ratio=1000, now=NOW)
    assert state.is_high_volatility is False


@pytest.mark.parametrize(
    ("returns", "why"),
    [
        (np.zeros(1000), "non-constant"),
        (np.full(50, 1e-3), "at least 100"),
        (np.array([np.nan] * 500 + [1e-3] * 500), "finite"),
        (garch_returns() * 1e-4, "DataScaleWarning"),  # far too small even in basis points
    ],
)
def test_untrustworthy_input_is_a_failed_fit(returns, why):
    with pytest.raises(volatility.FitFailed, match=why):
        volatility.fit_garch(returns, high_ratio=1.5, now=NOW)


def test_near_integrated_fit_is_refused(monkeypatch):
    monkeypatch.setattr(volatility, "MAX_PERSISTENCE", 0.5)  # any realistic fit is now "too persistent"
    with pytest.raises(volatility.FitFailed, match="alpha \\+ beta"):
        volatility.fit_garch(garch_returns(), high_ratio=1.5, now=NOW)


@pytest.mark.django_db
def test_job_stores_built_in_json_for_the_risk_manager(settings, redis_conn):
    settings.COINPILOT_VOLATILITY_SYMBOL = "KRW-ETH"
    store_closes("KRW-ETH", garch_returns(1200))
    summary = retrain_volatility(slot=NOW)
    assert summary.startswith("KRW-ETH: sigma")
    state = json.loads(redis_conn.get(volatility.STATE_KEY))
    assert set(state) >= {"current_volatility", "is_high_volatility", "timestamp"}
    assert isinstance(state["is_high_volatility"], bool) and state["timestamp"] == NOW.isoformat()
    assert volatility.read_state() == state


@pytest.mark.django_db
def test_the_state_survives_a_redis_flush(settings, redis_conn):
    """Size halving must not switch off until the next daily fit because Redis forgot."""
    settings.COINPILOT_VOLATILITY_SYMBOL = "KRW-ETH"
    store_closes("KRW-ETH", garch_returns(1200))
    retrain_volatility(slot=NOW)
    fitted = volatility.read_state()
    redis_conn.flushdb()

    assert volatility.read_state() == fitted  # from the database
    assert json.loads(redis_conn.get(volatility.STATE_KEY)) == fitted  # and cached again
    assert VolatilityFit.objects.get().symbol == "KRW-ETH"


@pytest.mark.django_db
def test_failed_fit_keeps_the_last_state_and_logs_why(redis_conn, caplog):
    last = {"current_volatility": 0.001, "is_high_volatility": True}
    redis_conn.set(volatility.STATE_KEY, json.dumps(last))
    store_closes("KRW-BTC", np.zeros(1000))  # a frozen market: nothing to fit
    with caplog.at_level(logging.WARNING, logger="market.volatility"):
        summary = volatility.retrain("KRW-BTC", high_ratio=1.5, now=NOW)
    assert "fit failed" in summary and "kept the last state" in summary
    assert json.loads(redis_conn.get(volatility.STATE_KEY))["is_high_volatility"] is True
    assert "non-constant" in caplog.text


@pytest.mark.django_db
def test_no_candles_is_a_failed_fit_not_an_exception(redis_conn):
    assert "fit failed" in volatility.retrain("KRW-NONE", high_ratio=1.5, now=NOW)
    assert volatility.read_state() is None


@pytest.mark.django_db
def test_fit_uses_the_newest_1000_returns():
    store_closes("KRW-BTC", garch_returns(1500))
    closes = volatility.recent_closes("KRW-BTC")
    assert len(closes) == 1001
    newest = Candle.objects.filter(symbol="KRW-BTC").order_by("-timestamp").first()
    assert closes[-1] == pytest.approx(float(newest.close))
