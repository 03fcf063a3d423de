"""manage.py lookahead_check: prints what it checked, exits non-zero on any finding."""

from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from conftest import TEST_DATA
from lab import lookahead
from lab.management.commands import lookahead_check

CSV = f"csv:{TEST_DATA / 'upbit_krw_btc_1m_20180125.csv'}"


def run(*args: str) -> str:
    out = StringIO()
    call_command("lookahead_check", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_the_active_strategy_passes_on_the_real_minutes():
    text = run("--source", CSV)
    assert "on KRW-BTC: 9,999 bars, 2018-01-25 15:42 to 2018-02-01 14:20 KST" in text
    assert "rsi14" in text and "bars of history" in text
    assert text.rstrip().endswith("passed: no column reads a later bar, and every window covers its history")


@pytest.mark.django_db
def test_a_finding_is_printed_and_the_command_fails(monkeypatch):
    def leaky(bars, params):
        return {**lookahead.strategy_columns(bars, params), "next_close": np.append(bars.close[1:], np.nan)}

    monkeypatch.setattr(
        lookahead_check,
        "check_strategy",
        lambda bars, params: lookahead.check_strategy(bars, params, columns=leaky),
    )
    out = StringIO()
    with pytest.raises(CommandError, match=r"1 problem\(s\) found"):
        call_command("lookahead_check", "--source", CSV, stdout=out)
    assert "PROBLEM look-ahead: next_close at 2018-" in out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--config-version", "99"], "strategy config version 99 does not exist"),
        (["--source", "ftp"], "unknown --source 'ftp'"),
        (["--source", "csv:/nonexistent.csv"], "cannot read candles from /nonexistent.csv"),
        (["--days", "0"], "days"),
        ([], "only 0 candles of KRW-BTC \\(db\\)"),
    ],
)
def test_bad_input_is_refused_in_plain_words(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
