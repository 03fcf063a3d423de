"""The Lab page's look-ahead button: a check of the chosen version on the chosen symbols and days,
refused with every reason at once (nothing stored) or without the permission, run as a job on
the `lab` queue by a real rq worker, and its verdict per column on the check's page; a planted
column that reads later bars fails with the cut that caught it."""

import django_rq
import numpy as np
import pytest

from lab.checks import create_check, run_check
from lab.lookahead import strategy_columns
from lab.models import LookaheadCheck
from trading.config import default_strategy, save_strategy_version, strategy_as_dict

from .helpers import END, START, store_week
from .test_views import form, user

pytestmark = pytest.mark.django_db


@pytest.fixture
def active():
    return save_strategy_version(symbols=["KRW-BTC"], params=strategy_as_dict(default_strategy())["regimes"])


def next_close(bars, params):
    """The strategy's columns and one that reads the next bar (shift(-1))."""
    return {**strategy_columns(bars, params), "next_close": np.append(bars.close[1:], np.nan)}


@pytest.mark.django_db(transaction=True)  # the job is queued when the row is committed
def test_the_button_queues_a_check_that_a_worker_runs_and_the_page_shows_per_column(client, active, run_jobs):
    store_week("KRW-BTC")
    client.force_login(user("trader", may_change=True))
    response = client.post("/lab/lookahead", form())
    check = LookaheadCheck.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/lab/checks/{check.pk}/"
    assert (check.status, check.symbols, check.config_version) == ("queued", ["KRW-BTC"], active.version)
    assert check.created_by.username == "trader"
    assert django_rq.get_queue("lab").count == 1  # the page does not wait for it
    page = client.get(f"/lab/checks/{check.pk}/").content.decode()
    assert 'http-equiv="refresh"' in page and "running on the <code>lab</code> queue" in page

    run_jobs("lab")  # a real rq worker runs the job
    check.refresh_from_db()
    assert (check.status, check.passed, check.error) == ("done", True, "")
    rows = {row["column"]: row for row in check.result["KRW-BTC"]["columns"]}
    assert {"rsi14", "atr14", "regime", "entry", "entry_SIDEWAYS"} <= set(rows)
    rsi = rows["rsi14"]
    assert rsi["passed"] and rsi["lookahead"] == "no look-ahead at 50 cut points" and rsi["cut"] is None
    assert 14 < rsi["history_needed"] < rsi["window"] == 1000 and rsi["warmup_ok"] is True
    assert rsi["warmup"] == f"needs {rsi['history_needed']:,} bars of history; its window gives 1,000"
    assert rows["regime"]["warmup_ok"] is None  # the week is shorter than the regime's 240 hours: said
    page = client.get(f"/lab/checks/{check.pk}/").content.decode()
    assert 'http-equiv="refresh"' not in page
    assert "passed: no column reads a later bar" in page and "<code>rsi14</code>" in page
    assert "warm-up not checked: the data is shorter than its 14,400-bar window" in page
    lab = client.get("/lab/").content.decode()
    assert f'href="/lab/checks/{check.pk}/"' in lab and "passed" in lab


def test_a_column_that_reads_later_bars_fails_with_the_cut_that_caught_it(active):
    store_week("KRW-BTC")
    check = run_check(create_check(["KRW-BTC"], START, END, None), columns=next_close)
    assert (check.status, check.passed) == ("done", False)
    part = check.result["KRW-BTC"]
    assert not part["passed"] and len(part["findings"]) == 1
    assert part["findings"][0].startswith("look-ahead: next_close at 2018-")
    rows = {row["column"]: row for row in part["columns"]}
    leak = rows["next_close"]
    assert not leak["passed"] and not leak["lookahead_ok"] and leak["cut"] is not None
    assert leak["lookahead"].startswith("reads later bars: at 2018-")
    assert (
        "with the data cut at 2018-" in leak["lookahead"]
        and "(changed at 50 of 50 cuts)" in leak["lookahead"]
    )
    assert all(
        row["passed"] for name, row in rows.items() if name != "next_close"
    )  # the strategy stays clean


def test_a_check_that_cannot_run_is_stored_failed_with_the_reason(active):
    store_week("KRW-BTC")
    check = create_check(["KRW-BTC"], START, END, None)

    def broken(bars, params):
        raise RuntimeError("planted failure")

    check = run_check(check, columns=broken)
    assert (check.status, check.passed) == ("failed", None)
    assert check.error == "the check could not run: RuntimeError: planted failure"


def test_checking_needs_the_permission_and_stores_nothing(client, active):
    client.force_login(user("reader", may_change=False))
    response = client.post("/lab/lookahead", form())
    assert response.status_code == 403
    assert "needs the permission to change strategy configs" in response.content.decode()
    assert not LookaheadCheck.objects.exists() and django_rq.get_queue("lab").count == 0


def test_every_refusal_shows_at_once_and_nothing_is_stored(client, active):
    store_week("KRW-BTC")
    client.force_login(user("trader", may_change=True))
    response = client.post(
        "/lab/lookahead",
        form(symbols="BTC, KRW-ETH, KRW-A1, KRW-B1, KRW-C1, KRW-D1, KRW-BTC", config="99", trials="many"),
    )
    page = response.content.decode()
    assert response.status_code == 400
    for words in (
        "BTC is not a market name",
        "no candles stored for KRW-ETH between 2018-01-26 and 2018-02-01",
        "7 symbols: check at most 5 at a time",
        "strategy config version 99 does not exist",
    ):
        assert words in page, words
    assert "number of trials" not in page  # the study's own fields are not the check's business
    response = client.post(
        "/lab/lookahead", form(**{"from": "2018-02-01", "to": "2018-01-26", "config": "x"})
    )
    page = response.content.decode()
    assert "the end date must be after the start date" in page
    assert "strategy version &#x27;x&#x27; is not a version number" in page
    page = client.post("/lab/lookahead", form(**{"from": "someday"})).content.decode()
    assert "&#x27;from&#x27; must be a date" in page
    assert not LookaheadCheck.objects.exists() and django_rq.get_queue("lab").count == 0
