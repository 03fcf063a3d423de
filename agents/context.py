"""The agent's market context: 24 hourly candles resampled from the last 36 hours of 1m bars.

The cycle's own window (about 17 hours of 1m bars) is too short, so the context is loaded here in
one query. Only complete hours are used, so a candle never changes after the agent saw it.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from market.candles import load_frames

CONTEXT_HOURS = 36
HOURLY_CANDLES = 24
OHLCV = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}


@dataclass(frozen=True)
class Context:
    hourly: pd.DataFrame  # up to 24 complete hourly candles, oldest first (UTC index)
    end: datetime  # exclusive end of the 1m window (open of the bar after the latest closed one)

    def drop_pct(self, hours: int) -> float | None:
        """Close-to-close change over the last `hours` hourly candles, percent (None if too few)."""
        closes = self.hourly["close"]
        if len(closes) <= hours:
            return None
        return float((closes.iloc[-1] - closes.iloc[-1 - hours]) / closes.iloc[-1 - hours] * 100)


def load_context(symbol: str, end: datetime) -> Context:
    """1m bars in [end - 36 h, end) of `symbol`, as complete hourly candles."""
    frame = load_frames([symbol], start=end - timedelta(hours=CONTEXT_HOURS), end=end)[symbol]
    return Context(hourly_candles(frame, end), end)


def hourly_candles(frame: pd.DataFrame, end: datetime) -> pd.DataFrame:
    """Resample 1m OHLCV to hourly candles (bar open, UTC); drop empty and unfinished hours."""
    if frame.empty:
        return frame[list(OHLCV)].iloc[:0]
    hourly = frame[list(OHLCV)].resample("1h", label="left", closed="left").agg(OHLCV)
    hourly = hourly.dropna(subset=["close"])
    complete = hourly.index + pd.Timedelta(hours=1) <= pd.Timestamp(end)
    return hourly[complete].iloc[-HOURLY_CANDLES:]


def context_end(candles: pd.DataFrame | None, fallback: datetime) -> datetime:
    """The open of the minute after the cycle's latest bar (the window's exclusive end)."""
    if candles is None or candles.empty:
        return fallback
    return candles.index[-1].to_pydatetime() + timedelta(minutes=1)


def bear_features(ctx: Context) -> dict:
    """Extra numbers the prompts show in a BEAR market (falling-knife evidence)."""
    hourly = ctx.hourly
    if hourly.empty:
        return {}
    last = float(hourly["close"].iloc[-1])
    low = float(hourly["low"].min())
    return {
        "change_6h_pct": _round(ctx.drop_pct(6)),
        "change_24h_pct": _round(ctx.drop_pct(len(hourly) - 1) if len(hourly) > 1 else None),
        "above_24h_low_pct": _round((last - low) / low * 100 if low else None),
        "red_hours_of_last_6": int((hourly["close"] < hourly["open"]).iloc[-6:].sum()),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
