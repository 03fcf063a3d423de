"""The Backtest page's portfolio mode in a real browser: a refusal, then a run of two symbols through
a real rq worker, its figures, per-symbol table and chart, without any CSP violation."""

from datetime import timedelta

from django.utils import timezone

from conftest import store_minutes
from trading.config import default_strategy, save_strategy_version, strategy_as_dict

from .conftest import shoot
from .test_pages import plotted_points
from .test_security import watch_console


def test_a_portfolio_backtest_runs_from_the_page(page, run_jobs):
    end = timezone.now().replace(second=0, microsecond=0)
    for seed, symbol in enumerate(("KRW-BTC", "KRW-ETH")):
        store_minutes(symbol, 9 * 1440, end=end, seed=seed + 3)  # > 200 hours: a regime, so trades
    save_strategy_version(
        symbols=["KRW-BTC", "KRW-ETH"], params=strategy_as_dict(default_strategy())["regimes"]
    )
    page.goto(page.base + "/backtest/")
    assert page.input_value("input[name=symbols]") == "KRW-BTC, KRW-ETH"  # the strategy's symbols
    today = timezone.localtime(end).date()
    page.check("#mode-portfolio")
    page.fill("input[name=symbols]", "KRW-BTC, BTC, KRW-BTC")
    page.fill("input[name=from]", str(today - timedelta(days=1)))
    page.fill("input[name=to]", str(today + timedelta(days=1)))
    page.click("#backtest-form button[type=submit]")
    errors = page.inner_text("main")
    assert "BTC is not a market name: write it as KRW-BTC" in errors
    assert "KRW-BTC is listed twice" in errors
    assert page.is_checked("#mode-portfolio")  # the refused request stays in the form

    problems = watch_console(page)  # from here: the refusal's 400 above is logged by the browser
    page.fill("input[name=symbols]", "KRW-BTC, KRW-ETH")
    # Two whole days before today: at 00:00 KST "yesterday to tomorrow" held just 1,440 minutes.
    page.fill("input[name=from]", str(today - timedelta(days=2)))
    page.click("#backtest-form button[type=submit]")
    page.wait_for_url("**/backtest/*/")
    run_jobs("default")  # a real rq worker (in this process) picks the job up
    page.wait_for_selector("#report:not([hidden])", timeout=20000)
    stats = page.inner_text("#stats")
    assert "Total return" in stats and "Avg exposure" in stats
    rows = page.locator("#per-symbol tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).inner_text().startswith("KRW-BTC") and rows.nth(1).inner_text().startswith("KRW-ETH")
    names = page.eval_on_selector("#backtest-chart", "el => el.data.map((t) => t.name)")
    assert names == ["equity (KRW)", "drawdown %", "exposure % of equity"]
    assert plotted_points(page, "#backtest-chart") > 3 * 1440
    assert "per symbol" in page.text_content("#report-text")
    assert problems == []  # no CSP violation, no script error
    shoot(page, "backtest-portfolio")
