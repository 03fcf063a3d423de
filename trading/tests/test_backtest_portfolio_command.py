"""manage.py backtest --symbols: a portfolio from one account, its report, every refusal, and the
stored volatility history halving entries in a db-source run."""

import re
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from conftest import TEST_DATA
from market.models import Candle, VolatilityFit
from trading.config import default_strategy, save_strategy_version, strategy_as_dict

pytestmark = pytest.mark.django_db

CSV_FILE = TEST_DATA / "upbit_krw_btc_1m_20180125.csv"
SIM = ["--source", "sim", "--from", "2026-02-01", "--to", "2026-02-04"]
TWENTY_ONE = ",".join(f"KRW-C{i}" for i in range(21))
BUY = re.compile(r"buy ([\d,]+) x ([\d.]+)")


def backtest(*args: str) -> str:
    out = StringIO()
    call_command("backtest", *args, stdout=out)
    return out.getvalue()


def with_scale_outs() -> None:
    """A new active strategy version that sells half of every position at +0.5 %."""
    data = strategy_as_dict(default_strategy())
    for block in data["regimes"].values():
        block["partial_tp_1_pct"] = 0.5
    save_strategy_version(symbols=data["symbols"], params=data["regimes"], note="scale out at +0.5 %")


def store_csv(*symbols: str, rows: int | None = None) -> None:
    """The real week of KRW-BTC minutes (tests/data), or its first `rows`, under each of `symbols`."""
    df = pd.read_csv(CSV_FILE).head(rows)
    dec = lambda x: Decimal(str(x))  # noqa: E731
    Candle.objects.bulk_create(
        Candle(
            symbol=symbol, timestamp=pd.Timestamp(r.timestamp).to_pydatetime(), open=dec(r.open),
            high=dec(r.high), low=dec(r.low), close=dec(r.close), volume=dec(r.volume),
        )
        for symbol in symbols
        for r in df.itertuples()
    )  # fmt: skip


def test_a_portfolio_on_simulated_candles_prints_the_account_and_each_symbol_and_writes_html(tmp_path):
    report = tmp_path / "portfolio.html"
    text = backtest("--symbols", "KRW-BTC, KRW-ETH,krw-xrp", *SIM, "--html", str(report))
    head = text.splitlines()[0]
    assert head.startswith("Portfolio backtest of 3 markets from one account (KRW-BTC, KRW-ETH, KRW-XRP)")
    assert "4,320 bars" in head  # three KST days of minutes, every symbol's merged
    for label in ("total return", "win rate", "profit factor", "max drawdown", "Sharpe", "exposure",
                  "capital in use", "risk refusals", "per symbol", "regimes:", "by exit reason:",
                  "by regime at entry:", "trades (KST):"):  # fmt: skip
        assert label in text, label
    table = text.split("per symbol")[1].split("regimes:")[0].splitlines()
    rows = {line.split()[0]: line.split() for line in table if line.strip().startswith("KRW-")}
    assert list(rows) == ["KRW-BTC", "KRW-ETH", "KRW-XRP"]  # in the order given: the visiting order
    trade_lines = [line for line in text.split("trades (KST):")[1].splitlines() if BUY.search(line)]
    assert sum(int(r[1]) + int(r[2]) for r in rows.values()) == len(trade_lines) > 10  # closed + open
    assert {line.split()[0] for line in trade_lines} == set(rows)  # every trade names its symbol
    assert "DAILY_TRADE_LIMIT" in text  # one account: the day's entries are shared
    html = report.read_text()
    assert "Plotly.newPlot" in html and '<script src="https://cdn' not in html  # offline, no CDN
    for name in ("equity (KRW)", "drawdown %", "exposure % of equity", "KRW-XRP close", "KRW-ETH entry"):
        assert name in html, name
    assert "per symbol" in html  # the text report under the charts


def test_scale_outs_are_listed_and_marked_in_both_reports(tmp_path):
    with_scale_outs()
    text = backtest("--symbols", "KRW-BTC,KRW-XRP", *SIM, "--html", str(tmp_path / "p.html"))
    assert re.search(r"scale-out \d{4}-\d\d-\d\d \d\d:\d\d  sell [\d,]+ x [\d.]+  pnl", text)
    sales = int(re.search(r"PARTIAL_TAKE_PROFIT\s+(\d+) sales", text)[1])
    assert re.search(rf", {sales} scale-outs\)", text)  # the win-rate line counts them too
    table = text.split("per symbol")[1].split("regimes:")[0]
    rows = [line.split() for line in table.splitlines() if line.strip().startswith("KRW-")]
    assert sum(int(row[7]) for row in rows) == sales  # the per-symbol table's scale-outs column
    assert "KRW-BTC scale-out" in (tmp_path / "p.html").read_text()  # its own marker per symbol

    single = backtest("--symbol", "KRW-BTC", *SIM, "--html", str(tmp_path / "s.html"))
    assert "PARTIAL_TAKE_PROFIT" in single.split("by exit reason:")[1].split("by regime")[0]
    trades = single.split("trades (KST):")[1].splitlines()
    first = next(i for i, line in enumerate(trades) if "scale-out" in line)
    assert BUY.search(trades[first - 1]) and " sell " in trades[first - 1]  # under its trade
    assert '"name":"scale-out"' in (tmp_path / "s.html").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--symbols", "KRW-BTC,BTC,usdt-eth", *SIM], "BTC is not a market name: write it as KRW-BTC"),
        (["--symbols", "KRW-BTC,BTC,usdt-eth", *SIM], "USDT-ETH is a USDT market, not a KRW market"),
        (["--symbols", "KRW-BTC,KRW-ETH,krw-btc", *SIM], "KRW-BTC is listed twice"),
        (["--symbols", TWENTY_ONE, *SIM], "at most 20 markets per portfolio run, not 21"),
        (["--symbols", " , ", *SIM], "name the markets of the portfolio"),
        (["--symbols", "KRW-BTC,KRW-ETH", "--source", f"csv:{CSV_FILE}"], "csv:PATH holds the candles"),
        (["--symbol", "KRW-BTC", "--symbols", "KRW-BTC,KRW-ETH", *SIM], "either --symbol (one market) or"),
        (SIM, "name what to backtest: --symbol KRW-BTC, or --symbols"),
        (["--symbols", "KRW-BTC,KRW-ETH", "--source", "ftp:x"], "unknown --source 'ftp:x'"),
    ],
)
def test_unclear_or_bad_portfolio_requests_are_refused_in_plain_words(args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        backtest(*args)


def test_each_symbol_without_candles_in_the_range_is_named():
    store_csv("KRW-BTC")
    store_csv("KRW-OLD", rows=1000)  # ends on 2018-01-26 08:22 KST: only the warm-up of the run
    with pytest.raises(CommandError) as refused:
        backtest("--symbols", "KRW-BTC,KRW-OLD,KRW-NONE", "--from", "2018-01-27", "--to", "2018-02-01")
    assert str(refused.value) == "no candles for KRW-OLD, KRW-NONE in that range (db)"


def first_quantity(text: str) -> tuple[str, Decimal]:
    """The first trade's entry time and quantity in a report's trade list."""
    line = next(line for line in text.split("trades (KST):")[1].splitlines() if BUY.search(line))
    return re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", line)[0], Decimal(BUY.search(line)[2])


@pytest.mark.parametrize("markets", [["--symbol", "KRW-BTC"], ["--symbols", "KRW-BTC,KRW-ETH"]])
def test_stored_high_volatility_halves_the_entries_of_a_db_backtest(markets):
    store_csv("KRW-BTC", "KRW-ETH")
    run = [*markets, "--from", "2018-01-26", "--to", "2018-02-01", "--regime", "SIDEWAYS"]
    normal = backtest(*run)
    assert "volatility     " not in normal  # no stored fit: nothing to report
    when, quantity = first_quantity(normal)

    def fit(at: datetime, high: bool) -> None:
        VolatilityFit.objects.create(
            symbol="KRW-BTC", fitted_at=at, current_volatility=0.002 if high else 0.001,
            long_run_volatility=0.001, is_high_volatility=high, alpha=0.1, beta=0.8,
        )  # fmt: skip

    fit(datetime(2018, 1, 20, tzinfo=UTC), high=True)  # before the run: the state at its start
    halved = backtest(*run)
    when_halved, quantity_halved = first_quantity(halved)
    assert when_halved == when
    assert quantity_halved / quantity == pytest.approx(Decimal("0.5"), abs=Decimal("0.0001"))
    entries = len([line for line in halved.split("trades (KST):")[1].splitlines() if BUY.search(line)])
    assert f"volatility     {entries} of {entries} entries halved" in halved

    fit(datetime(2018, 1, 22, tzinfo=UTC), high=False)  # a newer normal fit ends the halving
    assert first_quantity(backtest(*run)) == (when, quantity)
