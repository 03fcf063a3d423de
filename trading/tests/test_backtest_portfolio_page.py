"""The Backtest page's portfolio mode: the form, every refusal at once, a run through a worker,
the report with its per-symbol table and its own script (no inline script, as the CSP wants)."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from conftest import store_minutes
from trading import backtest_runs
from trading.config import default_strategy, save_strategy_version, strategy_as_dict

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    client.force_login(get_user_model().objects.create_user("op", password="pw-123456789"))


def page_text(response) -> str:
    return response.content.decode().replace("&#x27;", "'")


def test_the_form_offers_the_strategys_symbols_as_the_portfolio(client, operator):
    data = strategy_as_dict(default_strategy())
    save_strategy_version(symbols=["KRW-ETH", "KRW-BTC"], params=data["regimes"])
    html = page_text(client.get("/backtest/"))
    assert 'name="mode" value="portfolio"' in html
    assert 'name="symbols" value="KRW-ETH, KRW-BTC"' in html  # the strategy's order: the bot's


def test_every_problem_of_a_portfolio_request_is_shown_at_once(client, operator, redis_conn):
    response = client.post(
        "/backtest/",
        {"mode": "portfolio", "symbols": "BTC, KRW-ETH, krw-eth, USDT-SOL", "from": "soon",
         "to": "2030-01-02", "config": "99"},
    )  # fmt: skip
    assert response.status_code == 400
    html = page_text(response)
    for message in (
        "BTC is not a market name: write it as KRW-BTC",
        "USDT-SOL is a USDT market, not a KRW market",
        "KRW-ETH is listed twice: name each market once",
        "'from' must be a date (YYYY-MM-DD)",
        "version 99 does not exist",
    ):
        assert message in html, message
    assert 'value="BTC, KRW-ETH, krw-eth, USDT-SOL"' in html  # kept for the correction
    assert 'value="portfolio" id="mode-portfolio" checked' in html
    assert redis_conn.llen("backtest:runs") == 0  # nothing queued


@pytest.mark.parametrize(
    ("symbols", "message"),
    [
        (", ".join(f"KRW-C{i}" for i in range(21)), "at most 20 markets per portfolio run, not 21"),
        ("  ", "name the markets of the portfolio, e.g. KRW-BTC, KRW-ETH"),
    ],
)
def test_a_portfolio_needs_one_to_twenty_markets(client, operator, symbols, message):
    form = {"mode": "portfolio", "symbols": symbols, "from": "2030-01-01", "to": "2030-01-02"}
    response = client.post("/backtest/", form)
    assert response.status_code == 400 and message in page_text(response)


def test_a_portfolio_run_goes_through_a_worker_and_shows_the_account_and_each_symbol(
    client, operator, run_jobs
):
    end = timezone.now().replace(second=0, microsecond=0)
    for seed, symbol in enumerate(("KRW-BTC", "KRW-ETH")):
        store_minutes(symbol, 9 * 1440, end=end, seed=seed + 3)  # > 200 hours: a regime, so trades
    today = timezone.localtime(end).date()
    # from two KST days back: more than a day of bars even in the first minute after KST midnight
    form = {"mode": "portfolio", "symbols": "krw-eth, KRW-BTC", "from": str(today - timedelta(days=2)),
            "to": str(today + timedelta(days=1))}  # fmt: skip
    response = client.post("/backtest/", form)
    assert response.status_code == 302
    run_id = response["Location"].rstrip("/").split("/")[-1]
    queued = client.get(f"/backtest/{run_id}.json").json()
    assert queued["status"] == "queued" and queued["mode"] == "portfolio"

    run_jobs("default")

    body = client.get(f"/backtest/{run_id}.json").json()
    assert body["status"] == "finished" and body["pct"] == 100
    report = body["report"]
    assert report["mode"] == "portfolio" and report["symbols"] == ["KRW-ETH", "KRW-BTC"]
    assert [row["symbol"] for row in report["per_symbol"]] == ["KRW-ETH", "KRW-BTC"]
    assert len(report["t"]) == len(report["equity"]) == len(report["drawdown"]) == len(report["exposure"])
    assert 1440 < len(report["t"]) <= 4000  # thinned for the browser
    assert report["trades"] and {t["symbol"] for t in report["trades"]} <= {"KRW-ETH", "KRW-BTC"}
    assert sum(row["trades"] + row["open_trades"] for row in report["per_symbol"]) == len(report["trades"])
    assert 0 < report["stats"]["peak_exposure_pct"] <= 100
    assert "per symbol" in report["text"] and report["stats"]["bars"] > 1440

    page = page_text(client.get(f"/backtest/{run_id}/"))
    assert 'id="per-symbol"' in page and "js/backtest.js" in page
    assert "<script>" not in page  # no inline script: the CSP allows our static files only
    assert "portfolio backtest KRW-ETH, KRW-BTC" in page_text(client.get("/backtest/"))  # recent runs


def test_a_portfolio_run_names_the_symbol_without_candles(client, operator, run_jobs):
    end = timezone.now().replace(second=0, microsecond=0)
    store_minutes("KRW-BTC", 1440, end=end)
    today = timezone.localtime(end).date()
    req, errors = backtest_runs.parse_form(
        {"mode": "portfolio", "symbols": "KRW-BTC, KRW-NONE", "from": str(today - timedelta(days=1)),
         "to": str(today + timedelta(days=1))}
    )  # fmt: skip
    assert errors == [] and req.symbols == ("KRW-BTC", "KRW-NONE")
    run_id = backtest_runs.start_run(req)
    run_jobs("default")
    error = client.get(f"/backtest/{run_id}.json").json()["error"]
    assert "no candles stored for KRW-NONE from" in error and "KRW-BTC" not in error


def test_the_single_symbol_run_keeps_its_page(client, operator, run_jobs):
    req, _ = backtest_runs.parse_form({"symbol": "krw-btc", "from": "2030-01-01", "to": "2030-01-03"})
    assert req.symbol == "KRW-BTC" and not req.portfolio
    run_id = backtest_runs.start_run(req)
    assert client.get(f"/backtest/{run_id}.json").json()["mode"] == "single"
    page = page_text(client.get(f"/backtest/{run_id}/"))
    assert "js/backtest.js" in page and 'id="per-symbol"' not in page
