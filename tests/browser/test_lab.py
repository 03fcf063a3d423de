"""The Lab page in a real browser: a small study started from the form and run by a real rq worker
on the `lab` queue, its progress while it runs, the report (Optuna's figures drawn by the local
plotly.js, the overfitting statistics) and its promotion to an inactive strategy version, without
any CSP violation."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conftest import store_minutes
from lab import storage
from lab.models import Study
from lab.study import run_trials
from trading.config import default_strategy, save_strategy_version, strategy_as_dict

from .conftest import shoot
from .test_pages import plotted_points
from .test_security import watch_console


@pytest.fixture(autouse=True)
def close_optuna_connections():
    """Optuna's engine holds its own connections: closed so the test database can be dropped."""
    yield
    storage.forget_storages()


def test_a_study_runs_from_the_lab_page_and_is_promoted_to_an_inactive_version(page, run_jobs):
    end = timezone.now().replace(second=0, microsecond=0)
    store_minutes("KRW-BTC", 3 * 1440, end=end, seed=3)
    active = save_strategy_version(
        symbols=["KRW-BTC"], params=strategy_as_dict(default_strategy())["regimes"]
    )
    problems = watch_console(page)
    page.goto(page.base + "/lab/")
    shoot(page, "lab-form")
    assert "SIDEWAYS.rsi_14_max=35:70:5" in page.input_value("textarea[name=params]")  # the table's ranges
    today = timezone.localtime(end).date()
    page.fill("input[name=from]", str(today - timedelta(days=2)))
    page.fill("input[name=to]", str(today + timedelta(days=1)))
    page.uncheck("input[name=regimes][value=BULL]")
    page.uncheck("input[name=regimes][value=BEAR]")
    page.select_option("select[name=force_regime]", "SIDEWAYS")  # two days: too short for a regime
    page.fill("textarea[name=params]", "SIDEWAYS.rsi_14_max=45:70:5\nSIDEWAYS.take_profit_pct=2.5:5:0.5")
    page.fill("input[name=trials]", "4")
    page.fill("input[name=min_trades]", "1")
    page.click("#lab-form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#lab-errors").count() == 0, page.inner_text("#lab-errors")
    page.wait_for_url("**/lab/*/")
    assert page.inner_text("#study-status") == "queued" and "0 / 4 trials done" in page.inner_text(
        "#progress-card"
    )

    study = Study.objects.get()
    run_trials(study, max_trials=2)  # half the study: the page's poll shows it
    expect(page.locator("#study-done")).to_have_text("2", timeout=15000)
    assert page.inner_text("#study-status") == "running"
    run_jobs("lab")  # a real rq worker (in this process) runs the rest; the page reloads when it ends
    page.wait_for_selector("#report", timeout=30000)
    page.wait_for_selector("#figure-history .main-svg", timeout=15000)
    assert plotted_points(page, "#figure-history") >= 1
    assert page.inner_text("#study-status") == "done" and "4 / 4 trials done" in page.inner_text(
        "#progress-card"
    )
    luck = page.inner_text("#overfitting")
    assert "PBO" in luck and "n/a: only" in luck and "Deflated Sharpe" in luck  # two days: too few for PBO
    assert "Best trial" in page.inner_text("#best")

    page.click("#promote-form button[type=submit]")
    page.wait_for_selector("#admin-link")
    study.refresh_from_db()
    promoted = study.promoted_config
    assert promoted is not None and not promoted.is_active and promoted.version > active.version
    assert f"Stored as v{promoted.version}, inactive" in page.inner_text("main")
    assert page.get_attribute("#admin-link", "href") == f"/admin/trading/strategyconfig/{promoted.pk}/change/"
    page.wait_for_selector("#figure-history .main-svg")
    assert problems == []  # no CSP violation, no script error
    shoot(page, "lab-report")


def test_a_walk_forward_and_a_look_ahead_check_start_from_the_lab_page(page, run_jobs):
    end = timezone.now().replace(second=0, microsecond=0)
    store_minutes("KRW-BTC", 4 * 1440, end=end, seed=5)
    save_strategy_version(symbols=["KRW-BTC"], params=strategy_as_dict(default_strategy())["regimes"])
    problems = watch_console(page)
    page.goto(page.base + "/lab/")
    today = timezone.localtime(end).date()
    page.fill("input[name=from]", str(today - timedelta(days=3)))  # 3 whole days of stored minutes
    page.fill("input[name=to]", str(today))
    page.uncheck("input[name=regimes][value=BULL]")
    page.uncheck("input[name=regimes][value=BEAR]")
    page.select_option("select[name=force_regime]", "SIDEWAYS")
    page.fill("textarea[name=params]", "SIDEWAYS.rsi_14_max=45:70:5")
    page.fill("input[name=trials]", "2")
    page.fill("input[name=min_trades]", "1")

    page.click("#lookahead-button")  # the same symbols, days and version, checked on the lab queue
    page.wait_for_url("**/lab/checks/*/")
    assert page.inner_text("#check-status") == "queued"
    run_jobs("lab")
    page.wait_for_selector("#check-verdict", timeout=15000)  # the page reloads itself until it ends
    assert "passed" in page.inner_text("#check-verdict")
    table = page.inner_text("#check-KRW-BTC")
    assert (
        "rsi14" in table and "no look-ahead at 50 cut points" in table and "its window gives 1,000" in table
    )
    shoot(page, "lab-check")

    page.go_back()
    page.fill("input[name=walk_forward]", "1")
    page.select_option("select[name=folds_kind]", "anchored")
    page.fill("input[name=ratio]", "2")
    page.click("#lab-form button[type=submit] >> text=Start study")
    page.wait_for_url("**/lab/*/")
    assert page.locator("#lab-errors").count() == 0
    parent = Study.objects.get(parent__isnull=True)
    assert (parent.walk_forward, parent.anchored, parent.ratio, parent.folds.count()) == (1, True, 2.0, 1)
    assert "1 anchored fold, in-sample 2.0 x out-of-sample" in page.inner_text("#walk-forward")
    run_jobs("lab")  # the fold's trials, then its out-of-sample score; the page reloads when it ends
    # The server renders the folds' rows, so "done" there means the page has reloaded itself. A
    # reload of the test's own, sent as the page's starts, aborts one of the two (net::ERR_ABORTED).
    expect(page.locator("#walk-forward tbody tr")).to_contain_text("done", timeout=30000)
    expect(page.locator("#study-status")).to_have_text("done")
    row = page.inner_text("#walk-forward tbody tr")
    assert "done" in row and "not scored yet" not in row
    assert problems == []
