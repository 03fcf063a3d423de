"""Veto scorecard: prices after each decision (nearest 1m close within +-5 min) and the summary."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents.jobs import track_decision_prices
from agents.models import AgentDecision
from agents.scorecard import due_horizons, nearest_close, scorecard, track_prices
from market.candles import CandleRow, load_frames, store_candles

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def bars(symbol: str, points: dict[datetime, str]) -> None:
    store_candles(
        [
            CandleRow(symbol, "1m", ts, Decimal(c), Decimal(c), Decimal(c), Decimal(c), Decimal(1), None)
            for ts, c in points.items()
        ]
    )


def decision(
    symbol: str, verdict: str, regime: str = "BEAR", at: datetime = T0, price: str = "100"
) -> AgentDecision:
    row = AgentDecision.objects.create(
        symbol=symbol, decision=verdict, regime=regime, price_at_decision=Decimal(price)
    )
    AgentDecision.objects.filter(pk=row.pk).update(created_at=at)
    return row


def test_due_horizons_wait_for_the_whole_window_and_stop_when_stale():
    empty = {"1h": None, "4h": None, "24h": None}
    assert due_horizons(T0, empty, T0 + timedelta(hours=1, minutes=5)) == []
    assert due_horizons(T0, empty, T0 + timedelta(hours=1, minutes=6)) == ["1h"]
    assert due_horizons(T0, {**empty, "1h": Decimal(1)}, T0 + timedelta(hours=5)) == ["4h"]
    assert due_horizons(T0, empty, T0 + timedelta(hours=26)) == ["4h", "24h"]  # 1h is 24 h stale


def test_nearest_close_ties_to_the_earlier_bar_and_ignores_bars_outside_5_minutes():
    target = T0 + timedelta(hours=1)
    bars("KRW-BTC", {target - timedelta(minutes=2): "98", target + timedelta(minutes=2): "99"})
    bars("KRW-BTC", {target + timedelta(minutes=6): "90"})
    frame = load_frames(["KRW-BTC"], start=T0, end=T0 + timedelta(hours=2))["KRW-BTC"]
    assert nearest_close(frame, target) == Decimal("98")
    assert nearest_close(frame, target + timedelta(minutes=12)) is None  # +6 is 6 min away


def test_tracking_fills_each_horizon_when_due_in_few_queries():
    approved = decision("KRW-BTC", "APPROVED", "BULL")
    vetoed = decision("KRW-ETH", "REJECTED", "BEAR")
    skipped = AgentDecision.objects.create(symbol="KRW-XRP", decision="SKIPPED", price_at_decision=1)
    for symbol, prices in (("KRW-BTC", ("101", "103", "105")), ("KRW-ETH", ("97", "95", "110"))):
        bars(symbol, {T0 + timedelta(hours=h, minutes=1): p for h, p in zip((1, 4, 24), prices, strict=True)})
    with CaptureQueriesContext(connection) as queries:
        summary = track_prices(T0 + timedelta(hours=1, minutes=7))
    assert summary == "2 prices tracked, 0 missed, 2 decisions updated"
    assert len(queries) <= 5  # decisions, bars, and an UPDATE per horizon: not one per decision
    approved.refresh_from_db()
    assert (approved.price_1h, approved.price_4h) == (Decimal("101"), None)
    track_prices(T0 + timedelta(hours=24, minutes=7))
    approved.refresh_from_db()
    vetoed.refresh_from_db()
    skipped.refresh_from_db()
    assert (approved.price_1h, approved.price_4h, approved.price_24h) == tuple(
        map(Decimal, ("101", "103", "105"))
    )
    assert (vetoed.price_1h, vetoed.price_4h, vetoed.price_24h) == tuple(map(Decimal, ("97", "95", "110")))
    assert skipped.price_1h is None
    assert track_prices(T0 + timedelta(hours=24, minutes=17)) == "0 prices tracked"


def test_a_missing_bar_is_retried_until_it_appears():
    row = decision("KRW-BTC", "REJECTED")
    assert track_prices(T0 + timedelta(hours=1, minutes=7)).startswith("0 prices tracked, 1 missed")
    bars("KRW-BTC", {T0 + timedelta(hours=1, minutes=4): "96"})  # a late backfill
    assert track_prices(T0 + timedelta(hours=1, minutes=17)).startswith("1 prices tracked")
    row.refresh_from_db()
    assert row.price_1h == Decimal("96")


def test_the_job_gives_up_on_stale_horizons():
    row = decision("KRW-BTC", "REJECTED")
    bars("KRW-BTC", {T0 + timedelta(hours=1): "96"})
    assert track_decision_prices(slot=T0) == "0 prices tracked"  # wall-clock now: days after T0
    row.refresh_from_db()
    assert row.price_1h is None


def test_scorecard_per_regime_and_the_command(capsys):
    rows = [
        ("BEAR", "REJECTED", ("95", "90", "92")),  # veto avoided a loss
        ("BEAR", "REJECTED", ("102", "104", "99")),  # veto missed a gain at 1h/4h
        ("BEAR", "APPROVED", ("101", "102", "103")),
        ("BULL", "APPROVED", ("99", None, None)),
    ]
    for regime, verdict, prices in rows:
        row = decision("KRW-BTC", verdict, regime)
        p1, p4, p24 = (None if p is None else Decimal(p) for p in prices)
        AgentDecision.objects.filter(pk=row.pk).update(price_1h=p1, price_4h=p4, price_24h=p24)
    AgentDecision.objects.create(symbol="KRW-BTC", decision="SKIPPED", regime="BEAR", price_at_decision=1)
    card = scorecard()
    assert list(card) == ["BEAR", "BULL", "ALL"]
    assert card["BEAR"]["1h"] == {
        "approvals": 1,
        "avg_move_after_approval_pct": 1.0,
        "vetoes": 2,
        "avg_move_after_veto_pct": -1.5,
        "vetoes_avoided_loss": 1,
        "vetoes_missed_gain": 1,
        "veto_hit_rate_pct": 50.0,
    }
    assert (
        card["BEAR"]["24h"]["vetoes_avoided_loss"] == 2 and card["BEAR"]["24h"]["veto_hit_rate_pct"] == 100.0
    )
    assert card["BULL"]["4h"]["approvals"] == 0 and card["BULL"]["1h"]["avg_move_after_approval_pct"] == -1.0
    assert card["ALL"]["1h"]["approvals"] == 2
    call_command("ai_scorecard", "--days", "0")
    out = capsys.readouterr().out
    assert "avoided loss" in out and out.count("\nBEAR") == 3 and "50.0" in out


def test_command_without_decisions(capsys):
    call_command("ai_scorecard")
    assert "No tracked AI decisions yet." in capsys.readouterr().out
