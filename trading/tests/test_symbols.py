"""Symbols are real Upbit markets: checked when a strategy version is saved (admin and code),
bounded in number, flagged markets get no entries, a delisted held market is alerted once, and a
new symbol gets its history and regime in the background."""

from datetime import timedelta
from decimal import Decimal

import django_rq
import pandas as pd
import pytest
from django.urls import reverse
from django.utils import timezone

from market import listing
from market.listing import MarketStatus
from market.models import Candle, RegimeHistory, UpbitMarket
from trading import config, cycle, markets, risk
from trading.executors.paper import PaperExecutor
from trading.models import Position, RiskAudit, StrategyConfig, Trade

from .test_admin_config import change_url, errors_of, strategy_form
from .test_cycle import CSV, StubMarket, buy_signal, now_after

pytestmark = pytest.mark.django_db

DEAD_URL = "http://127.0.0.1:1"
NOW = timezone.now()


@pytest.fixture
def upbit_list(settings):
    """The upbit market source, with a fake Upbit listing KRW-BTC, KRW-ETH and BTC-XRP."""
    from tests.fakes.upbit import FakeUpbit

    with FakeUpbit(seed=2) as fake:
        for market in ("KRW-BTC", "KRW-ETH", "BTC-XRP"):
            fake.add_market(market)
        settings.COINPILOT_MARKET_SOURCE = "upbit"
        settings.UPBIT_BASE_URL = fake.url
        yield fake


def params() -> dict:
    return config.strategy_as_dict(config.default_strategy())["regimes"]


def refused(symbols) -> list[str]:
    before = StrategyConfig.objects.count()
    with pytest.raises(config.ConfigError) as exc:
        config.save_strategy_version(symbols=symbols, params=params())
    assert StrategyConfig.objects.count() == before and not Candle.objects.exists()
    return exc.value.messages


# --- saving a version -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbols", "message"),
    [
        (["KRW-BTC", "KRW-NOPE"], "symbols: KRW-NOPE is not a KRW market on Upbit"),
        (["BTC-XRP"], "symbols: 'BTC-XRP' is not an Upbit KRW market name like KRW-BTC (upper case)"),
        (["krw-btc;drop"], "symbols: 'KRW-BTC;DROP' is not an Upbit KRW market name"),
        (["KRW BTC"], "symbols: 'KRW BTC' is not an Upbit KRW market name"),
    ],
)
def test_a_symbol_that_is_not_a_listed_krw_market_is_refused(upbit_list, symbols, message):
    assert any(m.startswith(message) for m in refused(symbols))


def test_too_many_symbols_are_refused(settings):
    settings.MAX_ACTIVE_SYMBOLS = 3
    [message] = refused([f"KRW-C{i}" for i in range(4)])
    assert message == "symbols: 4 markets listed, at most 3 may be active at once (MAX_ACTIVE_SYMBOLS)"


def test_a_malformed_market_list_refuses_the_save(upbit_list):
    upbit_list.markets_inject = ["warning_not_bool"]
    [message] = refused(["KRW-ADA"])  # not active yet: checked
    assert message.startswith(
        "symbols: Upbit's market list could not be loaded (Upbit's market list is malformed"
    )
    assert not UpbitMarket.objects.exists()


def test_upbit_unreachable_with_no_cached_list_refuses_the_save_plainly(settings):
    settings.COINPILOT_MARKET_SOURCE = "upbit"
    settings.UPBIT_BASE_URL = DEAD_URL
    [message] = refused(["KRW-BTC", "KRW-ADA"])
    assert message.startswith("symbols: Upbit's market list could not be loaded (GET /v1/market/all")
    assert "the symbols cannot be checked and nothing was saved" in message


def test_listed_symbols_are_saved_normalised(upbit_list):
    row = config.save_strategy_version(symbols=[" krw-btc", "KRW-ETH "], params=params())
    assert row.symbols == ["KRW-BTC", "KRW-ETH"] and row.is_active


def test_the_simulated_market_checks_the_form_only(settings):
    settings.UPBIT_BASE_URL = DEAD_URL  # never asked
    row = config.save_strategy_version(symbols=["KRW-MADEUP"], params=params())
    assert row.symbols == ["KRW-MADEUP"] and not UpbitMarket.objects.exists()


def test_restoring_a_version_with_a_delisted_symbol_is_refused(upbit_list):
    v2 = config.save_strategy_version(symbols=["KRW-BTC", "KRW-ETH"], params=params())
    config.save_strategy_version(symbols=["KRW-BTC"], params=params())
    listing.refresh()
    UpbitMarket.objects.filter(market="KRW-ETH").update(listed=False, delisted_at=timezone.now())
    with pytest.raises(config.ConfigError, match="symbols: KRW-ETH is no longer listed on Upbit"):
        config.restore_version(v2)
    assert StrategyConfig.objects.get(is_active=True).symbols == ["KRW-BTC"]


def test_an_active_symbol_delisted_later_does_not_block_other_changes(upbit_list):
    config.save_strategy_version(symbols=["KRW-BTC", "KRW-ETH"], params=params())
    listing.refresh()
    UpbitMarket.objects.filter(market="KRW-ETH").update(listed=False, delisted_at=timezone.now())
    changed = params()
    changed["BULL"]["take_profit_pct"] = 4.5
    row = config.save_strategy_version(symbols=["KRW-BTC", "KRW-ETH"], params=changed, note="tp")
    assert row.symbols == ["KRW-BTC", "KRW-ETH"]  # its position's exits keep running


@pytest.mark.parametrize(
    ("symbols", "message"),
    [
        ("KRW-BTC, KRW-NOPE", "KRW-NOPE is not a KRW market on Upbit"),
        ("KRW-BTC;DROP", "'KRW-BTC;DROP' is not an Upbit KRW market name like KRW-BTC (upper case)"),
    ],
)
def test_the_admin_shows_the_refusal_on_the_symbols_field(admin_client, upbit_list, symbols, message):
    v1 = StrategyConfig.objects.get(version=1)
    response = admin_client.post(change_url(v1), strategy_form(admin_client, v1, symbols=symbols))
    assert response.status_code == 200 and errors_of(response)["symbols"] == [message]
    assert StrategyConfig.objects.count() == 1


def test_the_admin_refuses_ten_thousand_symbols(admin_client):
    v1 = StrategyConfig.objects.get(version=1)
    many = ", ".join(f"KRW-C{i}" for i in range(10_000))
    response = admin_client.post(change_url(v1), strategy_form(admin_client, v1, symbols=many))
    assert errors_of(response)["symbols"] == [
        "10,000 markets listed, at most 50 may be active at once (MAX_ACTIVE_SYMBOLS)"
    ]
    assert StrategyConfig.objects.count() == 1


# --- the risk rule ----------------------------------------------------------------------------


def entry(status: MarketStatus | None) -> risk.Block | None:
    ctx = risk.EntryContext(
        symbol="KRW-XRP",
        now=NOW,
        cash=Decimal(10_000_000),
        exposure=Decimal(0),
        open_positions=0,
        day=risk.DayState(starting_equity=Decimal(10_000_000)),
        limits=config.default_risk(),
        market_status=status,
    )
    return risk.check_entry(ctx)[1]


def test_flagged_markets_get_no_entries_and_say_which_flag():
    assert entry(None) is None
    assert entry(MarketStatus("KRW-XRP")) is None
    warned = entry(MarketStatus("KRW-XRP", warning=True))
    assert warned == risk.Block("MARKET_WARNING", "KRW-XRP is under an Upbit investment warning (유의 종목)")
    caution = entry(MarketStatus("KRW-XRP", cautions=("PRICE_FLUCTUATIONS", "TRADING_VOLUME_SOARING")))
    assert caution == risk.Block(
        "MARKET_CAUTION",
        "KRW-XRP has Upbit caution flags: PRICE_FLUCTUATIONS (sharp price swings), "
        "TRADING_VOLUME_SOARING (trading volume soaring)",
    )
    gone = entry(MarketStatus("KRW-XRP", listed=False))
    assert gone.violation_type == "MARKET_DELISTED"


@pytest.fixture
def btc_frame():
    return pd.read_csv(CSV, parse_dates=["timestamp"]).set_index("timestamp").tail(300)


def run_with(frame, statuses: dict):
    now = now_after(frame)
    market = StubMarket({"KRW-BTC": frame}).market()
    market.market_status = lambda symbols: {s: statuses[s] for s in symbols if s in statuses}
    return cycle.run_cycle(
        now=now, slot=now.replace(second=0), market=market, executor=PaperExecutor(slippage_bps=Decimal(5))
    )


def test_the_cycle_refuses_an_entry_in_a_flagged_market_with_an_audit_row(btc_frame, monkeypatch):
    config.save_strategy_version(symbols=["KRW-BTC"], params=params())
    monkeypatch.setattr(cycle, "entry_signal", buy_signal)
    [result] = run_with(btc_frame, {"KRW-BTC": MarketStatus("KRW-BTC", cautions=("PRICE_FLUCTUATIONS",))})
    assert (result.action, result.reason) == ("BLOCKED", "MARKET_CAUTION")
    audit = RiskAudit.objects.get()
    assert audit.violation_type == "MARKET_CAUTION" and "PRICE_FLUCTUATIONS" in audit.description
    assert not Trade.objects.exists()


def test_the_cycle_buys_in_an_unflagged_market(btc_frame, monkeypatch):
    config.save_strategy_version(symbols=["KRW-BTC"], params=params())
    monkeypatch.setattr(cycle, "entry_signal", buy_signal)
    [result] = run_with(btc_frame, {"KRW-BTC": MarketStatus("KRW-BTC")})
    assert result.action == "BUY" and not RiskAudit.objects.exists()


def test_a_delisted_held_market_is_alerted_once_by_the_cycle(btc_frame, monkeypatch):
    config.save_strategy_version(symbols=["KRW-BTC"], params=params())
    sent = []
    monkeypatch.setattr(listing, "notify", lambda event, payload: sent.append((event, payload["title"])))
    now = timezone.now()
    UpbitMarket.objects.create(market="KRW-BTC", listed=False, first_seen=now, last_seen=now, delisted_at=now)
    price = Decimal(str(btc_frame["close"].iloc[-1]))
    Position.objects.create(
        symbol="KRW-BTC", quantity=Decimal("0.01"), avg_price=price, regime="BULL", high_water_mark=price,
        opened_at=now_after(btc_frame) - timedelta(minutes=5),
    )  # fmt: skip
    for minutes in (0, 1):
        run_with(btc_frame.iloc[: len(btc_frame) - 1 + minutes], listing.statuses(["KRW-BTC"]))
    assert sent == [("system", "KRW-BTC delisted from Upbit while held")]


def test_the_live_market_reads_the_flags_only_with_the_upbit_source(settings, django_assert_num_queries):
    now = timezone.now()
    UpbitMarket.objects.create(market="KRW-BTC", warning=True, first_seen=now, last_seen=now)
    UpbitMarket.objects.create(market="KRW-ETH", first_seen=now, last_seen=now)
    assert markets.upbit_market_status(["KRW-BTC", "KRW-ETH"]) == {}  # sim: Upbit's flags do not apply
    settings.COINPILOT_MARKET_SOURCE = "upbit"
    with django_assert_num_queries(1):
        found = markets.upbit_market_status(["KRW-BTC", "KRW-ETH", "KRW-NOPE"])
    assert found == {"KRW-BTC": MarketStatus("KRW-BTC", warning=True), "KRW-ETH": MarketStatus("KRW-ETH")}


@pytest.mark.books_written_by_hand  # deletes/creates a position without booking it
def test_the_overview_shows_a_delisted_held_market(admin_client):
    now = timezone.now()
    UpbitMarket.objects.create(market="KRW-XRP", listed=False, first_seen=now, last_seen=now, delisted_at=now)
    Position.objects.create(
        symbol="KRW-XRP", quantity=1, avg_price=900, regime="BULL", high_water_mark=900, opened_at=now
    )
    page = admin_client.get(reverse("overview")).content.decode()
    assert 'id="delisted-banner-KRW-XRP"' in page and "KRW-XRP is no longer listed on Upbit" in page


# --- the history of a new symbol ------------------------------------------------------------


def test_a_new_symbol_is_backfilled_and_gets_its_regime_in_the_background(
    run_jobs, django_capture_on_commit_callbacks
):
    config.save_strategy_version(symbols=["KRW-BTC"], params=params())
    with django_capture_on_commit_callbacks(execute=True):
        config.save_strategy_version(symbols=["KRW-BTC", "KRW-NEWA"], params=params())
    [job] = django_rq.get_queue("market").get_jobs()
    assert job.args == (["KRW-NEWA"],)  # only the added symbol
    run_jobs("market")
    hours = Candle.objects.filter(symbol="KRW-NEWA").count() / 60
    assert hours >= 200
    reading = RegimeHistory.objects.get(coin_symbol="KRW-NEWA")
    assert reading.regime in ("BULL", "SIDEWAYS", "BEAR")
    assert not Candle.objects.filter(symbol="KRW-BTC").exists()  # symbols already active: left alone
