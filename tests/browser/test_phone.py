"""Every page on a phone: headless Chromium at 375 x 812 (a phone's viewport, touch, the page's own
meta viewport), one browser and one tab visiting the pages in turn over the same seeded data.

On each page: nothing wider than the screen (the page never scrolls sideways; wide tables scroll
inside themselves), the collapsed navigation opens from its menu button with every link on screen,
and the kill switch banner stays in view while the page is scrolled to its end. Screenshots go to
$COINPILOT_SCREENSHOTS as phone-<page>.png when it is set.
"""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from trading.models import TradingControl

from .conftest import LOGIN_BUTTON, WAIT_MS, chromium, shoot
from .test_lab import close_optuna_connections  # noqa: F401  (autouse: the test database can be dropped)
from .test_pages import market_data  # noqa: F401  (the fixture: candles, a regime, trades)
from .test_security import watch_console

WIDTH, HEIGHT = 375, 812
NAV = ["Overview", "Market", "Risk", "History", "System", "Exit analysis", "Backtest", "Lab", "Ask"]

# The elements wider than the screen, named for the failure message (empty when none).
OVERFLOW = """() => {
  const root = document.documentElement, limit = root.clientWidth + 1;
  if (root.scrollWidth <= limit) return [];
  const right = (el) => Math.round(el.getBoundingClientRect().right);
  const wide = [...document.body.querySelectorAll("*")].filter((el) => right(el) > limit).slice(-5);
  return [`page ${root.scrollWidth} px wide in ${root.clientWidth} px`].concat(wide.map(
    (el) => `${el.tagName.toLowerCase()}#${el.id}.${el.className} ends at ${right(el)} px`));
}"""


@pytest.fixture
def phone(live_server):
    """A Chromium tab the size of a phone, not logged in yet; `phone.base` is the live server's URL."""
    get_user_model().objects.create_superuser("phone", password="phone-pass-123")
    with chromium() as browser:
        tab = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT}, is_mobile=True, has_touch=True)
        tab.set_default_timeout(WAIT_MS)
        tab.base = live_server.url
        yield tab


def overflow(tab) -> list[str]:
    width = tab.evaluate("document.documentElement.clientWidth")
    return tab.evaluate(OVERFLOW) + ([f"layout viewport {width} px, not {WIDTH}"] if width > WIDTH else [])


def menu_problems(tab) -> list[str]:
    """Open the collapsed navigation: every link on screen; close it again."""
    nav, button = tab.locator("#site-nav"), tab.locator("#menu-button")
    if nav.is_visible():
        return ["the navigation is not collapsed"]
    button.click()
    problems = [] if button.get_attribute("aria-expanded") == "true" else ["aria-expanded not set"]
    for name in NAV + ["Admin"]:
        link = tab.locator("header").get_by_role("link", name=name, exact=True)
        box = link.bounding_box() if link.is_visible() else None
        if box is None or box["x"] < 0 or box["x"] + box["width"] > WIDTH or box["height"] < 20:
            problems.append(f"menu link {name!r} not reachable: {box}")
    if not tab.get_by_role("button", name="Log out phone").is_visible():
        problems.append("no log-out button in the menu")
    problems += [f"menu open: {p}" for p in overflow(tab)]
    button.click()
    return problems + (["the menu does not close"] if nav.is_visible() else [])


def banner_problems(tab) -> list[str]:
    """The kill switch banner is shown, and still in view with the page scrolled to its end."""
    banner = tab.locator("#kill-banner")
    if not banner.is_visible() or "Kill switch is ON" not in banner.inner_text():
        return ["no kill switch banner"]
    tab.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    tab.wait_for_function("window.scrollY > 0 || document.documentElement.scrollHeight <= innerHeight")
    box = banner.bounding_box()
    tab.evaluate("window.scrollTo(0, 0)")
    in_view = box and 0 <= box["y"] < HEIGHT - box["height"]
    return [] if in_view else [f"kill switch banner scrolled away: {box}"]


def check(tab, name: str, path: str, *, ready: str = "main", banner: bool = True) -> list[str]:
    if path:
        response = tab.goto(tab.base + path)
        assert response.status == 200, path
    tab.wait_for_selector(ready)
    problems = overflow(tab)
    for chart in tab.locator(".js-plotly-plot").all():  # plotly drew to the card's width
        box = chart.bounding_box()
        if box and box["x"] + box["width"] > WIDTH:
            problems.append(f"chart {chart.get_attribute('id')}: {box['width']:.0f} px at x {box['x']:.0f}")
    if banner:
        problems += menu_problems(tab) + banner_problems(tab)
    shoot(tab, f"phone-{name}")
    return [f"{name}: {p}" for p in problems]


def test_every_page_fits_a_phone(phone, market_data, run_jobs):  # noqa: F811
    TradingControl.objects.update_or_create(pk=1, defaults={"kill_switch": True, "reason": "on a train"})
    console = watch_console(phone)
    problems = check(phone, "login", "/login/", ready="#id_username", banner=False)
    phone.fill("#id_username", "phone")
    phone.fill("#id_password", "phone-pass-123")
    phone.click(LOGIN_BUTTON)
    phone.wait_for_url(phone.base + "/")

    problems += check(phone, "overview", "", ready="#equity-chart .main-svg")
    phone.click("#menu-button")  # the README's picture of the open menu
    shoot(phone, "phone-menu")
    phone.click("#menu-button")
    problems += check(phone, "market", "/market/?symbol=KRW-BTC&range=1d", ready="#market-chart .main-svg")
    problems += check(phone, "risk", "/risk/", ready="#usage")
    problems += check(phone, "history", "/history/", ready="#trades")
    problems += check(phone, "exits", "/exits/?days=7", ready="#heatmap .main-svg")
    problems += check(phone, "system", "/system/", ready="#jobs")
    problems += check(phone, "ask", "/ask/", ready="#ask-form")
    problems += check(phone, "lab", "/lab/", ready="#lab-form")

    today = timezone.localtime().date()  # a small study started from the phone, run, its report
    # two days back: from yesterday, a run just after KST midnight held one day, too few for a Sharpe
    phone.fill("#lab-form input[name=from]", str(today - timedelta(days=2)))
    phone.fill("#lab-form input[name=to]", str(today + timedelta(days=1)))
    phone.uncheck("input[name=regimes][value=BULL]")
    phone.uncheck("input[name=regimes][value=BEAR]")
    phone.select_option("select[name=force_regime]", "SIDEWAYS")
    phone.fill("textarea[name=params]", "SIDEWAYS.rsi_14_max=45:70:5\nSIDEWAYS.take_profit_pct=2.5:5:0.5")
    phone.fill("#lab-form input[name=trials]", "3")
    phone.fill("#lab-form input[name=min_trades]", "1")
    phone.click("#lab-form button[type=submit]")
    phone.wait_for_url("**/lab/*/")
    run_jobs("lab")  # a real rq worker (in this process); the page reloads when the study ends
    phone.wait_for_selector("#report", timeout=20000)
    problems += check(phone, "lab-study", "", ready="#figure-history .main-svg")

    problems += check(phone, "backtest-form", "/backtest/", ready="#backtest-form")
    phone.fill("#backtest-form input[name=from]", str(today - timedelta(days=2)))
    phone.fill("#backtest-form input[name=to]", str(today + timedelta(days=1)))
    phone.click("#backtest-form button[type=submit]")
    phone.wait_for_url("**/backtest/*/")
    run_jobs("default")  # a real rq worker (in this process) runs the backtest
    phone.wait_for_selector("#report:not([hidden])", timeout=20000)
    problems += check(phone, "backtest", "", ready="#backtest-chart .main-svg")

    problems += check(phone, "admin", "/admin/", ready="#content", banner=False)
    problems += check(phone, "admin-trades", "/admin/trading/trade/", ready="#result_list", banner=False)
    assert problems == []
    favicon = "Failed to load resource: the server responded with a status of 404"  # /favicon.ico
    assert [c for c in console if favicon not in c] == []  # the menu's script runs under the CSP
