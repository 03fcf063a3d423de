"""The pages in a real browser: headless Chromium (Debian's) driven by Playwright.

Log in, open every page, check that the charts render (plotly drew data), and run a backtest from
the page through a real rq worker. Screenshots go to $COINPILOT_SCREENSHOTS when it is set.
"""

import os
import shutil
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from bench.synthetic import synthetic_frame
from market.candles import CandleRow, store_candles
from market.models import RegimeHistory
from trading import booking
from trading.config import default_risk, default_strategy, save_strategy_version, strategy_as_dict
from trading.fills import buy_fill, sell_fill

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
        reason="Debian's chromium is not installed (.ci/run installs it)",
    ),
]


@pytest.fixture(scope="module", autouse=True)
def allow_orm_next_to_playwrights_event_loop():
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs an event loop
    yield
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def market_data():
    """Three days of BTC candles, a regime, a closed and an open trade."""
    end = timezone.now().replace(second=0, microsecond=0)
    frame = synthetic_frame(3 * 1440, seed=11, start=(end - timedelta(days=3)).isoformat())
    store_candles(
        [
            CandleRow(
                "KRW-BTC",
                "1m",
                r.timestamp.to_pydatetime(),
                *(Decimal(f"{x:.2f}") for x in (r.open, r.high, r.low, r.close, r.volume)),
                None,
            )
            for r in frame.itertuples(index=False)
        ]
    )
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


@pytest.fixture
def page(live_server):
    from playwright.sync_api import sync_playwright

    get_user_model().objects.create_superuser("browser", password="browser-pass-123")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        tab.goto(f"{live_server.url}/login/")
        tab.fill("#id_username", "browser")
        tab.fill("#id_password", "browser-pass-123")
        tab.click("button[type=submit]")
        tab.wait_for_url(f"{live_server.url}/")
        tab.base = live_server.url
        yield tab
        browser.close()


def shoot(tab, name: str) -> None:
    folder = os.environ.get("COINPILOT_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


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
    shoot(page, "backtest")
