"""Fill drift: a day booked by the real live cycle (paper executor, stored real candles, the
live market's latest-close quote) is replayed by the backtester and compared trade for trade.

The day: KST 2018-01-31 00:00-02:00 of the committed real KRW-BTC minutes (tests/data), BEAR as
the bot read it from RegimeHistory (the file is too short for the hourly MA200), default limits:
the backtester takes three entries and two exits in those hours.
"""

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO

import django_rq
import pandas as pd
import pytest
import time_machine
from django.core.management import CommandError, call_command

from agents.models import AgentDecision
from analytics import fill_drift
from analytics.models import FillDriftReport
from conftest import TEST_DATA
from core.kst import KST
from core.redis_conn import get_redis
from market.models import Candle, RegimeHistory
from trading.config import load_defaults, save_risk_version, save_strategy_version
from trading.cycle import run_cycle
from trading.executors.paper import PaperExecutor
from trading.markets import live_market
from trading.models import RiskConfig, StrategyConfig, Trade, TradeMode

SYMBOL = "KRW-BTC"
DAY = date(2018, 1, 31)
START = datetime(2018, 1, 31, tzinfo=KST).astimezone(UTC)
HOURS = 2
WARMUP = 36 * 60  # minutes before the day: the live indicator window, the AI's 24 hourly candles


def store_window() -> pd.DataFrame:
    """The real minutes from WARMUP before the day's start to HOURS into it."""
    df = pd.read_csv(TEST_DATA / "upbit_krw_btc_1m_20180125.csv", parse_dates=["timestamp"])
    end = START + timedelta(hours=HOURS)
    df = df[(df.timestamp >= START - timedelta(minutes=WARMUP)) & (df.timestamp < end)]
    dec = lambda x: Decimal(str(x))  # noqa: E731
    Candle.objects.bulk_create(
        Candle(symbol=SYMBOL, timestamp=r.timestamp.to_pydatetime(), open=dec(r.open), high=dec(r.high),
               low=dec(r.low), close=dec(r.close), volume=dec(r.volume))
        for r in df.itertuples()
    )  # fmt: skip
    return df


def versions_before_the_day() -> None:
    """KRW-BTC only, default limits, active since before the day; the bot read BEAR then."""
    defaults = load_defaults()
    save_strategy_version(symbols=[SYMBOL], params=defaults["regimes"], note="fill drift test")
    save_risk_version(values=defaults["risk"], note="fill drift test")
    long_ago = START - timedelta(days=30)
    StrategyConfig.objects.update(created_at=long_ago)
    RiskConfig.objects.update(created_at=long_ago)
    row = RegimeHistory.objects.create(coin_symbol=SYMBOL, regime="BEAR")
    RegimeHistory.objects.filter(pk=row.pk).update(created_at=START - timedelta(minutes=30))


def decision_times(df: pd.DataFrame) -> list[datetime]:
    """Every bar close from the day's start (the bar opened at 23:59 is decided at 00:00)."""
    closes = [t.to_pydatetime() + timedelta(minutes=1) for t in df.timestamp]
    return [t for t in closes if START <= t < START + timedelta(hours=HOURS)]


def book_day(slippage_bps: Decimal, ask_ai_at: set[datetime] = frozenset(), df=None) -> None:
    """The live cycle at every bar close of the window, booking paper trades."""
    if df is None:
        df = store_window()
        versions_before_the_day()
    market, executor = live_market(), PaperExecutor(slippage_bps=slippage_bps, mode=TradeMode.PAPER)
    for now in decision_times(df):
        if now in ask_ai_at:
            with time_machine.travel(now, tick=False):  # the AI's records carry the decision time
                cycle(now, market, executor, ask_ai=True)
        else:
            cycle(now, market, executor, ask_ai=False)


def cycle(now: datetime, market, executor, *, ask_ai: bool) -> None:
    run_cycle(now=now, slot=now, market=market, executor=executor, write_status=False, ask_ai=ask_ai)


@pytest.fixture
def no_model_slippage(settings):
    settings.COINPILOT_BACKTEST_SLIPPAGE_BPS = "0"
    return settings


def queued_system_alerts() -> list[dict]:
    jobs = django_rq.get_queue("notifications").get_jobs()
    return [job.args[1] for job in jobs if job.args[0] == "system"]


@pytest.mark.django_db
def test_a_day_booked_by_the_live_cycle_has_zero_drift(no_model_slippage):
    book_day(Decimal(0))
    drift = fill_drift.compare_day(DAY)
    booked = Trade.objects.filter(mode=TradeMode.PAPER).count()
    assert booked == drift.live_trades == drift.backtest_trades == len(drift.matched) == 5
    assert {m["side"] for m in drift.matched} == {"BUY", "SELL"}
    assert drift.live_only == drift.backtest_only == []
    assert drift.mean_abs_bps == drift.max_abs_bps == Decimal("0.00")
    assert drift.live_pnl == drift.backtest_pnl != 0
    sales = [m for m in drift.matched if m["side"] == "SELL"]
    assert [Decimal(m["pnl_difference"]) for m in sales] == [0] * len(sales)
    assert (
        drift.regime == "BEAR"
        and drift.parts[0]["strategy"] == StrategyConfig.objects.get(is_active=True).version
    )


@pytest.mark.django_db
def test_injected_slippage_shows_as_drift_against_us_and_alerts_above_the_threshold(
    no_model_slippage, django_capture_on_commit_callbacks
):
    book_day(Decimal(10))  # live fills 10 bps worse than the backtest's model (0 bps)
    settings = no_model_slippage
    settings.FILL_DRIFT_ALERT_BPS = "50"
    with django_capture_on_commit_callbacks(execute=True):
        quiet = fill_drift.run_fill_drift(DAY)
    assert quiet.matched >= 3
    bps = [Decimal(m["bps"]) for m in quiet.details["matched"]]
    assert all(Decimal(8) <= b <= Decimal(11) for b in bps), bps  # 10 bps, rounded to the tick
    assert {m["side"] for m in quiet.details["matched"]} == {"BUY", "SELL"}  # a sale gets less: + too
    assert Decimal(8) <= quiet.mean_bps == quiet.mean_abs_bps <= Decimal(11)
    assert quiet.live_pnl < quiet.backtest_pnl
    assert queued_system_alerts() == []  # below the threshold: no alert
    settings.FILL_DRIFT_ALERT_BPS = "5"
    with django_capture_on_commit_callbacks(execute=True):
        loud = fill_drift.run_fill_drift(DAY)
    assert FillDriftReport.objects.count() == 1 and loud.pk == quiet.pk  # the day's report, replaced
    (alert,) = queued_system_alerts()
    assert f"{loud.mean_abs_bps} bps" in alert["title"] and "FILL_DRIFT_ALERT_BPS 5" in alert["detail"]


@pytest.mark.django_db(transaction=True)
def test_an_entry_the_ai_vetoed_is_backtest_only_with_the_veto_as_reason(no_model_slippage, fake_anthropic):
    df = store_window()
    versions_before_the_day()
    expected = fill_drift.backtest_fills(
        fill_drift.Drift(DAY), fill_drift.config_parts(START, START + timedelta(days=1)), [SYMBOL]
    )
    first = next(f for f in expected if f.side == "BUY")
    fake_anthropic.script("reject")
    book_day(Decimal(0), ask_ai_at={first.at}, df=df)
    decision = AgentDecision.objects.get()
    assert (decision.decision, decision.created_at) == ("REJECTED", first.at)
    drift = fill_drift.compare_day(DAY)
    minute = f"{first.at.astimezone(KST):%Y-%m-%d %H:%M}"
    vetoed = [r for r in drift.backtest_only if r["side"] == "BUY" and r["at"] == minute]
    assert len(vetoed) == 1 and vetoed[0]["reason"].startswith("AI veto (REJECTED: lower highs for 12 hours")
    (sale,) = [r for r in drift.backtest_only if r["side"] == "SELL"]
    assert sale["reason"] == f"its entry at {first.at.astimezone(KST):%H:%M} was not taken live"
    assert drift.matched  # the rest of the day still lines up where the two agree


@pytest.mark.django_db
def test_reasons_for_live_only_fills_operator_actions_and_carried_positions(no_model_slippage):
    store_window()
    versions_before_the_day()
    at = START + timedelta(hours=1, seconds=20)
    common = {"symbol": SYMBOL, "status": "FILLED", "mode": TradeMode.PAPER, "price": Decimal(12_000_000),
              "quantity": Decimal("0.01")}  # fmt: skip
    Trade.objects.create(
        side="SELL", client_order_id="manual", executed_at=at, exit_reason="MANUAL",
        signal_info={"pnl": "10", "opened_at": (at - timedelta(minutes=5)).isoformat()}, **common,
    )  # fmt: skip
    Trade.objects.create(
        side="SELL", client_order_id="carried", executed_at=at + timedelta(hours=1), exit_reason="STOP_LOSS",
        signal_info={"pnl": "-5", "opened_at": (START - timedelta(hours=3)).isoformat()}, **common,
    )  # fmt: skip
    minute = START + timedelta(hours=1)
    Candle.objects.filter(timestamp__gte=minute - timedelta(minutes=20), timestamp__lt=minute).delete()
    Trade.objects.create(side="BUY", client_order_id="gap", executed_at=at, **common)
    drift = fill_drift.compare_day(DAY)
    reasons = {(r["side"], r["at"][-5:]): r["reason"] for r in drift.live_only}
    assert reasons[("SELL", "01:00")] == "operator action (operator close)"
    assert reasons[("SELL", "02:00")] == "position opened before the day (the replay starts flat)"
    assert reasons[("BUY", "01:00")] == "data gap (20 of the 60 minutes before are not stored)"
    assert drift.live_pnl == Decimal(5)
    Trade.objects.all().delete()  # hand-made rows: the paper books never saw them


def test_drift_bps_is_positive_when_live_did_worse():
    assert fill_drift.drift_bps("BUY", Decimal(100), Decimal("100.1")) == Decimal("10.00")
    assert fill_drift.drift_bps("SELL", Decimal(100), Decimal("99.9")) == Decimal("10.00")
    assert fill_drift.drift_bps("SELL", Decimal(100), Decimal("100.2")) == Decimal("-20.00")


def test_matching_is_one_to_one_within_two_minutes():
    t = START + timedelta(hours=2)
    fill = lambda side, minutes, seconds=0: fill_drift.Fill(  # noqa: E731
        SYMBOL, side, t + timedelta(minutes=minutes, seconds=seconds), Decimal(1), Decimal(1)
    )
    backtest = [fill("BUY", 0), fill("SELL", 10), fill("BUY", 30)]
    live = [fill("BUY", 1, 20), fill("SELL", 13), fill("BUY", 31), fill("BUY", 32)]
    pairs, backtest_only, live_only = fill_drift.match(backtest, live)
    assert [(b.at - t, f.at - t) for b, f in pairs] == [
        (timedelta(0), timedelta(minutes=1, seconds=20)), (timedelta(minutes=30), timedelta(minutes=31)),
    ]  # fmt: skip
    assert [f.side for f in backtest_only] == ["SELL"]  # 3 minutes late: no match
    assert [f.at - t for f in live_only] == [timedelta(minutes=13), timedelta(minutes=32)]


@pytest.mark.django_db
def test_the_alert_fires_above_the_threshold_only(settings, django_capture_on_commit_callbacks):
    report = FillDriftReport.objects.create(
        day=DAY, matched=2, mean_bps=Decimal(12), mean_abs_bps=Decimal(12)
    )
    settings.FILL_DRIFT_ALERT_BPS = "12"
    assert not fill_drift.alert_if_drifting(report) and queued_system_alerts() == []
    settings.FILL_DRIFT_ALERT_BPS = "11.99"
    with django_capture_on_commit_callbacks(execute=True):  # notify queues once the caller commits
        assert fill_drift.alert_if_drifting(report)
    assert len(queued_system_alerts()) == 1
    assert not fill_drift.alert_if_drifting(FillDriftReport(day=DAY, matched=0))  # nothing matched


@pytest.mark.django_db
def test_the_daily_job_compares_the_previous_kst_day_and_a_rerun_keeps_one_report(no_model_slippage):
    from analytics.jobs import fill_drift as job

    slot = datetime(2018, 2, 1, 22, 30, tzinfo=KST)
    first, again = job(slot=slot), job(slot=slot)
    assert first == again and first.startswith("2018-01-31 (KST): 0 matched")
    assert list(FillDriftReport.objects.values_list("day", flat=True)) == [DAY]
    assert json.loads(get_redis().get(fill_drift.LATEST_KEY))["day"] == "2018-01-31"  # the System page's copy


@pytest.mark.django_db
def test_the_command_refuses_a_day_not_over_and_a_bad_date():
    with pytest.raises(CommandError, match="2099-01-01 \\(KST\\) is not over yet") as refused:
        call_command("fill_drift", "--day", "2099-01-01", stdout=StringIO())
    assert refused.value.returncode == 2
    with pytest.raises(CommandError, match="'2026-13-01' is not a date"):
        call_command("fill_drift", "--day", "2026-13-01", stdout=StringIO())
    assert not FillDriftReport.objects.exists()


@pytest.mark.django_db
def test_the_command_prints_the_day_and_its_unmatched_fills(no_model_slippage):
    store_window()
    versions_before_the_day()
    out = StringIO()
    call_command("fill_drift", "--day", "2018-01-31", stdout=out)
    text = out.getvalue()
    assert text.startswith("Fill drift 2018-01-31 (KST): 0 matched, 0 live only, 5 backtest only")
    assert "Backtest only: 2018-01-31 00:" in text and "Regime: BEAR" in text


@pytest.mark.django_db
def test_metrics_daily_report_and_system_page_show_the_latest_day(client, django_user_model):
    from analytics.daily_report import build_daily_report, facts

    FillDriftReport.objects.create(
        day=DAY, live_trades=3, backtest_trades=3, matched=2, live_only=1, backtest_only=1,
        mean_bps=Decimal("4.50"), mean_abs_bps=Decimal("6.25"), max_abs_bps=Decimal("9.00"),
        details={"live_only": [{"at": "2018-01-31 01:00", "side": "SELL", "symbol": SYMBOL, "price": "1",
                                "reason": "operator action (operator close)"}],
                 "backtest_only": [{"at": "2018-01-31 00:02", "side": "BUY", "symbol": SYMBOL, "price": "1",
                                    "reason": "AI veto (REJECTED: weak bounce)"}]},
    )  # fmt: skip
    families = {f.name: f for f in fill_drift.FillDriftCollector().collect()}
    assert families["coinpilot_fill_drift_bps"].samples[0].value == 6.25
    unmatched = {s.labels["side"]: s.value for s in families["coinpilot_fill_drift_unmatched_trades"].samples}
    assert unmatched == {"live_only": 1, "backtest_only": 1}
    report = build_daily_report(date(2018, 2, 1), datetime(2018, 2, 1, 13, tzinfo=UTC))
    assert "Fill drift vs backtest, 2018-01-31 (KST): 2 matched, 1 live only, 1 backtest only" in facts(
        report
    )
    assert "mean |drift| 6.25 bps (max 9.00)" in report.fill_drift
    client.force_login(django_user_model.objects.create_user("operator", password="x-long-password-1"))
    page = client.get("/system/").content.decode()
    assert 'id="fill-drift"' in page and "6.25 bps (9.00)" in page
    assert "AI veto (REJECTED: weak bounce)" in page and "operator action (operator close)" in page


@pytest.mark.parametrize("value", ["-1", "1001", "5%", "NaN"])
def test_the_threshold_setting_is_bounded(value, monkeypatch):
    from core.env_bounds import number_errors

    monkeypatch.setenv("FILL_DRIFT_ALERT_BPS", value)
    assert number_errors({"FILL_DRIFT_ALERT_BPS": value}) == [
        f"FILL_DRIFT_ALERT_BPS must be a number from 0 to 1,000 bps (1000 = 10 %), not {value!r}"
    ]
    assert number_errors({"FILL_DRIFT_ALERT_BPS": "20"}) == []


@pytest.mark.django_db
def test_a_version_activated_during_the_day_replays_its_part_with_it(no_model_slippage):
    store_window()
    versions_before_the_day()
    before = StrategyConfig.objects.get(is_active=True).version
    regimes = load_defaults()["regimes"]
    regimes["BEAR"] |= {"volume_min_ratio": 99, "volume_surge_check": False}  # no entry from 01:00
    changed = save_strategy_version(symbols=[SYMBOL], params=regimes, note="changed at 01:00")
    StrategyConfig.objects.filter(pk=changed.pk).update(created_at=START + timedelta(hours=1))
    risk = RiskConfig.objects.get(is_active=True).version
    drift = fill_drift.compare_day(DAY)
    assert drift.parts == [
        {"from": "2018-01-31 00:00", "strategy": before, "risk": risk},
        {"from": "2018-01-31 01:00", "strategy": changed.version, "risk": risk},
    ]
    late = [r for r in drift.backtest_only if r["at"] >= "2018-01-31 01:00" and r["side"] == "BUY"]
    early = [r for r in drift.backtest_only if r["at"] < "2018-01-31 01:00" and r["side"] == "BUY"]
    assert len(early) == 2 and late == []  # 01:51 was an entry under the old version only
