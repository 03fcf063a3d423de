"""Stops keep working when candles stop: exits on the ticker price through the fake Upbit server,
the outage alerts (once per outage, once on recovery), unprotected positions, the age gauge and
the Overview banner.

Prices (SIDEWAYS defaults: stop loss 2.5 %, trailing 1.5 % after +1 %, time limit 24 h, take
profit 3 %; paper sells fill 5 bps below the reference, rounded down to the 1,000 KRW tick):
- entry 100,000,000 -> stop at 97,500,000; ticker 97,400,000 sells at 97,351,000;
- high-water mark 104,000,000 -> trailing stop at 102,440,000; ticker 102,400,000 sells at 102,348,000;
- held 25 h, ticker 100,200,000 -> time limit, sells at 100,149,000.
"""

import re
import subprocess
from datetime import timedelta
from decimal import Decimal

import django_rq
import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from conftest import manage_command
from market.candles import CandleRow, store_candles
from tests.fakes.upbit import FakeUpbit
from trading import booking, jobs
from trading.config import default_strategy, save_strategy_version, strategy_as_dict
from trading.executors.paper import PaperExecutor
from trading.fills import buy_fill
from trading.models import Position, SymbolState, Trade

pytestmark = pytest.mark.django_db
D = Decimal
ENTRY = D(100_000_000)


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def fake(settings, monkeypatch):
    """The fake Upbit server, with CoinPilot's market source pointed at it. Paper fills use the
    fixed-bps model (the prices above); how a fill walks an order book is tested elsewhere."""
    monkeypatch.setattr(jobs, "get_executor", lambda: PaperExecutor(slippage_bps=D(5)))
    with FakeUpbit(seed=3) as server:
        for market in ("KRW-BTC", "KRW-ETH", "KRW-XRP"):
            server.add_market(market)  # a strategy that adds a symbol checks Upbit's market list
        settings.COINPILOT_MARKET_SOURCE = "upbit"
        settings.UPBIT_BASE_URL = server.url
        settings.UPBIT_TIMEOUT_SECONDS = 0.5
        settings.BOT_CYCLE_BAR_WAIT_SECONDS = 0  # the bars are missing on purpose: do not wait
        yield server


@pytest.fixture
def btc(fake, now, redis_conn):
    """KRW-BTC traded in SIDEWAYS; its candles stopped 10 minutes ago; the ticker is at the entry."""
    trade_symbols("KRW-BTC")
    redis_conn.set("market:regime:KRW-BTC", "SIDEWAYS")
    bars(fake, "KRW-BTC", end=minute(now) - timedelta(minutes=10))
    fake.prices["KRW-BTC"] = float(ENTRY)


def trade_symbols(*symbols: str) -> None:
    regimes = strategy_as_dict(default_strategy())["regimes"]
    save_strategy_version(symbols=list(symbols), params=regimes, note="tests")


def minute(moment):
    return moment.replace(second=0, microsecond=0)


def bars(fake: FakeUpbit, symbol: str, *, end, count: int = 30, price: Decimal = ENTRY) -> None:
    """`count` flat 1m bars at `price` ending at `end`, stored and known to the fake server."""
    rows = [
        CandleRow(symbol, "1m", end - timedelta(minutes=count - i), price, price, price, price, D(1), None)
        for i in range(count)
    ]
    store_candles(rows)
    fake.add_candles(symbol, [row._asdict() for row in rows])


def hold(symbol: str = "KRW-BTC", *, opened, hwm: Decimal | None = None) -> Position:
    booking.book_buy(
        symbol=symbol,
        fill=buy_fill(krw=D(500_000), reference=ENTRY),
        client_order_id=f"{symbol}-buy",
        regime="SIDEWAYS",
        at=opened,
    )
    if hwm is not None:
        Position.objects.filter(symbol=symbol).update(high_water_mark=hwm)
    return Position.objects.get(symbol=symbol)


def cycle(now, capture, minutes: int = 0):
    """One bot cycle job (cycle + outage watch), its alerts sent on commit; returns the alerts."""
    queue = django_rq.get_queue("notifications")
    before = len(queue.jobs)
    with capture(execute=True):
        jobs.bot_cycle(slot=minute(now) + timedelta(minutes=minutes))
    return [job.args for job in queue.jobs[before:]]


def titles(alerts) -> list[str]:
    return [payload["title"] for event, payload in alerts if event == "system"]


@pytest.mark.parametrize(
    ("ticker", "hours_held", "hwm", "reason", "price"),
    [
        (97_400_000, 1, None, "STOP_LOSS", D(97_351_000)),
        (102_400_000, 1, D(104_000_000), "TRAILING_STOP", D(102_348_000)),
        (100_200_000, 25, None, "TIME_LIMIT", D(100_149_000)),
    ],
)
def test_a_stale_position_is_sold_on_the_ticker(
    fake, btc, now, django_capture_on_commit_callbacks, ticker, hours_held, hwm, reason, price
):
    hold(opened=now - timedelta(hours=hours_held), hwm=hwm)
    fake.prices["KRW-BTC"] = ticker
    cycle(now, django_capture_on_commit_callbacks)
    sell = Trade.objects.get(side="SELL")
    assert (sell.exit_reason, sell.price, sell.status) == (reason, price, "FILLED")
    assert sell.client_order_id == f"KRW-BTC-{minute(now):%Y%m%dT%H%M}-SELL"
    assert sell.signal_info["decided_on"] == "ticker" and sell.signal_info["ticker_price"] == str(ticker)
    assert "newest bar closed" in sell.signal_info["newest_bar"]
    assert not Position.objects.exists()
    [request] = [r for r in fake.requests if r.path == "/v1/ticker"]
    assert request.params == {"markets": "KRW-BTC"}


def test_a_held_symbol_without_any_stored_bar_is_still_protected(
    fake, btc, now, django_capture_on_commit_callbacks
):
    trade_symbols("KRW-ETH")
    hold("KRW-ETH", opened=now - timedelta(hours=1))
    fake.add_candles("KRW-ETH", [{"timestamp": minute(now) - timedelta(days=9), "open": 1, "high": 1,
                                  "low": 1, "close": 1, "volume": 1}])  # fmt: skip
    fake.prices["KRW-ETH"] = 97_400_000
    cycle(now, django_capture_on_commit_callbacks)
    sell = Trade.objects.get(side="SELL")
    assert (sell.symbol, sell.exit_reason) == ("KRW-ETH", "STOP_LOSS")
    assert sell.signal_info["newest_bar"] == "no bar stored in the last days"


def test_without_a_ticker_the_cycle_holds_and_reports_unprotected(btc, now):
    """A market without a ticker (the replay's) sells nothing on a stale symbol."""
    from trading import cycle as bot
    from trading.markets import live_market

    hold(opened=now - timedelta(hours=1))
    market = live_market()
    market.ticker = bot.Market.ticker  # the default: no price
    [result] = bot.run_cycle(
        now=now, slot=minute(now), market=market, executor=PaperExecutor(slippage_bps=D(5))
    )
    assert (result.action, result.reason) == ("SKIPPED", "UNPROTECTED")
    assert "no ticker price" in result.detail and Position.objects.exists()


def test_above_the_stop_it_holds_and_a_new_high_raises_the_hwm_but_take_profit_waits(
    fake, btc, now, django_capture_on_commit_callbacks, redis_conn
):
    hold(opened=now - timedelta(hours=1))
    fake.prices["KRW-BTC"] = 97_600_000  # above the 97,500,000 stop
    cycle(now, django_capture_on_commit_callbacks)
    status = redis_conn.get("bot:status:KRW-BTC").decode()
    assert '"action": "HOLD"' in status and "on the ticker price 97,600,000" in status
    fake.prices["KRW-BTC"] = 110_000_000  # past take profit (103,000,000): not a protective exit
    cycle(now, django_capture_on_commit_callbacks, minutes=1)
    assert not Trade.objects.filter(side="SELL").exists()
    assert Position.objects.get().high_water_mark == D(110_000_000)


def test_one_ticker_request_for_every_stale_held_symbol_and_none_when_fresh(
    fake, now, django_capture_on_commit_callbacks, redis_conn
):
    trade_symbols("KRW-BTC", "KRW-ETH", "KRW-XRP")
    for symbol in ("KRW-BTC", "KRW-ETH"):
        bars(fake, symbol, end=minute(now) - timedelta(minutes=10))
        hold(symbol, opened=now - timedelta(hours=1))
    bars(fake, "KRW-XRP", end=minute(now) - timedelta(minutes=10))  # stale, not held: no ticker
    cycle(now, django_capture_on_commit_callbacks)
    [request] = [r for r in fake.requests if r.path == "/v1/ticker"]
    assert request.params == {"markets": "KRW-BTC,KRW-ETH"}

    fake.requests.clear()
    for symbol in ("KRW-BTC", "KRW-ETH", "KRW-XRP"):
        bars(fake, symbol, end=minute(now), count=5)  # fresh again
    cycle(now, django_capture_on_commit_callbacks, minutes=1)
    assert not [r for r in fake.requests if r.path == "/v1/ticker"]


def test_stale_alert_once_per_outage_and_once_on_recovery(fake, btc, now, django_capture_on_commit_callbacks):
    hold(opened=now - timedelta(hours=1))
    first = cycle(now, django_capture_on_commit_callbacks)
    assert titles(first) == ["Market data stopped: KRW-BTC"]
    assert "run on the ticker price" in first[0][1]["detail"]
    assert SymbolState.objects.get(symbol="KRW-BTC").stale_since is not None
    assert cycle(now, django_capture_on_commit_callbacks, minutes=1) == []

    bars(fake, "KRW-BTC", end=minute(now), count=5)
    back = cycle(now, django_capture_on_commit_callbacks, minutes=2)
    assert titles(back) == ["Market data back: KRW-BTC"]
    assert SymbolState.objects.get(symbol="KRW-BTC").stale_since is None
    assert cycle(now, django_capture_on_commit_callbacks, minutes=3) == []


def test_a_stale_symbol_without_a_position_is_skipped_and_alerted(
    fake, btc, now, django_capture_on_commit_callbacks
):
    alerts = cycle(now, django_capture_on_commit_callbacks)
    assert titles(alerts) == ["Market data stopped: KRW-BTC"]
    assert "position" not in alerts[0][1]["detail"]
    assert not fake.requests  # nothing held: no ticker asked


def test_unprotected_when_the_ticker_fails_too_and_protected_again(
    fake, btc, now, django_capture_on_commit_callbacks
):
    hold(opened=now - timedelta(hours=1))
    fake.fail_rate, fake.fail_statuses = 1.0, (502,)
    first = cycle(now, django_capture_on_commit_callbacks)
    assert titles(first) == ["Market data stopped: KRW-BTC", "Positions unprotected: KRW-BTC"]
    assert "502" in first[1][1]["detail"] and "cannot fire" in first[1][1]["detail"]
    state = SymbolState.objects.get(symbol="KRW-BTC")
    assert state.stale_since and state.unprotected_since
    assert cycle(now, django_capture_on_commit_callbacks, minutes=1) == []  # once per outage

    fake.fail_rate = 0.0
    back = cycle(now, django_capture_on_commit_callbacks, minutes=2)
    assert titles(back) == ["Positions protected again: KRW-BTC"]
    assert SymbolState.objects.get(symbol="KRW-BTC").unprotected_since is None
    assert Position.objects.exists()  # the ticker is at the entry price: nothing to sell


def test_unprotected_when_upbit_is_unreachable(btc, fake, now, django_capture_on_commit_callbacks):
    hold(opened=now - timedelta(hours=1))
    fake.stop()  # a real server that is gone: connection refused
    alerts = cycle(now, django_capture_on_commit_callbacks)
    assert "Positions unprotected: KRW-BTC" in titles(alerts)
    fake.start()  # so the fixture can stop it


def test_unprotected_only_after_the_configured_time_without_any_price(
    fake, btc, now, django_capture_on_commit_callbacks, settings, redis_conn
):
    settings.UNPROTECTED_ALERT_SECONDS = 600  # the candles stopped 10-11 minutes ago
    hold(opened=now - timedelta(hours=1))
    cycle(now, django_capture_on_commit_callbacks)  # the ticker answers: protected
    fake.fail_rate, fake.fail_statuses = 1.0, (500,)
    assert "Positions unprotected: KRW-BTC" not in titles(cycle(now, django_capture_on_commit_callbacks, 1))
    # the ticker's last price was just now: not yet; once it is older than the limit too, alerted
    redis_conn.set("stale:ticker_at:KRW-BTC", int((now - timedelta(seconds=601)).timestamp()))
    assert titles(cycle(now, django_capture_on_commit_callbacks, 2)) == ["Positions unprotected: KRW-BTC"]


def test_candle_age_gauge_on_metrics(client, fake, btc, now):
    newest_close = minute(now) - timedelta(minutes=10)
    before = (timezone.now() - newest_close).total_seconds()
    text = client.get("/metrics").content.decode()
    after = (timezone.now() - newest_close).total_seconds()
    found = re.search(r'coinpilot_candle_age_seconds\{symbol="KRW-BTC"\} ([0-9.e+]+)', text)
    assert found, text[:2000]
    assert before <= float(found.group(1)) <= after


def test_overview_banner_lists_stale_symbols_and_unprotected_positions(client, now):
    client.force_login(get_user_model().objects.create_user("op", password="pw-123456789"))
    hold(opened=now - timedelta(hours=1))
    since = now - timedelta(minutes=7)
    SymbolState.objects.create(symbol="KRW-BTC", stale_since=since)
    SymbolState.objects.create(symbol="KRW-ETH", stale_since=since)
    page = client.get("/").content.decode()
    assert "Market data stopped" in page
    assert (
        f"KRW-BTC since {timezone.localtime(since):%Y-%m-%d %H:%M} KST (held: exits run on the ticker price)"
        in page
    )
    assert "KRW-ETH since" in page and "UNPROTECTED" not in page

    SymbolState.objects.filter(symbol="KRW-BTC").update(unprotected_since=now)
    page = client.get("/").content.decode()
    assert 'id="unprotected-banner-KRW-BTC"' in page and "KRW-BTC position UNPROTECTED" in page

    SymbolState.objects.update(stale_since=None, unprotected_since=None)
    assert "Market data stopped" not in client.get("/").content.decode()


def test_unprotected_alert_seconds_is_validated(tmp_path):
    env = {
        "DJANGO_SETTINGS_MODULE": "coinpilot_site.settings",
        "DEBUG": "1",
        "COINPILOT_VAR_DIR": str(tmp_path),
        "COINPILOT_READ_DOTENV": "0",
        "UNPROTECTED_ALERT_SECONDS": "10",
    }
    result = subprocess.run(manage_command("check"), env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "UNPROTECTED_ALERT_SECONDS must be whole seconds, 60 to 86400; got '10'" in result.stderr


def test_on_the_ticker_an_atr_stop_and_break_even_after_a_scale_out_still_protect(
    fake, btc, now, django_capture_on_commit_callbacks
):
    """The position's entry ATR (in its entry signal) sets the stop; after a scale-out level sold
    the stop is at the entry price; the scale-out levels themselves wait for candles."""
    regimes = strategy_as_dict(default_strategy())["regimes"]
    regimes["SIDEWAYS"] |= {"atr_stop_k": 2, "partial_tp_1_pct": 0.5, "breakeven_after_partial": True}
    save_strategy_version(symbols=["KRW-BTC"], params=regimes, note="options")
    booking.book_buy(
        symbol="KRW-BTC", fill=buy_fill(krw=D(500_000), reference=ENTRY), client_order_id="KRW-BTC-buy",
        regime="SIDEWAYS", at=now - timedelta(hours=1), signal_info={"atr14": 300_000.0},
    )  # fmt: skip
    fake.prices["KRW-BTC"] = 99_500_000  # above the ATR stop: 100,000,000 - 2 x 300,000
    cycle(now, django_capture_on_commit_callbacks)
    assert not Trade.objects.filter(side="SELL").exists()
    fake.prices["KRW-BTC"] = 101_000_000  # +1 %: a scale-out level, but not on a ticker price
    cycle(now, django_capture_on_commit_callbacks, minutes=1)
    assert not Trade.objects.filter(side="SELL").exists()
    Position.objects.update(partials_taken=1)  # as if level 1 sold on a candle before they stopped
    fake.prices["KRW-BTC"] = 99_900_000  # below the entry: break-even fires
    cycle(now, django_capture_on_commit_callbacks, minutes=2)
    sell = Trade.objects.get(side="SELL")
    assert sell.exit_reason == "STOP_LOSS" and sell.signal_info["decided_on"] == "ticker"


def test_on_the_ticker_the_atr_stop_fires_where_the_percentage_would_not(
    fake, btc, now, django_capture_on_commit_callbacks
):
    regimes = strategy_as_dict(default_strategy())["regimes"]
    regimes["SIDEWAYS"] |= {"atr_stop_k": 2}
    save_strategy_version(symbols=["KRW-BTC"], params=regimes, note="options")
    booking.book_buy(
        symbol="KRW-BTC", fill=buy_fill(krw=D(500_000), reference=ENTRY), client_order_id="KRW-BTC-buy",
        regime="SIDEWAYS", at=now - timedelta(hours=1), signal_info={"atr14": 300_000.0},
    )  # fmt: skip
    fake.prices["KRW-BTC"] = 99_300_000  # below 99,400,000; SIDEWAYS' 2.5 % stop is at 97,500,000
    cycle(now, django_capture_on_commit_callbacks)
    assert Trade.objects.get(side="SELL").exit_reason == "STOP_LOSS"
