"""Technical indicators over 1-minute bars, vectorised (no Python loop per bar).

Every function takes float64 arrays with time on axis 0 (1-D for one symbol, 2-D bars x symbols
for a batch) and returns arrays of the same shape, NaN during the warm-up. Conventions follow
TA-Lib, which the tests use as the oracle (to 1e-9 relative, same NaN positions):

- RSI and ATR use Wilder smoothing: seeded with the plain mean of the first n values, then
  avg = (prev * (n - 1) + x) / n. That recursion is a first-order IIR filter, so it runs in C
  through `scipy.signal.lfilter` instead of a Python loop.
- Bollinger Bands use the population standard deviation (ddof=0) around SMA(20).
- Bars are used as stored: gaps are not filled, the same way live and in the backtest.
"""

import numpy as np

RSI_LONG = 14
RSI_SHORT = 7
MA_PERIOD = 20
BB_PERIOD = 20
BB_STDDEV = 2.0
VOLUME_PERIOD = 20
ATR_PERIOD = 14


# Rolling windows are computed from n shifted slices (a loop over the window length, never over
# bars) instead of running sums: every window is reduced in the same fixed order from its own
# values, so its result is bit-for-bit the same whatever history precedes it. The live window and
# the backtest's full series therefore agree exactly, not just to rounding.
#
# A long series is reduced in blocks of rows (`_blocks`): the n passes over a block stay in the CPU
# cache instead of streaming the whole series from memory n times (a year of minutes, 4 MB per
# array, took 2-3x longer). Each value is still computed by the same operations in the same order.
BLOCK_VALUES = 16_384  # values per block (128 KiB of float64)


def _shifted(x: np.ndarray, n: int):
    """(output array, number of full windows, float input) for a rolling computation."""
    a = np.asarray(x, dtype=np.float64)
    return np.full(a.shape, np.nan), max(len(a) - n + 1, 0), a


def _blocks(m: int, a: np.ndarray):
    """(start, end) of the blocks of rows the m full windows of `a` are computed in."""
    rows = max(1, BLOCK_VALUES // max(1, a[:1].size))
    return ((s, min(m, s + rows)) for s in range(0, m, rows))


def sma(x: np.ndarray, n: int) -> np.ndarray:
    """Simple moving average over the last n bars."""
    out, m, a = _shifted(x, n)
    for s, e in _blocks(m, a):
        total = a[s:e].copy()
        for k in range(1, n):
            total += a[s + k : e + k]
        np.divide(total, n, out=out[n - 1 + s : n - 1 + e])
    return out


def rolling_std(x: np.ndarray, n: int, mean: np.ndarray | None = None) -> np.ndarray:
    """Population standard deviation (ddof=0) over the last n bars (two-pass: no cancellation)."""
    out, m, a = _shifted(x, n)
    means = (sma(a, n) if mean is None else mean)[n - 1 :]
    for s, e in _blocks(m, a):
        mu = means[s:e]
        total, dev = np.zeros_like(mu), np.empty_like(mu)
        for k in range(n):  # in place: no temporary array per step
            np.subtract(a[s + k : e + k], mu, out=dev)
            dev *= dev
            total += dev
        total /= n
        np.sqrt(total, out=out[n - 1 + s : n - 1 + e])
    return out


def rolling_min(x: np.ndarray, n: int) -> np.ndarray:
    """Minimum over the last n bars including the current one; NaN while any is NaN."""
    out, m, a = _shifted(x, n)
    for s, e in _blocks(m, a):
        low = a[s:e].copy()
        for k in range(1, n):
            np.minimum(low, a[s + k : e + k], out=low)
        out[n - 1 + s : n - 1 + e] = low
    return out


def wilder(values: np.ndarray, n: int, first: int) -> np.ndarray:
    """Wilder's smoothing of `values[first:]`: mean of the first n, then (prev*(n-1)+x)/n."""
    x = np.asarray(values, dtype=np.float64)
    out = np.full(x.shape, np.nan)
    seed_end = first + n  # exclusive; the first smoothed value sits at index seed_end - 1
    if len(x) < seed_end:
        return out
    # The seed is summed row by row in a fixed order: `mean(axis=0)` sums a 1-D series pairwise
    # but a 2-D batch row by row, so one symbol's ATR would differ in the last bit between the two.
    total = x[first].copy()
    for k in range(first + 1, seed_end):
        total += x[k]
    seed = total / n
    out[seed_end - 1] = seed
    rest = x[seed_end:]
    if len(rest):
        # imported here: scipy.signal takes seconds to import, and most processes never smooth
        # (RQ workers import it as they start: RQ_WORKER_PRELOAD)
        from scipy.signal import lfilter

        alpha = (n - 1) / n
        zi = np.expand_dims(alpha * seed, 0)  # state so that y[0] = alpha*seed + x[0]/n
        out[seed_end:] = lfilter([1.0 / n], [1.0, -alpha], rest, axis=0, zi=zi)[0]
    return out


def price_moves(close: np.ndarray) -> np.ndarray:
    """Each bar's gain and loss against the previous close, stacked on a last axis of 2 (index 0
    is a dummy 0, skipped by the RSI): computed once for RSIs of several lengths."""
    c = np.asarray(close, dtype=np.float64)
    change = np.diff(c, axis=0, prepend=c[:1])
    return np.stack([np.maximum(change, 0.0), np.maximum(-change, 0.0)], axis=-1)


def rsi(close: np.ndarray, n: int = RSI_LONG, moves: np.ndarray | None = None) -> np.ndarray:
    """Wilder RSI (TA-Lib `RSI`): the first value is at index n. `moves`: `price_moves(close)`,
    when already at hand."""
    moves = price_moves(close) if moves is None else moves
    smoothed = wilder(moves, n, first=1)  # gains and losses in one filter pass
    avg_gain, avg_loss = smoothed[..., 0], smoothed[..., 1]
    total = avg_gain + avg_loss
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(total > 0, 100.0 * avg_gain / total, 0.0)
    out[np.isnan(total)] = np.nan
    return out


def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """TA-Lib TRANGE: NaN at index 0, then max(high, prev close) - min(low, prev close)."""
    h, lo, c = (np.asarray(a, dtype=np.float64) for a in (high, low, close))
    prev = np.roll(c, 1, axis=0)
    tr = np.maximum(h, prev) - np.minimum(lo, prev)
    tr[0] = np.nan
    return tr


def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int = ATR_PERIOD) -> np.ndarray:
    """Average true range, Wilder-smoothed (TA-Lib `ATR`): the first value is at index n."""
    return wilder(true_range(high, low, close), n, first=1)


def bollinger(
    close: np.ndarray, n: int = BB_PERIOD, k: float = BB_STDDEV
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bollinger Bands (upper, middle, lower) with the population standard deviation."""
    middle = sma(close, n)
    width = k * rolling_std(close, n, mean=middle)
    return middle + width, middle, middle - width


def volume_ratio(volume: np.ndarray, n: int = VOLUME_PERIOD) -> np.ndarray:
    """Volume / SMA(volume, n), the current bar included; NaN when the average is zero."""
    avg = sma(volume, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(avg > 0, np.asarray(volume, dtype=np.float64) / avg, np.nan)


def recent_vol_ratios(ratios: np.ndarray, count: int = 5) -> list[float]:
    """The last `count` volume ratios of one symbol, oldest first (built-in floats, for JSON)."""
    return [float(v) for v in np.asarray(ratios)[-count:]]


def rolling_any(flags: np.ndarray, n: int) -> np.ndarray:
    """True where any of the last n flags (current bar included) is true; exact integer counts."""
    f = np.asarray(flags, dtype=np.int64)
    count = np.cumsum(f, axis=0)
    window = count.copy()
    window[n:] -= count[:-n]
    return window > 0


def bb_touch_recovery(low: np.ndarray, close: np.ndarray, lower: np.ndarray, lookback: int) -> np.ndarray:
    """Low touched or broke the lower band within the last `lookback` bars; close is back above it."""
    with np.errstate(invalid="ignore"):
        touched = rolling_any(np.asarray(low) <= lower, lookback)
        return touched & (np.asarray(close) > lower)


def rsi_short_min_lookback(rsi_short: np.ndarray, lookback: int) -> np.ndarray:
    """Minimum RSI(7) over the last `lookback` bars, the current bar included."""
    return rolling_min(rsi_short, lookback)
