"""Scale-outs, BUY sizing and the re-entry cooldown in a real browser (Debian's headless Chromium):
the Market chart's own marker and hover text for a partial exit, History's rows, the Overview's
bot status with the whole sizing sentence, the Risk page's refusal."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from conftest import store_minutes
from market.models import RegimeHistory
from tests.scale_out import SIZING, book_scale_out, reentry_refusal
from trading.config import default_strategy, save_strategy_version, strategy_as_dict
from trading.cycle import STATUS_KEY
from trading.glossary import EXIT_REASONS, RISK_EVENTS

from .conftest import shoot

PARTIAL_TRACE = "SELL part (scale-out)"


@pytest.fixture
def scaled():
    """A day of BTC candles and, inside it, a position bought, scaled out twice and closed."""
    end = timezone.now().replace(second=0, microsecond=0)
    frame = store_minutes("KRW-BTC", 1440, end=end)
    save_strategy_version(symbols=["KRW-BTC"], params=strategy_as_dict(default_strategy())["regimes"])
    RegimeHistory.objects.create(coin_symbol="KRW-BTC", regime="BULL")
    price = Decimal(f"{frame['close'].iloc[-600]:.0f}")
    result = book_scale_out(at=end - timedelta(hours=8), price=price)
    reentry_refusal(at=end - timedelta(hours=4, minutes=30))
    return result


def no_horizontal_scroll(tab) -> bool:
    return tab.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def test_market_chart_marks_scale_outs_apart_from_full_exits(page, scaled):
    page.goto(page.base + "/market/?symbol=KRW-BTC&range=1d")
    page.wait_for_selector("#market-chart .main-svg")
    traces = page.eval_on_selector(
        "#market-chart",
        "el => Object.fromEntries(el.data.filter(t => t.mode === 'markers').map((t, i) => [t.name, "
        "{n: t.x.length, text: t.text || [], symbol: t.marker.symbol, color: t.marker.color, "
        "index: el.data.indexOf(t)}]))",
    )
    partial, full = traces[PARTIAL_TRACE], traces["SELL"]
    assert (partial["n"], full["n"], traces["BUY"]["n"]) == (2, 1, 1)  # TAKE_PROFIT is the full exit
    assert (partial["symbol"], partial["color"]) != (full["symbol"], full["color"])
    level_1 = f"scale-out level 1, {scaled.partials[0].quantity.normalize():f} BTC sold, PnL "
    assert partial["text"][0].startswith(level_1) and partial["text"][1].startswith("scale-out level 2,")
    assert full["text"] == [f"TAKE_PROFIT, PnL {round(float(scaled.final.signal_info['pnl'])):+,} KRW"]
    assert PARTIAL_TRACE in page.text_content("#market-chart .legend")
    # hover the first scale-out: plotly shows its text in the chart's hover label
    page.eval_on_selector(
        "#market-chart", f"el => Plotly.Fx.hover(el, [{{curveNumber: {partial['index']}, pointNumber: 0}}])"
    )
    page.wait_for_selector("#market-chart .hovertext")
    assert level_1 in page.text_content("#market-chart .hoverlayer")
    shoot(page, "market-scale-outs")


def test_history_lists_scale_outs_by_level_and_the_sizing_of_the_buy(page, scaled):
    page.goto(page.base + "/history/")
    page.select_option("select[name=exit_reason]", "PARTIAL_TAKE_PROFIT")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**exit_reason=PARTIAL_TAKE_PROFIT**")
    rows = page.locator("#trades tbody tr")
    assert rows.count() == 2
    assert "Partial take profit (level 2)" in rows.nth(0).inner_text()
    assert "Partial take profit (level 1)" in rows.nth(1).inner_text()
    title = rows.nth(0).locator(".exit-reason").get_attribute("title")
    assert title == f"PARTIAL_TAKE_PROFIT: {EXIT_REASONS['PARTIAL_TAKE_PROFIT']}"
    page.goto(page.base + "/history/?side=BUY")
    sizing = page.locator("#trades tbody tr .sizing")
    assert sizing.is_visible() and sizing.inner_text() == SIZING  # whole, on its own line
    assert no_horizontal_scroll(page)
    shoot(page, "history-buy-sizing")


def test_the_overview_shows_the_buy_sizing_whole(page, scaled, redis_conn):
    detail = f"all BULL entry checks pass; {SIZING}; AI: off (no key)"  # as trading.cycle words a BUY
    status = {"price": 1.0, "regime": "BULL", "action": "BUY", "reason": "ENTRY", "detail": detail}
    redis_conn.set(
        STATUS_KEY.format(symbol="KRW-BTC"), json.dumps(status | {"at": timezone.now().isoformat()})
    )
    page.goto(page.base + "/")
    row = page.locator("#statuses tbody tr", has_text="KRW-BTC")
    row.wait_for()
    assert row.locator("td").nth(4).inner_text() == f"ENTRY: {detail}"
    assert no_horizontal_scroll(page)
    shoot(page, "overview-buy-sizing")


def test_the_risk_page_lists_the_reentry_cooldown_refusal(page, scaled):
    page.goto(page.base + "/risk/")
    page.select_option("#audit select[name=type]", "REENTRY_COOLDOWN")
    page.click("#audit button[type=submit]")
    page.wait_for_url("**type=REENTRY_COOLDOWN**")
    [row] = page.locator("#audit tbody tr").all()
    assert "KRW-BTC was sold lately: no new entry until" in row.inner_text()
    assert row.locator("td").nth(2).get_attribute("title") == RISK_EVENTS["REENTRY_COOLDOWN"]
