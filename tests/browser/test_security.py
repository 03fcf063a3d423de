"""Web security in a real browser: every page runs under the Content-Security-Policy without a
violation or any other console error, and the login lock-out page is a plain page in the site's look."""

import pytest
from django.contrib.auth import get_user_model

from .conftest import LOGIN_BUTTON, WAIT_MS, chromium, shoot
from .test_pages import market_data  # noqa: F401  (fixture: candles, a regime, trades)

PAGES = [
    "/",
    "/market/?symbol=KRW-BTC&range=3d",
    "/risk/",
    "/history/",
    "/system/",
    "/exits/",
    "/backtest/",
    "/lab/",
    "/ask/",
    "/admin/",
    "/admin/axes/accessattempt/",
    "/admin/trading/strategyconfig/",
    "/django-rq/",
]


def watch_console(tab) -> list[str]:
    """Console errors (CSP violations are reported there) and uncaught page errors, as they come."""
    problems: list[str] = []
    tab.on("console", lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    return problems


def test_every_page_runs_under_the_csp_without_console_errors(page, market_data):  # noqa: F811
    problems = watch_console(page)
    for url in PAGES:
        response = page.goto(page.base + url)
        assert response.status == 200, url
        assert "script-src 'self'" in response.headers["content-security-policy"], url
        page.wait_for_load_state("networkidle")
        assert problems == [], url
    page.goto(page.base + "/market/?symbol=KRW-BTC&range=3d")  # the pickers work without inline handlers
    page.select_option("select[name=range]", "1d")
    page.wait_for_url("**range=1d**")
    page.wait_for_selector("#market-chart .main-svg")  # the page fetches the chart's data, then draws
    assert page.eval_on_selector("#market-chart", "el => (el.data || []).length") > 0  # plotly drew
    assert problems == []


@pytest.fixture
def browser_tab(live_server):
    with chromium() as browser:
        tab = browser.new_page(viewport={"width": 1200, "height": 800})
        tab.set_default_timeout(WAIT_MS)
        tab.base = live_server.url
        yield tab


def test_the_lock_out_page_is_a_plain_page(browser_tab):
    get_user_model().objects.create_user("trader", password="right-password-42")
    tab = browser_tab
    problems = watch_console(tab)
    for _ in range(5):
        tab.goto(tab.base + "/login/")
        tab.fill("#id_username", "trader")
        tab.fill("#id_password", "wrong-password")
        tab.click(LOGIN_BUTTON)
        tab.wait_for_load_state()
    assert tab.inner_text("h1") == "Too many failed log-ins"
    text = tab.inner_text("main")
    assert "After 5 wrong passwords for this username from your address" in text
    assert "paused for 15 minutes" in text and "Traceback" not in tab.content()
    assert tab.inner_text(".brand") == "CoinPilot"  # the site's header
    tab.click("text=Back to the log-in page")
    tab.fill("#id_username", "trader")
    tab.fill("#id_password", "right-password-42")
    tab.click(LOGIN_BUTTON)
    tab.wait_for_load_state()
    assert tab.inner_text("h1") == "Too many failed log-ins"  # the right password waits too
    shoot(tab, "locked-out")
    # The browser logs each 429 answer (and the missing favicon) as a failed load; nothing else.
    assert [p for p in problems if "Failed to load resource" not in p] == []
