import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics import post_exit
from analytics.post_exit import TOLERANCE, change_pct, nearest_bar, pending_windows, track_post_exit_prices
from trading.booking import decimal_str
from trading.models import Trade

from .helpers import make_bars, minutes, sell

EXIT = datetime(2026, 11, 20, 3, 0, 20, tzinfo=UTC)  # a cycle fills a few seconds into the minute
B = EXIT.replace(second=0)  # bars open on whole minutes
H = timedelta(hours=1)


def counter(metric, window: str) -> float:
    return metric.labels(window)._value.get()


# --- pure parts -------------------------------------------------------------------------------


def test_change_pct_is_tracked_minus_exit_over_exit_times_100():
    assert change_pct(Decimal("95000000"), Decimal("94506000")) == -0.52
    assert change_pct(Decimal("100"), Decimal("103")) == 3.0
    assert change_pct(Decimal("0.1234"), Decimal("0.1234")) == 0.0


def test_nearest_bar_within_five_minutes_ties_to_the_earlier_bar():
    target = datetime(2026, 11, 20, 4, 0, 20, tzinfo=UTC)
    bars = [(target - minutes(4) - timedelta(seconds=20), Decimal(1)), (target + minutes(2), Decimal(2))]
    assert nearest_bar(target, bars) == bars[1]
    tie = [(target + minutes(2), Decimal(2)), (target - minutes(2), Decimal(3))]
    assert nearest_bar(target, tie) == tie[1]
    edge = [(target + TOLERANCE, Decimal(4))]
    assert nearest_bar(target, edge) == edge[0]
    assert nearest_bar(target, [(target + TOLERANCE + timedelta(seconds=1), Decimal(5))]) is None
    assert nearest_bar(target, []) is None


def test_a_window_is_due_once_its_tolerance_has_closed_and_until_it_is_24h_stale():
    def labels(now, stored=None):
        return [w.label for w in pending_windows(1, "KRW-BTC", Decimal(100), EXIT, stored or {}, now)]

    assert labels(EXIT + H + minutes(5)) == []  # the bar at +5 min is still forming
    assert labels(EXIT + H + minutes(6)) == ["1h"]
    assert labels(EXIT + 4 * H + minutes(6), {"1h": {}}) == ["4h"]
    assert labels(EXIT + 25 * H) == ["1h", "4h", "12h", "24h"]  # 1h exactly 24 h stale: still tried
    assert labels(EXIT + 25 * H + timedelta(seconds=1)) == ["4h", "12h", "24h"]
    assert labels(EXIT + 48 * H + timedelta(seconds=1)) == []


# --- one run against the database ---------------------------------------------------------------


@pytest.mark.django_db
def test_run_tracks_due_windows_counts_a_miss_and_never_overwrites_a_stored_window():
    stored_12h = {"price": "1", "change_pct": -99.0, "tracked_at": "2026-11-20T15:00:00+00:00"}
    trade = sell(EXIT, price="1000", post={"12h": stored_12h})
    bars = {
        B + H - minutes(3): "990",  # 1h: 3m20s before the target (04:00:20)
        B + H + minutes(2): "1010",  # 1h: 1m40s after: the nearest
        B + 4 * H + minutes(6): "1200",  # 4h: 5m40s after: outside +-5 min -> missed
        B + 12 * H: "1500",  # 12h: already stored, must stay as it is
        B + 24 * H - minutes(1): "1050",  # 24h: 1m20s before
    }
    make_bars("KRW-BTC", bars)
    make_bars("KRW-ETH", {B + H: "5"})  # another symbol's bar at the right time is not used
    missed_before, tracked_before = counter(post_exit.MISSED, "4h"), counter(post_exit.TRACKED, "1h")

    result = track_post_exit_prices(EXIT + 24 * H + minutes(10))

    prices = Trade.objects.get(pk=trade.pk).post_exit_prices
    assert prices["1h"] == {"price": "1010", "change_pct": 1.0, "tracked_at": "2026-11-20T04:02:00+00:00"}
    assert prices["24h"] == {"price": "1050", "change_pct": 5.0, "tracked_at": "2026-11-21T02:59:00+00:00"}
    assert prices["12h"] == stored_12h
    assert "4h" not in prices
    assert (result.tracked, result.missed, result.sells) == (2, 1, 1)
    assert counter(post_exit.MISSED, "4h") == missed_before + 1
    assert counter(post_exit.TRACKED, "1h") == tracked_before + 1


@pytest.mark.django_db
def test_a_missed_window_is_retried_and_filled_later_without_touching_the_others():
    trade = sell(EXIT, price="1000")
    make_bars("KRW-BTC", {B + H: "1100"})
    track_post_exit_prices(EXIT + 4 * H + minutes(10))  # 4h has no bar yet
    first = Trade.objects.get(pk=trade.pk).post_exit_prices
    assert set(first) == {"1h"}

    make_bars("KRW-BTC", {B + 4 * H + minutes(4): "900", B + H + minutes(1): "1"})
    result = track_post_exit_prices(EXIT + 4 * H + minutes(20))

    prices = Trade.objects.get(pk=trade.pk).post_exit_prices
    assert prices["1h"] == first["1h"]  # a later bar nearer to 1h changes nothing
    assert prices["4h"]["price"] == "900" and prices["4h"]["change_pct"] == -10.0
    assert result.tracked == 1


@pytest.mark.django_db
def test_a_window_24h_stale_is_no_longer_tried():
    trade = sell(EXIT, price="1000")
    missed_before = counter(post_exit.MISSED, "1h")
    result = track_post_exit_prices(EXIT + 49 * H)
    assert (result.tracked, result.missed, result.sells) == (0, 0, 0)
    assert counter(post_exit.MISSED, "1h") == missed_before
    assert Trade.objects.get(pk=trade.pk).post_exit_prices == {}


@pytest.mark.django_db
def test_created_at_stands_in_for_a_missing_executed_at_and_only_filled_sells_count():
    trade = sell(None, price="200", created_at=EXIT)
    sell(EXIT, price="200", status="FAILED")
    make_bars("KRW-BTC", {B + H: "210"})
    result = track_post_exit_prices(EXIT + H + minutes(6))
    assert Trade.objects.get(pk=trade.pk).post_exit_prices["1h"]["change_pct"] == 5.0
    assert result.sells == 1


@pytest.mark.django_db
def test_one_query_reads_the_bars_of_every_pending_window():
    for n in range(6):
        sell(EXIT + minutes(n), price="1000", symbol=f"KRW-C{n}")
        make_bars(f"KRW-C{n}", {B + minutes(n) + H: "1001", B + minutes(n) + 4 * H: "1002"})
    with CaptureQueriesContext(connection) as queries:
        result = track_post_exit_prices(EXIT + 4 * H + minutes(30))
    reads = [q["sql"] for q in queries.captured_queries if "market_data" in q["sql"]]
    assert result.tracked == 12
    assert len(reads) == 1
    assert len(queries.captured_queries) <= 3 + (6 if connection.vendor == "sqlite" else 0)


@pytest.mark.django_db
def test_change_pct_at_and_near_a_rounding_midpoint_is_stored_as_python_rounds_it():
    closes = {
        "KRW-M0": ("320000", "320100"),  # 0.03125 %: an exact binary midpoint, half-even gives 0.0312
        "KRW-M1": ("100", "100.00015"),  # 0.00015 %: its float lies below the midpoint, 0.0001
        "KRW-M2": ("0.00000001", "1000"),  # 9,999,999,999,900 %
        "KRW-M3": ("3", "2"),  # -33.3333... %
        "KRW-M4": ("1000", "999.99999"),  # -0.000001 %: rounds to -0.0
    }
    for symbol, (exit_price, close) in closes.items():
        sell(EXIT, price=exit_price, symbol=symbol)
        make_bars(symbol, {B + H: close, B + 4 * H: "1"})
    mixed = sell(EXIT, price="320000", symbol="KRW-M5")  # 1h priced by the database, 4h a midpoint
    make_bars("KRW-M5", {B + H: "320001", B + 4 * H: "320100"})

    result = track_post_exit_prices(EXIT + 4 * H + minutes(6))

    assert (result.tracked, result.missed, result.sells) == (12, 0, 6)
    expected = {}
    for trade in Trade.objects.filter(symbol__startswith="KRW-M"):
        close = closes[trade.symbol][1] if trade.pk != mixed.pk else "320001"
        assert trade.post_exit_prices["1h"]["change_pct"] == change_pct(trade.price, Decimal(close))
        expected[trade.pk] = trade.post_exit_prices
    assert Trade.objects.get(pk=mixed.pk).post_exit_prices["4h"]["change_pct"] == 0.0312
    assert Trade.objects.get(symbol="KRW-M0").post_exit_prices["1h"]["change_pct"] == 0.0312
    assert_stored_as_python_writes_it(expected)


def assert_stored_as_python_writes_it(expected: dict[int, dict]) -> None:
    """PostgreSQL: each SELL's stored JSON text is the jsonb of what Python's json.dumps sends."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.id, t.post_exit_prices::text, e.prices::text FROM trading_history t "
            "JOIN jsonb_each(%s::jsonb) AS e(id, prices) ON t.id = e.id::bigint",
            [json.dumps(expected)],
        )
        rows = cursor.fetchall()
    assert len(rows) == len(expected)
    assert {pk: stored for pk, stored, _ in rows} == {pk: python for pk, _, python in rows}


@pytest.mark.django_db
def test_a_catch_up_run_tracks_windows_older_than_24h_by_hand():
    from io import StringIO

    from django.core.management import call_command

    trade = sell(EXIT, price="1000")
    make_bars("KRW-BTC", {B + H: "1010", B + 24 * H: "990"})
    later = EXIT + timedelta(days=3)
    assert track_post_exit_prices(later).tracked == 0  # the scheduled run has given up on them

    out = StringIO()
    with time_machine.travel(later, tick=False):
        call_command("report", "track", "--days", "4", stdout=out)

    assert out.getvalue().startswith("2 windows tracked, 2 missed, 1 SELLs pending")
    assert set(Trade.objects.get(pk=trade.pk).post_exit_prices) == {"1h", "24h"}


# --- the batched run against a per-trade computation ---------------------------------------------


def per_trade_reference(now, retry_for=post_exit.STALE_AFTER):
    """The documented rules, one SELL and one window at a time: ({id: JSON}, tracked, missed, sells)."""
    from market.models import Candle

    expected, tracked, missed, sells = {}, 0, 0, set()
    for trade in Trade.objects.filter(side="SELL", status="FILLED"):
        prices = dict(trade.post_exit_prices)
        exit_at = trade.executed_at or trade.created_at
        if not trade.price:
            expected[trade.pk] = prices
            continue
        for window in pending_windows(trade.pk, trade.symbol, trade.price, exit_at, prices, now, retry_for):
            sells.add(trade.pk)
            bars = Candle.objects.filter(
                symbol=trade.symbol,
                interval="1m",
                timestamp__gte=window.target - TOLERANCE,
                timestamp__lte=window.target + TOLERANCE,
            ).values_list("timestamp", "close")
            found = nearest_bar(window.target, list(bars))
            if found is None:
                missed += 1
                continue
            at, price = found
            prices[window.label] = {
                "price": decimal_str(price),
                "change_pct": change_pct(trade.price, price),
                "tracked_at": at.isoformat(),
            }
            tracked += 1
        expected[trade.pk] = prices
    return expected, tracked, missed, len(sells)


@pytest.mark.django_db
def test_the_batched_run_matches_a_per_trade_computation_on_bars_with_gaps():
    import random

    rng = random.Random(18)
    symbols = ["KRW-BTC", "KRW-ETH", "KRW-XRP"]
    start = EXIT - 30 * H
    for symbol in symbols:
        bars, at = {}, start.replace(second=0)
        while at < EXIT + 26 * H:
            roll = rng.random()
            if roll < 0.02:
                at += minutes(rng.randint(6, 40))  # a gap longer than the tolerance: misses
                continue
            if roll < 0.35:
                bars[at + timedelta(seconds=rng.choice([0, 0, 10, 20, 30, 40]))] = (
                    f"{rng.randint(1, 2_000_000)}.{rng.randint(0, 99_999_999):08d}"
                )
            at += minutes(1)
        make_bars(symbol, bars)
    stored = {"price": "1", "change_pct": -99.0, "tracked_at": "2026-11-20T00:00:00+00:00"}
    for n in range(150):
        exit_at = start + timedelta(seconds=rng.randint(0, 54 * 3600))  # some windows stale or not due
        whole = rng.choice([0, 1, 997, 95_000_000])  # 0: no exit price, never tracked
        kwargs = {
            "symbol": rng.choice(symbols),
            "price": f"{whole}.{rng.randint(0, 9999):04d}" if whole else "0",
        }
        if n % 7 == 0:
            kwargs["post"] = {rng.choice(list(post_exit.WINDOWS)): stored}
        if n % 11 == 0:
            sell(None, created_at=exit_at, **kwargs)
        else:
            sell(exit_at, status="FAILED" if n % 13 == 0 else "FILLED", **kwargs)
    # Two bars off the minute near one target, the nearer one not met first walking from the
    # far end of [target - d, target + d] (d: the distance to the target's nearest whole minute).
    before = sell(B + timedelta(seconds=20), price="1000", symbol="KRW-OFF")  # target :20, minute :00
    after = sell(B + timedelta(seconds=45), price="1000", symbol="KRW-OFF")  # target :45, minute +1
    make_bars(
        "KRW-OFF",
        {
            B + H + timedelta(seconds=s): close
            for s, close in ((0, "6"), (18, "2"), (35, "3"), (32, "4"), (50, "5"))
        },
    )
    # Exact ties: a bar 2 min before and 2 min after a target, the nearest bar at the tolerance edge,
    # a target half-way between two whole minutes; a bar with microseconds.
    tie = sell(EXIT, price="1000", symbol="KRW-TIE")
    half = sell(B + timedelta(seconds=30), price="1000", symbol="KRW-TIE")
    make_bars(
        "KRW-TIE",
        {
            EXIT + H - minutes(2): "990",
            EXIT + H + minutes(2): "1010",
            EXIT + 4 * H + TOLERANCE: "7",
            B + 12 * H: "8",
            B + 12 * H + minutes(1): "9",
            EXIT + 24 * H + timedelta(microseconds=500): "11",
        },
    )

    for now, retry_for in (
        (EXIT + 4 * H + minutes(6), post_exit.STALE_AFTER),
        (EXIT + 25 * H, timedelta(days=2)),
    ):
        expected, tracked, missed, sells = per_trade_reference(now, retry_for)
        result = track_post_exit_prices(now, retry_for=retry_for)
        actual = dict(
            Trade.objects.filter(side="SELL", status="FILLED").values_list("pk", "post_exit_prices")
        )
        assert actual == expected
        assert_stored_as_python_writes_it(expected)
        assert (result.tracked, result.missed, result.sells) == (tracked, missed, sells)
        assert tracked > 20 and missed > 0
    assert Trade.objects.get(pk=tie.pk).post_exit_prices["1h"]["price"] == "990"
    assert Trade.objects.get(pk=tie.pk).post_exit_prices["4h"]["price"] == "7"
    assert (
        Trade.objects.get(pk=tie.pk).post_exit_prices["24h"]["tracked_at"]
        == "2026-11-21T03:00:20.000500+00:00"
    )
    assert Trade.objects.get(pk=half.pk).post_exit_prices["12h"]["price"] == "8"
    assert Trade.objects.get(pk=before.pk).post_exit_prices["1h"]["price"] == "2"
    assert Trade.objects.get(pk=after.pk).post_exit_prices["1h"]["price"] == "5"
