"""The real KRW-BTC week (tests/data) stored as candles, and a small study request over it."""

from datetime import datetime
from decimal import Decimal

from conftest import store_real_week
from lab.inputs import StudyRequest
from trading.risk import KST

START = datetime(2018, 1, 26, tzinfo=KST)  # the warm-up before it: the day the file starts
END = datetime(2018, 2, 1, 14, tzinfo=KST)
SIDEWAYS_SPACE = {
    "SIDEWAYS.rsi_14_max": {"low": 35, "high": 70, "step": 5},
    "SIDEWAYS.take_profit_pct": {"low": 1.0, "high": 4.0, "step": 0.5},
    "SIDEWAYS.stop_loss_pct": {"low": 0.5, "high": 1.0, "step": 0.25},
}


def store_week(*symbols: str) -> None:
    """The real week of KRW-BTC minutes under each of `symbols`."""
    store_real_week(*symbols)


def request(**changes) -> StudyRequest:
    """Six trials on the stored week, every bar SIDEWAYS (the week is too short for a regime)."""
    values = dict(
        symbols=["KRW-BTC"], start=START, end=END, regimes=["SIDEWAYS"], space=dict(SIDEWAYS_SPACE),
        objectives=["sharpe"], n_trials=6, seed=7, force_regime="SIDEWAYS", min_trades=3,
    )  # fmt: skip
    return StudyRequest(**(values | changes))


def store_synthetic(symbol: str, days: int, seed: int) -> None:
    """`days` of seeded synthetic minutes (bench/synthetic.py) from 2025-01-01 UTC, as stored candles."""
    from bench.synthetic import synthetic_frame
    from market.candles import CandleRow, store_candles

    frame = synthetic_frame(days * 1440, seed=seed)
    dec = lambda x: Decimal(repr(round(float(x), 2)))  # noqa: E731
    rows = [
        CandleRow(symbol, "1m", r.timestamp.to_pydatetime(), dec(r.open), dec(r.high), dec(r.low),
                  dec(r.close), Decimal(repr(round(float(r.volume), 8))), None)
        for r in frame.itertuples()
    ]  # fmt: skip
    store_candles(rows)
