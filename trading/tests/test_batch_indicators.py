"""The live cycle computes every symbol's entry indicators in one 2-D batch. Each symbol must get
bit for bit what its own 1-D computation gives (NaN positions included) and so the same decision,
or the live cycle would no longer trade like the backtester (test_parity)."""

from datetime import timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from agents import gate
from bench.synthetic import synthetic_frame
from conftest import TEST_DATA
from market.regime import REGIMES
from trading import cycle
from trading import strategy as st
from trading.config import default_strategy, save_strategy_version, strategy_as_dict
from trading.executors.paper import PaperExecutor

CSV = TEST_DATA / "upbit_krw_btc_1m_20180125.csv"
WINDOW = st.LIVE_WINDOW_BARS


@pytest.fixture(scope="module")
def real() -> st.Bars:
    return st.bars_from_frame(pd.read_csv(CSV))


@pytest.fixture(scope="module")
def params():
    return default_strategy()


def cut(bars: st.Bars, end: int, length: int = WINDOW) -> st.Bars:
    return st.Bars(*(getattr(bars, name)[max(0, end - length) : end] for name in st.BAR_FIELDS))


def passing_ends(bars: st.Bars, params, count: int = 8) -> list[int]:
    """Window ends (exclusive) whose last bar passes every entry check in some regime, as the
    backtester's full-series evaluation finds them: the batch must also get the buys right."""
    values = st.compute_indicators(bars, params)
    ends = []
    for regime in REGIMES:
        codes = st.evaluate_entries(values, st.regime_codes(str(regime), len(bars)), params)
        ends += [int(i) + 1 for i in np.flatnonzero(codes == st.PASS_CODE)[:count] if i >= WINDOW]
    return ends


def real_windows(real: st.Bars, params) -> list[st.Bars]:
    """Live windows ending all over the real data, the bars where entries pass, and shorter
    windows (a new listing) of every warm-up length that matters."""
    ends = [*range(WINDOW, len(real) + 1, 157), *passing_ends(real, params)]
    short = [cut(real, n, n) for n in (1, 2, 7, 8, 14, 15, 19, 20, 21, 35, 999)]
    return [cut(real, end) for end in ends] + short


def synthetic_windows() -> list[st.Bars]:
    """Seeded synthetic windows, plus ones with a flat price (RSI's 0/0) and zero volume (a NaN
    volume ratio in the middle of the window) and prices of very different sizes."""
    windows = [st.bars_from_frame(synthetic_frame(WINDOW, seed=seed)) for seed in range(40)]
    flat = synthetic_frame(WINDOW, seed=41)
    flat.loc[300:399, ["open", "high", "low", "close"]] = 1234.5
    flat.loc[500:529, "volume"] = 0.0
    tiny = st.bars_from_frame(synthetic_frame(WINDOW, seed=42, price=0.000123))
    return [*windows, st.bars_from_frame(flat), tiny]


def assert_identical(batch: np.ndarray, alone: np.ndarray, what: str) -> None:
    """Same dtype, shape, NaN positions and bits (==, not approx)."""
    assert batch.dtype == alone.dtype and batch.shape == alone.shape, what
    if batch.dtype.kind != "f":
        assert np.array_equal(batch, alone), what
        return
    nan = np.isnan(alone)
    assert np.array_equal(np.isnan(batch), nan), what
    assert np.array_equal(batch[~nan].view(np.int64), alone[~nan].view(np.int64)), what


def assert_batch_equals_alone(windows: list[st.Bars], params) -> list[dict]:
    batch = st.window_indicators(windows, params)
    assert len(batch) == len(windows)
    for j, window in enumerate(windows):
        alone = st.compute_indicators(window.tail(WINDOW), params)
        assert list(batch[j]) == list(alone)
        for key, values in alone.items():
            assert_identical(batch[j][key], values, f"window {j} ({len(window)} bars), {key}")
    return batch


def test_the_batch_equals_each_symbols_own_computation_on_real_data(real, params):
    assert_batch_equals_alone(real_windows(real, params), params)


def test_the_batch_equals_each_symbols_own_computation_on_synthetic_data(params):
    assert_batch_equals_alone(synthetic_windows(), params)


def test_the_batch_gives_every_symbol_the_same_entry_signal_as_alone(real, params):
    windows = real_windows(real, params) + synthetic_windows()
    batch = assert_batch_equals_alone(windows, params)
    actions = set()
    for j, window in enumerate(windows):
        for regime in REGIMES:
            alone = st.entry_signal(window, str(regime), params)
            assert st.entry_signal(window, str(regime), params, batch[j]) == alone
            # reading the last bar only decides as the whole window's evaluation does
            values = st.compute_indicators(window.tail(WINDOW), params)
            code = st.evaluate_entries(
                values, st.regime_codes(str(regime), len(window.tail(WINDOW))), params
            )[-1]
            assert alone.reason == (st.ENTRY if code == st.PASS_CODE else st.ENTRY_CHECKS[code])
            actions.add(alone.action)
    assert actions == {"BUY", "HOLD"}


def test_the_wilder_seed_is_summed_in_one_order_in_1d_and_2d():
    """A 1-D mean sums pairwise, a 2-D one row by row: values of very different sizes tell."""
    rng = np.random.default_rng(3)
    x = rng.random((40, 200)) * 10.0 ** rng.integers(-6, 6, (40, 200))
    together = st.ind.wilder(x, 14, first=1)
    for j in range(x.shape[1]):
        assert_identical(together[:, j], st.ind.wilder(x[:, j], 14, first=1), f"column {j}")


@pytest.mark.django_db
@pytest.mark.parametrize("regime", ["BULL", "SIDEWAYS", "BEAR"])
def test_the_cycle_decides_with_the_batch_as_each_symbol_alone(real, params, regime, monkeypatch):
    """Twelve symbols (real windows moved to the same minutes): the cycle's results with the batch
    and with each symbol computing its own (the batch failing) are the same."""
    ends = [*passing_ends(real, params, count=2), *range(WINDOW + 500, len(real), 700)][:12]
    stamps = pd.date_range("2026-03-02", periods=WINDOW, freq="min", tz="UTC", name="timestamp")
    frames = {
        f"KRW-T{k:02d}": pd.DataFrame(
            {name: getattr(cut(real, end), name) for name in st.BAR_FIELDS[1:]}, stamps
        )
        for k, end in enumerate(ends)
    }
    save_strategy_version(symbols=list(frames), params=strategy_as_dict(params)["regimes"], note="tests")
    monkeypatch.setattr(gate, "enabled", lambda: True)  # every buy is vetoed: no position changes
    monkeypatch.setattr(gate, "ask", lambda request: gate.GateVerdict(False, "no"))
    batches = []
    monkeypatch.setattr(
        cycle, "window_indicators", lambda *a: batches.append(a[0]) or st.window_indicators(*a)
    )
    with_batch = run(frames, regime)
    assert [len(b) for b in batches] == [len(frames)]

    def broken(*args):
        raise RuntimeError("no batch")

    monkeypatch.setattr(cycle, "window_indicators", broken)
    alone = run(frames, regime)
    assert [vars(r) for r in with_batch] == [vars(r) for r in alone]
    assert {r.action for r in alone} >= {"HOLD"} and len(alone) == len(frames)


def run(frames: dict[str, pd.DataFrame], regime: str) -> list[cycle.SymbolResult]:
    now = frames[next(iter(frames))].index[-1].to_pydatetime() + timedelta(seconds=65)
    market = cycle.Market(
        candles=lambda symbols, now: {s: frames[s] for s in symbols},
        regime=lambda symbol, now: regime,
        quote=lambda symbol, now, frame: cycle.Quote(Decimal(str(frame["close"].iloc[-1])), now),
    )
    return cycle.run_cycle(
        now=now,
        slot=now.replace(second=0),
        market=market,
        executor=PaperExecutor(slippage_bps=Decimal(5)),
        write_status=False,
    )
