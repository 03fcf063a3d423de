"""The config admin in a real browser: a trader changes the strategy, the bot's status shows it.

Headless Chromium (Debian's) driven by Playwright, as in test_pages.py. A real bot cycle (the
function `manage.py run_cycle --once` calls) runs on candles stored here between the admin edit
and the Overview page. Screenshots go to $COINPILOT_SCREENSHOTS when it is set.
"""

from datetime import timedelta

import pytest
from django.db.models import Max
from django.utils import timezone

from conftest import store_minutes
from market.models import Candle, RegimeHistory
from trading.config import default_strategy, save_strategy_version, strategy_as_dict
from trading.cycle import run_cycle
from trading.executors import get_executor
from trading.markets import live_market
from trading.models import StrategyConfig

from .conftest import shoot


@pytest.fixture
def btc_candles():
    """A day of fresh KRW-BTC minute bars in a SIDEWAYS market; the strategy trades only KRW-BTC."""
    store_minutes("KRW-BTC", 1440, end=timezone.now().replace(second=0, microsecond=0))
    RegimeHistory.objects.create(coin_symbol="KRW-BTC", regime="SIDEWAYS")
    return save_strategy_version(symbols=["KRW-BTC"], params=strategy_as_dict(default_strategy())["regimes"])


def run_one_cycle() -> None:
    """What `manage.py run_cycle --once` does, a few seconds after the newest stored bar closed.

    The clock is the stored bars' and not the wall clock's: a test that crosses a minute boundary
    between storing and deciding would otherwise wait for a bar nobody stores (NO_NEW_BAR).
    """
    newest = Candle.objects.filter(symbol="KRW-BTC").aggregate(Max("timestamp"))["timestamp__max"]
    now = newest + timedelta(minutes=1, seconds=5)
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
