"""The pages in a real browser: headless Chromium (Debian's) driven by Playwright.

Log in, open every page, check that the charts render (plotly drew data), and run a backtest from
the page through a real rq worker. Screenshots go to $COINPILOT_SCREENSHOTS when it is set.
"""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from conftest import store_minutes
from market.models import RegimeHistory
from trading import booking
from trading.config import default_risk, default_strategy, save_strategy_version, strategy_as_dict
from trading.fills import buy_fill, sell_fill

from .conftest import shoot


@pytest.fixture
def market_data():
    """Three days of BTC candles, a regime, a closed and an open trade."""
    end = timezone.now().replace(second=0, microsecond=0)
    frame = store_minutes("KRW-BTC", 3 * 1440, end=end)
    save_strategy_version(symbols=["KRW-BTC"], params=strategy_as_dict(default_strategy())["regimes"])
    RegimeHistory.objects.create(coin_symbol="KRW-BTC", regime="SIDEWAYS")
    price = Decimal(f"{frame['close'].iloc[-600]:.0f}")
    booking.book_buy(
        symbol="KRW-BTC",
        fill=buy_fill(krw=Decimal(500000), reference=price),
        client_order_id="t1",
        regime="SIDEWAYS",
        at=end - timedelta(hours=10),
    )
    qty = booking.Position.objects.get().quantity
    booking.book_sell(
        symbol="KRW-BTC",
        fill=sell_fill(quantity=qty, reference=price * Decimal("1.03")),
        client_order_id="t2",
        reason="TAKE_PROFIT",
        at=end - timedelta(hours=8),
        limits=default_risk(),
    )
    booking.book_buy(
        symbol="KRW-BTC",
        fill=buy_fill(krw=Decimal(500000), reference=price),
        client_order_id="t3",
        regime="SIDEWAYS",
        at=end - timedelta(hours=1),
    )


def plotted_points(tab, selector: str) -> int:
    """How many points plotly drew in a chart (0 if it never rendered)."""
    return tab.eval_on_selector(
        selector, "el => (el.data || []).reduce((n, t) => n + (t.x ? t.x.length : 0), 0)"
    )


def test_overview_renders_its_chart_and_refreshes(page, market_data):
    page.goto(page.base + "/")
    page.wait_for_selector("#equity-chart .main-svg")
    assert plotted_points(page, "#equity-chart") >= 1
    assert page.inner_text("#positions tbody").startswith("KRW-BTC")
    assert "AI: off (no key)" in page.inner_text("header")
    with page.expect_response(lambda r: "/api/overview" in r.url and r.status == 200, timeout=15000):
        pass  # the page polls its JSON endpoint by itself
    shoot(page, "overview")


def test_market_page_draws_candles_indicators_and_fills(page, market_data):
    page.goto(page.base + "/market/?symbol=KRW-BTC&range=3d")
    page.wait_for_selector("#market-chart .main-svg")
    assert plotted_points(page, "#market-chart") > 3 * 1440  # candles + MA + bands + volume + RSI
    page.select_option("select[name=range]", "1d")
    page.wait_for_url("**range=1d**")
    assert "bars of 1m" in page.inner_text("h1")
    page.wait_for_selector("#market-chart .main-svg")  # drawn once its data has arrived
    titles = page.inner_text("#market-chart")
    assert "Volume" in titles and "RSI(14)" in titles  # each panel names what it plots
    labels = page.eval_on_selector_all(
        "#market-chart .xtick text", "els => els.map(e => e.getBoundingClientRect().top)"
    )
    volume_bottom = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('#market-chart .plot .bars path')]"
        ".map(e => e.getBoundingClientRect().bottom))"
    )
    assert labels and min(labels) > volume_bottom  # date labels below the volume bars
    shoot(page, "market")


def test_risk_history_and_system_pages(page, market_data):
    page.goto(page.base + "/risk/")
    assert "Today's limits vs usage" in page.inner_text("#usage")
    shoot(page, "risk")
    page.goto(page.base + "/history/")
    page.select_option("select[name=side]", "SELL")
    page.click("#filters button[type=submit]")
    rows = page.inner_text("#trades tbody")
    assert "TAKE_PROFIT" in rows and "BUY" not in rows
    shoot(page, "history")
    page.goto(page.base + "/system/")
    assert "Scheduled jobs" in page.inner_text("main")
    shoot(page, "system")
    page.goto(page.base + "/exits/?days=7")
    page.wait_for_selector("#pnl-box .main-svg")
    assert plotted_points(page, "#heatmap") >= 1
    assert re.search(r"[+-]?\d+\.\d\d ?%", page.inner_text("#heatmap"))  # cells print their values
    shoot(page, "exit-analysis")


def test_a_backtest_runs_from_the_page(page, market_data, run_jobs):
    page.goto(page.base + "/backtest/")
    today = timezone.localtime().date()
    page.fill("input[name=from]", str(today - timedelta(days=2)))
    page.fill("input[name=to]", str(today + timedelta(days=1)))
    page.click("#backtest-form button[type=submit]")
    page.wait_for_url("**/backtest/*/")
    run_jobs("default")  # a real rq worker (in this process) picks the job up
    page.wait_for_selector("#report:not([hidden])", timeout=20000)
    assert "Total return" in page.inner_text("#stats")
    assert plotted_points(page, "#backtest-chart") > 100
    assert "Sortino" in page.inner_text("#figures")  # the report's sections are tables, not <pre>
    trades = (
        page.evaluate("() => document.querySelectorAll('#trade-list tbody tr td:not(.muted)').length") // 10
    )
    assert page.inner_text("#trades-shown") == f"({trades})"
    assert trades or "No trade in this run." in page.inner_text("#by-regime")
    assert not page.is_visible("#report-text")  # the plain text is folded away
    shoot(page, "backtest")


def test_the_market_page_says_so_when_its_chart_data_does_not_load(page, market_data):
    """The chart's data comes from its own URL: when that answers with an error, the page says what
    happened and what to do instead of leaving an empty panel."""
    page.route("**/market/chart.json*", lambda route: route.fulfill(status=502, body="Bad Gateway"))
    page.goto(page.base + "/market/?symbol=KRW-BTC&range=3d")
    page.wait_for_selector("#market-chart.error")
    assert page.inner_text("#market-chart") == (
        "The chart's data could not be loaded. Reload the page to try again."
    )
    assert page.locator("#market-chart .main-svg").count() == 0
