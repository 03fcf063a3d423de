"""The config admin in a real browser: a trader changes the strategy, the bot's status shows it.

Headless Chromium (Debian's) driven by Playwright, as in test_pages.py. A real bot cycle (the
function `manage.py run_cycle --once` calls) runs on candles stored here between the admin edit
and the Overview page. Screenshots go to $COINPILOT_SCREENSHOTS when it is set.
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
from trading.config import default_strategy, save_strategy_version, strategy_as_dict
from trading.cycle import run_cycle
from trading.executors import get_executor
from trading.markets import live_market
from trading.models import StrategyConfig

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
def btc_candles():
    """A day of fresh KRW-BTC minute bars in a SIDEWAYS market; the strategy trades only KRW-BTC."""
    end = timezone.now().replace(second=0, microsecond=0)
    frame = synthetic_frame(1440, seed=11, start=(end - timedelta(days=1)).isoformat())
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
    RegimeHistory.objects.create(coin_symbol="KRW-BTC", regime="SIDEWAYS")
    return save_strategy_version(symbols=["KRW-BTC"], params=strategy_as_dict(default_strategy())["regimes"])


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


def run_one_cycle() -> None:
    """What `manage.py run_cycle --once` does."""
    now = timezone.now()
    run_cycle(
        now=now, slot=now.replace(second=0, microsecond=0), market=live_market(), executor=get_executor()
    )


def open_version(tab, row: StrategyConfig) -> None:
    tab.goto(f"{tab.base}/admin/trading/strategyconfig/{row.pk}/change/")
    tab.wait_for_selector("#strategyconfig_form")


def status_row(tab, symbol: str) -> str:
    """The Overview's bot status row of `symbol`, once the page has drawn it."""
    selector = f"#statuses tbody tr:has(td:text-is('{symbol}'))"
    tab.wait_for_selector(selector)
    return tab.inner_text(selector)


def test_a_strategy_change_in_the_admin_shows_in_the_bot_status(page, btc_candles):
    open_version(page, btc_candles)
    assert page.input_value("#id_symbols") == "KRW-BTC"
    assert page.input_value("#id_SIDEWAYS__rsi_14_max") == "45"
    page.fill("#id_symbols", "KRW-BTC, KRW-ETH")
    page.fill("#id_SIDEWAYS__rsi_14_max", "7.5")  # below any real RSI(14): entry check 1 fails
    page.fill("#id_note", "stricter sideways entries")
    page.click("input[name=_save]")
    page.wait_for_url("**/admin/trading/strategyconfig/")
    assert "SIDEWAYS.rsi_14_max: 45 -> 7.5" in page.inner_text("#result_list")
    shoot(page, "admin-strategy-saved")

    run_one_cycle()  # reads the new active version, writes bot:status:{symbol}
    page.goto(page.base + "/")
    btc = status_row(page, "KRW-BTC")
    assert "RSI14_TOO_HIGH" in btc and "> max 7.5" in btc
    assert "NO_DATA" in status_row(page, "KRW-ETH")  # the added market has a row (no candles yet)
    shoot(page, "overview-after-config-change")


def test_a_stop_loss_above_the_take_profit_is_refused_on_its_field(page, btc_candles):
    versions = StrategyConfig.objects.count()
    open_version(page, btc_candles)
    page.fill("#id_SIDEWAYS__stop_loss_pct", "4.5")  # take profit is 3.0
    page.click("input[name=_save]")
    error = page.inner_text(".form-row.field-SIDEWAYS__stop_loss_pct .errorlist")
    assert (
        error
        == "Stop loss (4.5%) is larger than take profit (3.0%): every win would be smaller than every loss"
    )
    assert "Please correct the error below." in page.inner_text(".errornote")
    assert page.input_value("#id_SIDEWAYS__stop_loss_pct") == "4.5"  # the trader's input is kept
    assert StrategyConfig.objects.count() == versions  # nothing stored
    shoot(page, "admin-strategy-refused")


def test_restore_this_version_brings_the_old_settings_back(page, btc_candles):
    params = btc_candles.params
    old = save_strategy_version(symbols=["KRW-BTC", "KRW-DOGE"], params=params, note="with DOGE")
    active = save_strategy_version(symbols=["KRW-BTC"], params=params, note="BTC only")
    open_version(page, old)
    assert f"symbols: KRW-BTC -> KRW-BTC, KRW-DOGE (v{active.version} -> this)" in page.inner_text(
        ".field-changes_from_active"
    )
    page.click("#restore-version")
    page.wait_for_url("**/admin/trading/strategyconfig/")
    assert f"Restored v{old.version} as v{active.version + 1}, now active" in page.inner_text(".messagelist")
    run_one_cycle()
    page.goto(page.base + "/")
    assert "NO_DATA" in status_row(page, "KRW-DOGE")
    shoot(page, "overview-after-restore")
