from contextlib import closing
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from market.backfill import Backfill, missing_segments, resolve_range
from market.listing import refresh
from market.models import Candle
from market.sources.simulated import SimulatedSource
from market.sources.upbit import UpbitSource
from market.upbit import UpbitClient

from .conftest import REAL_CSV, T0

NOW = T0 + timedelta(days=3, seconds=42)


class Interrupting(SimulatedSource):
    """A simulated source that is interrupted (Ctrl-C) after `pages` fetches."""

    page_size = 500

    def __init__(self, pages: int):
        super().__init__(seed=3)
        self.pages_left = pages
        self.fetched = 0

    def fetch_candles(self, symbol, *, until, count):
        if self.pages_left == 0:
            raise KeyboardInterrupt
        self.pages_left -= 1
        self.fetched += 1
        return super().fetch_candles(symbol, until=until, count=count)


def stored_times(symbol: str) -> list[datetime]:
    return list(
        Candle.objects.filter(symbol=symbol).order_by("timestamp").values_list("timestamp", flat=True)
    )


def test_missing_segments_cover_both_ends_of_the_stored_block():
    a, b = T0, T0 + timedelta(hours=10)
    assert missing_segments(a, b, None, None) == [(a, b)]
    first, last = T0 + timedelta(hours=2), T0 + timedelta(hours=5)
    assert missing_segments(a, b, first, last) == [(last + timedelta(minutes=1), b), (a, first)]
    assert missing_segments(a, b, a, b - timedelta(minutes=1)) == []


def test_resolve_range_is_minute_aligned_and_closed_bars_only():
    source = SimulatedSource()
    since, until = resolve_range(source, now=NOW, days=1)
    assert until == T0 + timedelta(days=3) and since == until - timedelta(days=1)
    since, _ = resolve_range(source, now=NOW, since=T0 + timedelta(seconds=10))
    assert since == T0 + timedelta(minutes=1)
    with pytest.raises(ValueError, match="empty range"):
        resolve_range(source, now=NOW, since=NOW + timedelta(days=1))


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_sim_backfill_command_fills_then_is_idempotent():
    out = StringIO()
    call_command("backfill", "--symbols", "KRW-BTC,KRW-ETH", "--days", "2", "--source", "sim", stdout=out)
    text = out.getvalue()
    assert "KRW-BTC" in text and "100.0%" in text and "bars/s" in text and "ETA" in text
    btc = stored_times("KRW-BTC")
    assert 2 * 1440 - 20 < len(btc) < 2 * 1440
    assert btc[-1] == T0 + timedelta(days=3) - timedelta(minutes=1) or btc[-1] > T0 + timedelta(days=2)
    assert all(ts + timedelta(minutes=1) <= NOW for ts in btc)
    assert "total: stored" in text and "gaps" in text

    again = StringIO()
    call_command("backfill", "--symbols", "KRW-BTC,KRW-ETH", "--days", "2", "--source", "sim", stdout=again)
    assert "total: stored 0," in again.getvalue()
    assert stored_times("KRW-BTC") == btc


@pytest.mark.django_db
def test_backfill_resumes_after_ctrl_c_without_duplicates_or_holes():
    since, until = T0, T0 + timedelta(days=1)
    first = Interrupting(pages=1)
    with pytest.raises(KeyboardInterrupt):
        Backfill(first, since, until).run(["KRW-SOL"])
    partial = stored_times("KRW-SOL")
    assert 400 < len(partial) <= 500 and partial[-1] == until - timedelta(minutes=1)

    second = Interrupting(pages=100)
    (report,) = Backfill(second, since, until).run(["KRW-SOL"])
    complete = stored_times("KRW-SOL")
    expected = [
        row["timestamp"] for row in SimulatedSource(3).fetch_candles("KRW-SOL", until=until, count=2000)
    ]
    assert complete == [ts for ts in expected if ts >= since]
    assert report.present == len(partial) and report.stored == len(complete) - len(partial)
    assert report.duplicates == 0 and second.fetched == 2  # only the ~940 missing older minutes


@pytest.mark.django_db
def test_csv_backfill_command_stores_the_real_file():
    out = StringIO()
    call_command("backfill", "--symbols", "KRW-BTC", "--source", f"csv:{REAL_CSV}", stdout=out)
    assert "total: stored 9,999, already present 0" in out.getvalue()
    assert Candle.objects.filter(symbol="KRW-BTC").count() == 9999
    call_command("backfill", "--symbols", "KRW-BTC", "--source", f"csv:{REAL_CSV}", stdout=out)
    assert "total: stored 0, already present 9,999" in out.getvalue()


@pytest.mark.django_db
def test_since_and_until_options():
    out = StringIO()
    call_command(
        "backfill", "--symbols", "KRW-BTC", "--source", f"csv:{REAL_CSV}",
        "--since", "2018-01-26T00:00:00Z", "--until", "2018-01-26T01:00:00+00:00", stdout=out,
    )  # fmt: skip
    times = stored_times("KRW-BTC")
    assert len(times) == 60 and times[0] == datetime(2018, 1, 26, tzinfo=UTC)


@pytest.mark.django_db
def test_if_configured_skips_another_source(settings):
    settings.COINPILOT_MARKET_SOURCE = "upbit"
    out = StringIO()
    call_command("backfill", "--source", "sim", "--days", "1", "--if-configured", stdout=out)
    assert "skipped" in out.getvalue() and Candle.objects.count() == 0


def test_unknown_source_is_a_command_error():
    with pytest.raises(CommandError, match="unknown market source"):
        call_command("backfill", "--source", "nasdaq", stdout=StringIO())


@pytest.mark.django_db
def test_upbit_backfill_with_injected_429_and_500_stores_every_candle_once(fake_upbit, upbit_client):
    start = T0 - timedelta(days=1)
    fake_upbit.add_minutes("KRW-BTC", start, T0, skip_every=37)
    fake_upbit.fail_rate = 0.1
    (report,) = Backfill(UpbitSource(upbit_client), start, T0).run(["KRW-BTC"])
    expected = [
        datetime.fromisoformat(c["candle_date_time_utc"] + "+00:00") for c in fake_upbit.candles["KRW-BTC"]
    ]
    assert stored_times("KRW-BTC") == expected
    assert report.stored == len(expected) and report.error == ""
    assert report.gaps == 1440 // 37 and report.missing_minutes == 1440 // 37
    assert fake_upbit.stats["injected_429"] + fake_upbit.stats["injected_500"] > 0
    assert fake_upbit.stats["429"] == 0  # no real 429: the limiter keeps under 10/s


@pytest.mark.django_db
@pytest.mark.parametrize(
    "kind", ["missing_field", "not_numeric", "high_below_low", "negative_volume", "duplicate", "future"]
)
def test_malformed_upbit_page_stores_nothing_of_it_and_other_symbols_go_on(fake_upbit, upbit_client, kind):
    start = T0 - timedelta(hours=5)
    for market in ("KRW-BTC", "KRW-ETH"):
        fake_upbit.add_minutes(market, start, T0)
    fake_upbit.malformed = [kind]  # the first candle page served (KRW-BTC's) is corrupted
    with time_machine.travel(T0 + timedelta(seconds=5), tick=False):
        btc, eth = Backfill(UpbitSource(upbit_client), start, T0).run(["KRW-BTC", "KRW-ETH"])
    assert btc.error.startswith("CandleValidationError: KRW-BTC ") and btc.stored == 0
    assert Candle.objects.filter(symbol="KRW-BTC").count() == 0
    assert eth.error == "" and eth.stored == 300


@pytest.mark.django_db
def test_upbit_backfill_command_against_the_fake(fake_upbit, settings):
    settings.UPBIT_BASE_URL = fake_upbit.url
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    fake_upbit.add_minutes("KRW-ETH", now - timedelta(hours=3), now + timedelta(minutes=1))
    out = StringIO()
    call_command("backfill", "--symbols", "krw-eth", "--days", "0.1", "--source", "upbit", stdout=out)
    assert "total: stored 144," in out.getvalue()  # 2.4 h of closed bars; the forming one is not stored
    assert stored_times("KRW-ETH")[-1] in (now - timedelta(minutes=1), now)  # now, if the minute ended


@pytest.mark.django_db
def test_ban_stops_the_backfill_command_with_a_clear_message(fake_upbit, settings, monkeypatch):
    monkeypatch.setattr("market.upbit.notify", lambda *args: None)
    settings.UPBIT_BASE_URL = fake_upbit.url
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    fake_upbit.add_minutes("KRW-BTC", now - timedelta(hours=1), now)
    with closing(UpbitClient(fake_upbit.url)) as client:
        refresh(client)  # the market list is cached: the ban hits the candles
    fake_upbit.ban(60)
    with pytest.raises(CommandError, match="Run again after the ban"):
        call_command(
            "backfill", "--symbols", "KRW-BTC", "--days", "0.01", "--source", "upbit", stdout=StringIO()
        )


@pytest.mark.django_db
def test_failed_symbol_is_reported_and_the_command_fails(fake_upbit, settings):
    settings.UPBIT_BASE_URL = fake_upbit.url
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    fake_upbit.add_minutes("KRW-BTC", now - timedelta(hours=1), now)
    fake_upbit.add_market("KRW-NOPE")  # listed, but Upbit has no candles for it
    out = StringIO()
    with pytest.raises(CommandError, match="1 symbol"):
        call_command(
            "backfill", "--symbols", "KRW-BTC,KRW-NOPE", "--days", "0.01", "--source", "upbit", stdout=out
        )
    assert "KRW-NOPE" in out.getvalue() and "FAILED" in out.getvalue() and "Code not found" in out.getvalue()
