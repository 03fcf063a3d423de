"""Seeded synthetic 1m candles for benchmarks and tests (numpy only, deterministic per seed)."""

import numpy as np
import pandas as pd


def synthetic_frame(bars: int, seed: int = 7, start: str = "2025-01-01", price: float = 50_000_000.0):
    """OHLCV with regime-switching drift, volatility clustering and volume that reacts to moves."""
    rng = np.random.default_rng(seed)
    regime_len = 3 * 24 * 60  # a drift regime lasts about three days
    drift = np.repeat(rng.normal(0, 4e-5, bars // regime_len + 1), regime_len)[:bars]
    vol = 8e-4 * np.exp(np.convolve(rng.normal(0, 0.08, bars), np.ones(60) / 8, mode="same"))
    ret = drift + vol * rng.standard_t(5, bars) / np.sqrt(5 / 3)
    close = price * np.exp(np.cumsum(ret))
    open_ = np.concatenate([[price], close[:-1]])
    wick = np.abs(rng.normal(0, 1, (2, bars))) * vol * close * 0.6
    high = np.maximum(open_, close) + wick[0]
    low = np.minimum(open_, close) - wick[1]
    volume = rng.gamma(2.0, 1.5, bars) * (1 + 400 * np.abs(ret))
    ts = pd.date_range(start, periods=bars, freq="min", tz="UTC")
    return pd.DataFrame(
        {"timestamp": ts, "open": open_, "high": high, "low": low, "close": close, "volume": volume}
    )
