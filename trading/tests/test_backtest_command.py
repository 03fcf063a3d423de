"""manage.py backtest on CSV, simulated and stored candles; the HTML report is self-contained."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from conftest import TEST_DATA
from market.models import Candle

CSV = f"csv:{TEST_DATA / 'upbit_krw_btc_1m_20180125.csv'}"


def backtest(*args: str) -> str:
    out = StringIO()
    call_command("backtest", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_real_csv_is_too_short_for_a_regime_so_nothing_is_traded():
    text = backtest("--symbol", "KRW-BTC", "--source", CSV)
    assert "9,999 bars" in text and "UNKNOWN 100%" in text and "fewer than 200 hourly candles" in text
    assert "total return   0.00%" in text and "win rate       n/a" in text


@pytest.mark.django_db
def test_csv_with_a_forced_regime_prints_the_full_report_and_writes_html(tmp_path):
    report = tmp_path / "report.html"
    text = backtest("--symbol", "KRW-BTC", "--source", CSV, "--regime", "SIDEWAYS", "--html", str(report))
    for label in ("total return", "CAGR", "win rate", "profit factor", "max drawdown", "Sharpe",
                  "Sortino", "Calmar", "exposure", "average hold", "by exit reason:", "by regime at entry:",
                  "trades (KST):", "strategy v1, risk v1"):  # fmt: skip
        assert label in text
    assert "STOP_LOSS" in text and "SIDEWAYS" in text
    html = report.read_text()
    assert "Plotly.newPlot" in html and '<script src="https://cdn' not in html  # offline, no CDN
    assert "equity (KRW)" in html and "drawdown %" in html and "entry" in html


@pytest.mark.django_db
def test_stored_candles_with_a_from_to_range():
    df = pd.read_csv(TEST_DATA / "upbit_krw_btc_1m_20180125.csv").head(3000)
    dec = lambda x: Decimal(str(x))  # noqa: E731
    Candle.objects.bulk_create(
        Candle(
            symbol="KRW-BTC", timestamp=pd.Timestamp(r.timestamp).to_pydatetime(), open=dec(r.open),
            high=dec(r.high), low=dec(r.low), close=dec(r.close), volume=dec(r.volume),
        )
        for r in df.itertuples()
    )  # fmt: skip
    text = backtest(
        "--symbol", "KRW-BTC", "--from", "2018-01-26T09:00", "--to", "2018-01-27", "--regime", "BEAR"
    )
    assert "2018-01-26 09:00 .. 2018-01-26 23:59 KST" in text and "900 bars" in text


@pytest.mark.django_db
def test_simulated_candles_have_a_known_regime_after_the_warm_up():
    text = backtest("--symbol", "KRW-BTC", "--source", "sim", "--from", "2026-02-01", "--to", "2026-02-02")
    assert "1,4" in text.splitlines()[0]  # about 1,440 bars of one KST day
    assert "UNKNOWN" not in text.splitlines()[1]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "ftp:x"], "unknown --source"),
        (["--from", "yesterday"], "not a date"),
        (["--config", "42"], "version 42 does not exist"),
        (["--from", "2020-01-01", "--to", "2020-01-02"], "no candles for KRW-BTC"),
    ],
)
def test_bad_input_is_a_clear_command_error(args, message):
    with pytest.raises(CommandError, match=message):
        backtest("--symbol", "KRW-BTC", *args)


@pytest.mark.django_db
def test_a_chosen_config_version_is_reported():
    from trading.config import load_defaults, save_strategy_version

    data = load_defaults()
    save_strategy_version(symbols=data["symbols"], params=data["regimes"], note="same values")
    text = backtest("--symbol", "KRW-BTC", "--source", CSV, "--config", "1")
    assert "strategy v1," in text
    assert "strategy v2," in backtest("--symbol", "KRW-BTC", "--source", CSV)


def test_date_without_offset_is_kst():
    from trading.management.commands.backtest import KST_MOMENT

    assert KST_MOMENT("2026-01-31") == datetime(2026, 1, 30, 15, tzinfo=UTC)
    assert KST_MOMENT("2026-01-31T00:00+00:00") - KST_MOMENT("2026-01-31") == timedelta(hours=9)
