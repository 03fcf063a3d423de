"""`manage.py replay_history`: recent simulated history through the real cycle, then regimes."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.core.management import CommandError, call_command

from market.models import RegimeHistory
from market.regime import evaluate, fetch_hourly_closes, rounded_decimal
from trading.config import default_strategy, save_strategy_version, strategy_as_dict
from trading.models import DailyRiskState, Trade

pytestmark = pytest.mark.django_db


@time_machine.travel(datetime(2026, 11, 20, 12, 0, 30, tzinfo=UTC), tick=False)
def test_replay_books_trades_labelled_replay_and_refreshes_regimes(capsys):
    call_command("backfill", "--source", "sim", "--days", "11", "--symbols", "KRW-BTC,KRW-ETH,KRW-XRP")
    save_strategy_version(
        symbols=["KRW-BTC", "KRW-ETH", "KRW-XRP"], params=strategy_as_dict(default_strategy())["regimes"]
    )
    call_command("replay_history", "--days", "1")
    out = capsys.readouterr().out
    # 21:00 KST on 11-20: the replay is the KST day 11-19, up to 11-20 00:00 KST (11-19 15:00 UTC)
    assert "replayed 1 days up to 2026-11-20 00:00 KST:" in out and "regimes now: KRW-BTC" in out
    assert Trade.objects.filter(side="BUY").count() >= 1
    assert set(Trade.objects.values_list("mode", flat=True)) == {"replay"}
    # today's risk budget is untouched: the live bot trades from its first minute
    today_start = datetime(2026, 11, 19, 15, tzinfo=UTC)
    assert not Trade.objects.filter(executed_at__gte=today_start).exists()
    assert not DailyRiskState.objects.filter(date=date(2026, 11, 20)).exists()
    # the hourly regimes the replayed cycles saw, at their hours (24 per symbol), then the refresh
    replayed = RegimeHistory.objects.filter(
        coin_symbol="KRW-BTC", created_at__lt=datetime(2026, 11, 20, 12, tzinfo=UTC)
    )
    assert replayed.count() == 24
    assert replayed.order_by("created_at").first().created_at == datetime(2026, 11, 18, 15, tzinfo=UTC)
    assert set(replayed.values_list("regime", flat=True)) <= {"BULL", "SIDEWAYS", "BEAR", "UNKNOWN"}
    # each replayed row carries the moving averages it came from, as the hourly job would store them
    row = replayed.order_by("-created_at").first()
    job = evaluate("KRW-BTC", fetch_hourly_closes(["KRW-BTC"], row.created_at)["KRW-BTC"])
    assert (row.regime, row.ma50, row.ma200, row.diff_pct) == (
        job.regime,
        rounded_decimal(job.ma50, 8),
        rounded_decimal(job.ma200, 8),
        rounded_decimal(job.diff_pct, 4),
    )
    assert row.ma50 is not None and not replayed.filter(ma50__isnull=True).exists()
    assert RegimeHistory.objects.filter(
        coin_symbol="KRW-BTC", created_at__gte=datetime(2026, 11, 20, 12, tzinfo=UTC)
    ).exists()

    call_command("replay_history", "--days", "1", "--if-empty")
    assert "trades exist already: no replay" in capsys.readouterr().out


def test_replay_needs_candles():
    with pytest.raises(CommandError, match="no candles stored"):
        call_command("replay_history", "--days", "1")


def test_replay_is_refused_while_live_trading_is_on(settings):
    settings.COINPILOT_LIVE_TRADING = True
    with pytest.raises(CommandError, match="refused while live trading is on"):
        call_command("replay_history")


@time_machine.travel(datetime(2026, 11, 20, 12, 0, 30, tzinfo=UTC), tick=False)
def test_progress_writes_no_carriage_return_into_a_log():
    import io

    call_command("backfill", "--source", "sim", "--days", "11", "--symbols", "KRW-BTC")
    save_strategy_version(symbols=["KRW-BTC"], params=strategy_as_dict(default_strategy())["regimes"])
    out = io.StringIO()  # not a terminal, like dev.py's output piped into a log
    call_command("replay_history", "--days", "1", stdout=out)
    assert "\r" not in out.getvalue()
    assert "replaying 1 symbols:" in out.getvalue().splitlines()[0]
