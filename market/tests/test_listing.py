"""Upbit's market list: validated at the edge, cached in the database, refreshed, used to check
symbols (upbit source) or only their form (sim, csv), and by the backfill command."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from market import listing, listing_jobs
from market.models import Candle, UpbitMarket
from market.upbit import RetryableError, UpbitClient

pytestmark = pytest.mark.django_db

DEAD_URL = "http://127.0.0.1:1"  # nothing listens there: Upbit unreachable


@pytest.fixture
def upbit_list(fake_upbit, settings):
    """The fake Upbit lists three KRW markets (one under a warning, one with a caution flag) and
    two non-KRW ones; CoinPilot's market source is upbit."""
    fake_upbit.add_market("KRW-BTC", "비트코인", "Bitcoin")
    fake_upbit.add_market("KRW-ETH", "이더리움", "Ethereum", warning=True)
    fake_upbit.add_market("KRW-XRP", "리플", "XRP", caution={"PRICE_FLUCTUATIONS": True})
    fake_upbit.add_market("BTC-ETH", "이더리움", "Ethereum")
    fake_upbit.add_market("USDT-BTC", "비트코인", "Bitcoin", market_warning="NONE")
    settings.COINPILOT_MARKET_SOURCE = "upbit"
    settings.UPBIT_BASE_URL = fake_upbit.url
    return fake_upbit


def refresh_from(fake, **options) -> listing.RefreshResult:
    """`listing.refresh` through a quick-retrying client of the fake, closed afterwards."""
    client = UpbitClient(fake.url, backoff=0.01, max_backoff=0.05, throttle_pause=0.05, timeout=2)
    try:
        return listing.refresh(client, **options)
    finally:
        client.close()


# --- the wire format -------------------------------------------------------------------------


def test_the_list_is_stored_with_names_and_flags(upbit_list):
    result = refresh_from(upbit_list)
    assert result.markets == 5 and result.added == sorted(upbit_list.names)
    request = upbit_list.requests[-1]
    assert (request.path, request.params) == ("/v1/market/all", {"is_details": "true"})
    btc, eth, xrp = (UpbitMarket.objects.get(market=m) for m in ("KRW-BTC", "KRW-ETH", "KRW-XRP"))
    assert (btc.korean_name, btc.english_name, btc.warning, btc.listed) == (
        "비트코인",
        "Bitcoin",
        False,
        True,
    )
    assert btc.caution == {
        "PRICE_FLUCTUATIONS": False,
        "TRADING_VOLUME_SOARING": False,
        "DEPOSIT_AMOUNT_SOARING": False,
        "GLOBAL_PRICE_DIFFERENCES": False,
        "CONCENTRATION_OF_SMALL_ACCOUNTS": False,
    }
    assert eth.warning and not xrp.warning and xrp.caution["PRICE_FLUCTUATIONS"] is True
    assert listing.statuses(["KRW-XRP", "KRW-NOPE"]) == {
        "KRW-XRP": listing.MarketStatus("KRW-XRP", cautions=("PRICE_FLUCTUATIONS",))
    }


def test_the_older_market_warning_field_is_optional_and_caution_means_a_warning():
    answer = [
        {"market": "KRW-BTC", "korean_name": "비트코인", "english_name": "Bitcoin"},
        {"market": "KRW-ETC", "korean_name": "이더리움클래식", "english_name": "Ethereum Classic",
         "market_warning": "CAUTION"},
    ]  # fmt: skip
    btc, etc = listing.parse_market_list(answer)
    assert (btc.warning, btc.caution, etc.warning) == (False, {}, True)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("truncated", "not JSON"),
        ("object", "not a list but dict"),
        ("empty", "it has no KRW market"),
        ("missing_market", "item 0: market None is not a market name"),
        ("bad_name", "item 0 (KRW BTC;DROP): market 'KRW BTC;DROP' is not a market name"),
        ("warning_not_bool", "item 0 (KRW-BTC): market_event.warning is 'yes', expected true or false"),
        ("caution_not_bool", "market_event.caution.PRICE_FLUCTUATIONS is 1, expected true or false"),
        ("event_not_object", "market_event is not an object"),
        ("bad_market_warning", "market_warning 'MAYBE' is not one of NONE, CAUTION"),
        ("duplicate", "KRW-BTC appears twice"),
        ("not_object", "item 0: expected an object, got str"),
    ],
)
def test_a_malformed_list_is_a_clear_error_and_stores_nothing(upbit_list, kind, message):
    upbit_list.markets_inject = [kind] * 5  # the truncated body is retried like any network fault
    with pytest.raises((listing.MarketListError, RetryableError)) as exc:
        refresh_from(upbit_list)
    assert message in str(exc.value)
    assert not UpbitMarket.objects.exists()


def test_429_and_5xx_are_retried_through_the_shared_limiter(upbit_list):
    upbit_list.markets_inject = [429, 503]
    assert refresh_from(upbit_list).markets == 5
    statuses = [r.status for r in upbit_list.requests if r.path == "/v1/market/all"]
    assert statuses == [429, 503, 200]


def test_a_persistent_5xx_fails_and_keeps_the_cache(upbit_list):
    refresh_from(upbit_list)
    upbit_list.markets_inject = [502] * 5
    with pytest.raises(RetryableError, match="502"):
        refresh_from(upbit_list)
    assert UpbitMarket.objects.filter(listed=True).count() == 5


# --- delisting ---------------------------------------------------------------------------------


def test_a_market_gone_from_the_list_is_delisted_and_comes_back_when_relisted(upbit_list):
    refresh_from(upbit_list)
    upbit_list.delist("KRW-XRP")
    assert refresh_from(upbit_list).delisted == ["KRW-XRP"]
    xrp = UpbitMarket.objects.get(market="KRW-XRP")
    assert not xrp.listed and xrp.delisted_at is not None
    upbit_list.add_market("KRW-XRP", "리플", "XRP")
    assert refresh_from(upbit_list).relisted == ["KRW-XRP"]
    xrp.refresh_from_db()
    assert xrp.listed and xrp.delisted_at is None


def test_a_list_missing_most_markets_is_not_believed(upbit_list):
    refresh_from(upbit_list)
    for market in ("KRW-ETH", "KRW-XRP", "USDT-BTC"):
        upbit_list.delist(market)
    with pytest.raises(listing.MarketListError, match="lacks 3 of the 5 known markets"):
        refresh_from(upbit_list)
    assert UpbitMarket.objects.filter(listed=True).count() == 5


def test_a_delisted_held_market_is_alerted_once(upbit_list, monkeypatch):
    sent = []
    monkeypatch.setattr(listing, "notify", lambda event, payload: sent.append((event, payload)))
    refresh_from(upbit_list)
    upbit_list.delist("KRW-XRP")
    refresh_from(upbit_list)
    held = ["KRW-BTC", "KRW-XRP"]
    assert listing.alert_delisted(held, listing.statuses(held)) == ["KRW-XRP"]
    assert listing.alert_delisted(held, listing.statuses(held)) == []
    stale_view = {"KRW-XRP": listing.MarketStatus("KRW-XRP", listed=False)}  # read before the claim
    assert listing.alert_delisted(held, stale_view) == []
    [(event, payload)] = sent
    assert event == "system" and payload["title"] == "KRW-XRP delisted from Upbit while held"
    assert [d["symbol"] for d in listing.delisted_held(held)] == ["KRW-XRP"]


# --- checking symbols ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbol", "message"),
    [
        ("KRW-BTC;DROP", "'KRW-BTC;DROP' is not a KRW market name like KRW-BTC"),
        ("KRW BTC", "'KRW BTC' is not a KRW market name"),
        ("BTC", "BTC is not a market name: write it as KRW-BTC"),
        ("USDT-BTC", "USDT-BTC is a USDT market, not a KRW market"),
        ("krw-btc", "'krw-btc' is not a KRW market name"),
        (None, "None is not a KRW market name"),
    ],
)
def test_names_must_look_like_krw_markets(symbol, message):
    assert message in listing.format_error(symbol)
    assert listing.format_error("KRW-BTC") is None and listing.normalise(" krw-btc\n") == "KRW-BTC"


def test_the_simulated_and_csv_sources_check_the_form_only(settings):
    settings.UPBIT_BASE_URL = DEAD_URL
    for source in ("sim", "csv:/tmp/x.csv"):
        assert listing.symbol_errors(["KRW-ANYTHING"], source=source) == []
    assert not UpbitMarket.objects.exists()


def test_upbit_source_checks_the_list(upbit_list):
    errors = listing.symbol_errors(["KRW-BTC", "KRW-ETH", "KRW-NOPE", "BTC-ETH"])
    assert errors == ["BTC-ETH is a BTC market, not a KRW market: CoinPilot trades KRW markets like KRW-BTC"]
    assert listing.symbol_errors(["KRW-BTC", "KRW-NOPE"]) == ["KRW-NOPE is not a KRW market on Upbit"]


def test_an_unknown_name_refreshes_an_old_cache_first(upbit_list):
    refresh_from(upbit_list, now=timezone.now() - timedelta(days=1))
    upbit_list.add_market("KRW-NEW", "신규", "New coin")  # listed today
    assert listing.listing_errors(["KRW-NEW"]) == []
    assert UpbitMarket.objects.get(market="KRW-NEW").listed


def test_a_delisted_name_is_refused_with_since_when(upbit_list):
    refresh_from(upbit_list)
    upbit_list.delist("KRW-XRP")
    refresh_from(upbit_list)
    [message] = listing.listing_errors(["KRW-XRP"])
    assert message.startswith("KRW-XRP is no longer listed on Upbit (gone from its market list since")


def test_no_cache_and_upbit_unreachable_says_so(settings):
    settings.COINPILOT_MARKET_SOURCE = "upbit"
    settings.UPBIT_BASE_URL = DEAD_URL
    [message] = listing.listing_errors(["KRW-BTC"])
    assert message.startswith("Upbit's market list could not be loaded (GET /v1/market/all:")
    assert message.endswith(
        "so the symbols cannot be checked and nothing was saved; try again when Upbit answers"
    )


def test_a_stale_cache_and_upbit_unreachable_judges_by_the_cache(upbit_list, settings):
    refresh_from(upbit_list, now=timezone.now() - timedelta(days=2))
    settings.UPBIT_BASE_URL = DEAD_URL
    assert listing.listing_errors(["KRW-BTC"]) == []
    [message] = listing.listing_errors(["KRW-NOPE"])
    assert message.startswith("KRW-NOPE is not a KRW market on Upbit (Upbit's list of ")
    assert "asking again failed" in message


# --- the daily job ----------------------------------------------------------------------------


def test_the_daily_job_refreshes_with_upbit_and_skips_otherwise(upbit_list, settings):
    assert listing_jobs.refresh_upbit_markets(slot=timezone.now()).startswith("5 markets; added ")
    settings.COINPILOT_MARKET_SOURCE = "sim"
    assert listing_jobs.refresh_upbit_markets(slot=timezone.now()).startswith("skipped")


def test_the_refresh_is_in_the_schedule():
    from core.scheduling import get_schedule

    schedule = get_schedule("refresh_upbit_markets")
    assert (schedule.func, schedule.queue) == ("market.listing_jobs.refresh_upbit_markets", "market")


# --- the backfill command ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("symbols", "message"),
    [
        ("krw-btc;drop", "'KRW-BTC;DROP' is not a KRW market name like KRW-BTC"),
        ("BTC", "BTC is not a market name: write it as KRW-BTC"),
        ("KRW-BTC,USDT-BTC", "USDT-BTC is a USDT market, not a KRW market"),
    ],
)
def test_backfill_refuses_bad_names_and_stores_nothing(symbols, message):
    with pytest.raises(CommandError) as exc:
        call_command("backfill", "--symbols", symbols, "--source", "sim", "--days", "0.01")
    assert str(exc.value).startswith("nothing stored: ") and message in str(exc.value)
    assert not Candle.objects.exists()


def test_backfill_from_upbit_refuses_unknown_markets(upbit_list):
    upbit_list.add_minutes("KRW-BTC", timezone.now() - timedelta(minutes=30), timezone.now())
    with pytest.raises(CommandError, match="nothing stored: KRW-NOPE is not a KRW market on Upbit"):
        call_command("backfill", "--symbols", "KRW-BTC,KRW-NOPE", "--source", "upbit", "--days", "0.01")
    assert not Candle.objects.exists()
    assert not any(r.path.startswith("/v1/candles") for r in upbit_list.requests)


def test_backfill_with_upbit_unreachable_and_no_cache_says_so(settings):
    settings.UPBIT_BASE_URL = DEAD_URL
    with pytest.raises(CommandError, match="nothing stored: Upbit's market list could not be loaded"):
        call_command("backfill", "--symbols", "KRW-BTC", "--source", "upbit", "--days", "0.01")
    assert not Candle.objects.exists()


def test_the_simulated_source_refuses_a_bad_name_itself():
    from market.sources.simulated import SimulatedSource

    with pytest.raises(ValueError, match="'KRW-BTC;DROP' is not a KRW market name"):
        SimulatedSource(seed=1).fetch_candles("KRW-BTC;DROP", until=timezone.now(), count=5)
