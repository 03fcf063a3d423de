"""The Market page: bar size by range, aggregation (database = pandas), markers, regimes, bad input."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest
import time_machine
from django.contrib.auth import get_user_model

from coinpilot_site import market_chart
from conftest import store_minutes
from market.models import RegimeHistory
from tests.scale_out import book_scale_out
from trading.models import Trade

pytestmark = pytest.mark.django_db
END = datetime(2030, 1, 10, 0, 0, tzinfo=UTC)


@pytest.fixture
def three_days():
    frame = store_minutes("KRW-BTC", 3 * 1440, end=END, seed=3)
    return frame.set_index("timestamp")


@pytest.mark.parametrize(
    ("range_key", "bar"), [("6h", "1m"), ("3d", "1m"), ("7d", "5m"), ("90d", "1h"), ("1y", "4h")]
)
def test_the_bar_size_keeps_every_range_under_5000_points(range_key, bar):
    req = market_chart.ChartRequest("KRW-BTC", range_key, END)
    assert req.bar[0] == bar
    assert market_chart.RANGES[range_key] / timedelta(minutes=req.bar[1]) <= market_chart.MAX_BARS


def test_7d_bars_are_the_5_minute_aggregates_of_the_stored_minutes(three_days):
    bars = market_chart.candles(market_chart.ChartRequest("KRW-BTC", "7d", END))
    expected = (
        three_days.round(2)
        .resample("5min", origin="epoch")
        .agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
    )
    assert len(bars) == len(expected) == 864
    pd.testing.assert_frame_equal(
        bars.reset_index(drop=True),
        expected.reset_index(drop=True),
        check_exact=False,
        rtol=1e-9,
        check_index_type=False,
    )


def test_chart_data_has_indicators_markers_and_regime_spans(three_days):
    Trade.objects.create(
        symbol="KRW-BTC",
        side="BUY",
        price=Decimal("50000000"),
        quantity=1,
        status="FILLED",
        client_order_id="m1",
        executed_at=END - timedelta(hours=2),
    )
    for hours, regime in ((80, "BEAR"), (30, "SIDEWAYS"), (20, "SIDEWAYS"), (5, "BULL")):
        row = RegimeHistory.objects.create(coin_symbol="KRW-BTC", regime=regime)
        RegimeHistory.objects.filter(pk=row.pk).update(created_at=END - timedelta(hours=hours))
    data = market_chart.chart_data(market_chart.ChartRequest("KRW-BTC", "1d", END))
    assert data["points"] == 1440 and data["bar"] == "1m" and len(data["rsi14"]) == 1440
    assert data["ma20"][:19] == [None] * 19 and data["ma20"][19] is not None
    assert [s["regime"] for s in data["regimes"]] == ["SIDEWAYS", "BULL"]  # BEAR ended before the range
    assert data["regimes"][0]["start"] == "2030-01-09 09:00"  # the range start, in KST
    assert data["trades"] == [
        {
            "t": "2030-01-10 07:00",
            "price": 50000000.0,
            "qty": 1.0,
            "side": "BUY",
            "reason": "",
            "pnl": None,
            "level": None,
        }
    ]


@time_machine.travel(END, tick=False)
def test_page_renders_and_reports_unknown_input(client, three_days):
    client.force_login(get_user_model().objects.create_user("op", password="pw-123456789"))
    page = client.get("/market/?symbol=KRW-NOPE&range=2w").content.decode()
    assert (
        "unknown symbol &#x27;KRW-NOPE&#x27;" in page and "unknown range &#x27;2w&#x27;; showing 1d" in page
    )
    assert 'data-src="/market/chart.json?symbol=KRW-BTC&amp;range=1d"' in page  # the fallbacks'


@time_machine.travel(END, tick=False)
def test_the_chart_data_is_fetched_apart_with_an_etag(client, three_days):
    client.force_login(get_user_model().objects.create_user("op", password="pw-123456789"))
    page = client.get("/market/?symbol=KRW-BTC&range=3d")
    assert b"chart-data" not in page.content and b'"open"' not in page.content  # no data in the HTML

    response = client.get("/market/chart.json?symbol=KRW-BTC&range=3d")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    data = json.loads(response.content)
    assert data == json.loads(
        json.dumps(market_chart.chart_data(market_chart.ChartRequest("KRW-BTC", "3d", END)))
    )
    assert response["Cache-Control"] == "private, no-cache"

    again = client.get("/market/chart.json?symbol=KRW-BTC&range=3d", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304 and again.content == b""
    Trade.objects.create(  # a new trade: a new version of the data
        symbol="KRW-BTC",
        side="BUY",
        price=Decimal(50_000_000),
        quantity=Decimal("0.01"),
        status="FILLED",
        client_order_id="new",
        executed_at=END - timedelta(minutes=30),
    )
    changed = client.get("/market/chart.json?symbol=KRW-BTC&range=3d", HTTP_IF_NONE_MATCH=response["ETag"])
    assert changed.status_code == 200 and changed["ETag"] != response["ETag"]


def test_the_chart_data_refuses_unknown_input(client, three_days):
    client.force_login(get_user_model().objects.create_user("op", password="pw-123456789"))
    response = client.get("/market/chart.json?symbol=KRW-NOPE&range=2w")
    assert response.status_code == 400
    assert json.loads(response.content) == {
        "errors": ["unknown symbol 'KRW-NOPE'; showing KRW-BTC", "unknown range '2w'; showing 1d"]
    }
    assert client.get("/market/chart.json").status_code == 200  # nothing asked: the defaults


def test_scale_outs_are_marked_apart_from_full_exits_with_their_level_quantity_and_pnl(three_days):
    scaled = book_scale_out(at=END - timedelta(hours=6), price=Decimal(three_days["close"].iloc[-400]))
    markers = market_chart.chart_data(market_chart.ChartRequest("KRW-BTC", "1d", END))["trades"]
    assert [(m["side"], m["reason"], m["level"]) for m in markers] == [
        ("BUY", "", None),
        ("SELL", "PARTIAL_TAKE_PROFIT", 1),
        ("SELL", "PARTIAL_TAKE_PROFIT", 2),
        ("SELL", "TAKE_PROFIT", None),
    ]
    for marker, sale in zip(markers[1:], [*scaled.partials, scaled.final], strict=True):
        assert marker["qty"] == float(sale.quantity) and Decimal(marker["pnl"]) == Decimal(
            sale.signal_info["pnl"]
        )
    assert abs(markers[1]["qty"] - float(scaled.buy.quantity) / 2) < 1e-8  # level 1 sold half


def test_the_x_axis_spans_the_range_asked_for_and_ends_now(three_days):
    data = market_chart.chart_data(market_chart.ChartRequest("KRW-BTC", "30d", END))
    assert data["x_range"] == ["2029-12-11 09:00", "2030-01-10 09:00"]  # KST, no day past the end


@pytest.mark.parametrize(
    ("range_key", "said"), [("3d", ""), ("7d", "Only 3 days of 7d are stored"), ("1y", "Only 3 days of 1y")]
)
def test_a_range_longer_than_the_stored_data_says_so(three_days, range_key, said):
    chart = market_chart.page_chart(market_chart.ChartRequest("KRW-BTC", range_key, END))
    assert chart["covers"].startswith(said) if said else chart["covers"] == ""
    if said:
        assert "the first bar is 2030-01-07 09:00 KST" in chart["covers"]
