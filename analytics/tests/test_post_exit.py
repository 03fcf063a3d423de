from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics import post_exit
from analytics.post_exit import TOLERANCE, change_pct, nearest_bar, pending_windows, track_post_exit_prices
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
