"""Where the live bot cycle reads its inputs: stored candles, the regime cache, volatility state."""

from datetime import datetime, timedelta
from decimal import Decimal

import pandas as pd

from market.candles import load_frames
from market.regime import current_regime
from market.volatility import read_state

from .cycle import Market, Quote
from .strategy import LIVE_WINDOW_BARS

# Bound the scan: the window is LIVE_WINDOW_BARS bars, and minutes without trades have no bar.
SCAN_MINUTES = 3 * LIVE_WINDOW_BARS


def live_candles(symbols: list[str], now: datetime) -> dict[str, pd.DataFrame]:
    """The newest closed bars of every symbol, in one query."""
    return load_frames(symbols, start=now - timedelta(minutes=SCAN_MINUTES), end=now, last=LIVE_WINDOW_BARS)


def latest_close(symbol: str, now: datetime, frame: pd.DataFrame) -> Quote:
    """A market order placed now fills around the latest close, now."""
    return Quote(Decimal(str(frame["close"].iloc[-1])), now)


def volatility_is_high() -> bool:
    return bool((read_state() or {}).get("is_high_volatility"))


def live_market() -> Market:
    return Market(
        candles=live_candles,
        regime=lambda symbol, now: current_regime(symbol),
        quote=latest_close,
        high_volatility=volatility_is_high,
    )
