"""Strategy v3.1 rules: each entry and exit check firing and not firing, in the strategy's order."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from conftest import TEST_DATA
from market import indicators as ind
from market.regime import REGIMES
from trading import strategy as st
from trading.config import default_strategy

PARAMS = default_strategy()
# One bar on which every entry check of every regime passes; each test breaks one value.
PASSING = {
    "close": 100.0, "rsi14": 38.0, "rsi7": 42.0, "rsi7_min_10": 20.0, "ma20": 99.0,
    "bb_upper": 110.0, "bb_lower": 95.0, "vol_ratio": 1.0, "bb_touch_30": True,
}  # fmt: skip


def reason(regime: str, params=PARAMS, **changes) -> str:
    values = {k: np.array([v]) for k, v in (PASSING | changes).items()}
    code = int(st.evaluate_entries(values, np.array([REGIMES.index(regime)], dtype=np.int8), params)[0])
    return st.ENTRY if code == st.PASS_CODE else st.ENTRY_CHECKS[code]


def with_params(regime: str, **changes):
    regimes = dict(PARAMS.regimes)
    regimes[regime] = regimes[regime].model_copy(update=changes)
    return dataclasses.replace(PARAMS, regimes=regimes)


@pytest.mark.parametrize("regime", ["BULL", "SIDEWAYS", "BEAR"])
def test_the_passing_bar_enters_in_every_regime(regime):
    assert reason(regime) == st.ENTRY


def test_no_entries_while_the_regime_is_unknown():
    assert reason("UNKNOWN") == "REGIME_UNKNOWN"


def test_warm_up_bars_do_not_enter():
    assert reason("BULL", rsi14=np.nan) == "INDICATORS_NOT_READY"
    assert reason("BULL", vol_ratio=np.nan) == "INDICATORS_NOT_READY"


@pytest.mark.parametrize(
    ("regime", "fires", "holds", "check"),
    [
        ("SIDEWAYS", {"rsi14": 45.01}, {"rsi14": 45.0}, "RSI14_TOO_HIGH"),
        ("BULL", {"rsi14": 55.5}, {"rsi14": 55.0}, "RSI14_TOO_HIGH"),
        ("BEAR", {"rsi14": 40.1}, {"rsi14": 40.0}, "RSI14_TOO_HIGH"),
        ("SIDEWAYS", {"rsi7_min_10": 30.01}, {"rsi7_min_10": 30.0}, "RSI7_NO_RECOVERY"),
        ("SIDEWAYS", {"rsi7": 34.99}, {"rsi7": 35.0}, "RSI7_NO_RECOVERY"),
        ("BULL", {"rsi7": 39.9}, {"rsi7": 40.0}, "RSI7_NO_RECOVERY"),
        ("BULL", {"close": 99.0}, {"close": 99.01}, "MA_FILTER"),  # above: close > MA20
        ("BEAR", {"ma20": 103.2}, {"ma20": 103.0}, "MA_FILTER"),  # within 3 % below MA20
        ("SIDEWAYS", {"bb_lower": 100.01}, {"bb_lower": 100.0}, "BELOW_BB_LOWER"),
        ("SIDEWAYS", {"vol_ratio": 0.49}, {"vol_ratio": 0.5}, "VOLUME_TOO_LOW"),
        ("BEAR", {"vol_ratio": 2.0}, {"vol_ratio": 1.99}, "VOLUME_SURGE"),
        ("SIDEWAYS", {"bb_touch_30": False}, {"bb_touch_30": True}, "NO_BB_TOUCH_RECOVERY"),
    ],
)
def test_each_entry_check_fires_and_holds_at_its_boundary(regime, fires, holds, check):
    assert reason(regime, **fires) == check
    assert reason(regime, **holds) == st.ENTRY


def test_rsi7_bounce_needs_enough_points():
    params = with_params("SIDEWAYS", min_rsi_7_bounce_pct=10.0)
    assert reason("SIDEWAYS", params, rsi7=38.0, rsi7_min_10=28.5) == "RSI7_BOUNCE_TOO_SMALL"
    assert reason("SIDEWAYS", params, rsi7=38.5, rsi7_min_10=28.5) == st.ENTRY


def test_checks_that_are_switched_off_do_not_fire():
    assert reason("BULL", vol_ratio=5.0) == st.ENTRY  # surge check is off in BULL
    assert reason("BULL", bb_touch_30=False) == st.ENTRY  # bb_enabled is off in BULL
    assert reason("SIDEWAYS", close=80.0, ma20=100.0, bb_lower=70.0) == st.ENTRY  # ma_filter none
    params = with_params("SIDEWAYS", require_price_above_bb_lower=False)
    assert reason("SIDEWAYS", params, bb_lower=120.0) == st.ENTRY


def test_the_first_failing_check_in_spec_order_is_the_reason():
    assert reason("BEAR", rsi14=60.0, vol_ratio=0.1, ma20=200.0) == "RSI14_TOO_HIGH"
    assert reason("BEAR", vol_ratio=0.1, ma20=200.0) == "MA_FILTER"
    assert reason("SIDEWAYS", vol_ratio=0.1, bb_touch_30=False) == "VOLUME_TOO_LOW"


def test_lookbacks_follow_each_bars_regime():
    params = with_params("BEAR", rsi_7_lookback=5)
    values = {k: np.array([v, v]) for k, v in PASSING.items()}
    values["rsi7_min_5"] = np.array([50.0, 50.0])  # no dip within 5 bars
    codes = np.array([REGIMES.index("BULL"), REGIMES.index("BEAR")], dtype=np.int8)
    got = st.evaluate_entries(values, codes, params)
    assert [st.ENTRY if c == st.PASS_CODE else st.ENTRY_CHECKS[c] for c in got] == [
        st.ENTRY,
        "RSI7_NO_RECOVERY",
    ]


# --- exits ------------------------------------------------------------------------------------

OPENED = 1_000_000_000
BULL_CODE, SIDEWAYS_CODE, BEAR_CODE, UNKNOWN_CODE = 0, 1, 2, 3


def scan(closes, regime="SIDEWAYS", codes=None, rsi=None, minutes=None, hwm=None):
    """scan_exit of a position bought at 100 over these closes (RSI 50 unless given)."""
    close = np.asarray(closes, dtype=float)
    n = len(close)
    rsi14 = np.full(n, 50.0) if rsi is None else np.asarray(rsi, dtype=float)
    decided = OPENED + 60 * (np.arange(1, n + 1) if minutes is None else np.asarray(minutes))
    c = np.full(n, REGIMES.index(regime), dtype=np.int8) if codes is None else np.asarray(codes, np.int8)
    trade = st.OpenTrade(100.0, regime, OPENED, 100.0 if hwm is None else hwm)
    return st.scan_exit(close, rsi14, decided, c, trade, PARAMS)


def exit_at(closes, *position, **more):
    i, why, _, _ = scan(closes, *position, **more)
    return i, why


def test_stop_loss_fires_at_the_stop_and_not_above():
    assert exit_at([99.0, 97.6, 97.5]) == (2, "STOP_LOSS")  # SIDEWAYS stop 2.5 %


def test_stop_loss_tightens_after_regime_change():
    # entered in BULL (stop 3 %); the regime is BEAR now (stop 2 %): the tighter 2 % applies
    assert exit_at([98.5, 98.0], "BULL", codes=[BULL_CODE, BEAR_CODE]) == (1, "STOP_LOSS")
    assert exit_at([98.5, 98.0], "BULL", codes=[BULL_CODE, BULL_CODE]) == (-1, "")
    # a looser current regime never widens the stop; UNKNOWN keeps the entry regime's
    assert exit_at([97.9], "BEAR", codes=[BULL_CODE]) == (0, "STOP_LOSS")
    assert exit_at([97.5], "BULL", codes=[UNKNOWN_CODE]) == (-1, "")


def test_trailing_stop_needs_activation_first():
    # SIDEWAYS: activation +1 %, trail 1.5 % from the high-water mark
    assert exit_at([100.9, 99.5]) == (-1, "")  # never reached +1 %: no trailing stop
    assert exit_at([101.0, 99.49, 99.48]) == (2, "TRAILING_STOP")  # HWM 101 -> trail at 99.485
    assert exit_at([102.0, 100.5, 100.46]) == (2, "TRAILING_STOP")  # 102 * 0.985 = 100.47


def test_stored_high_water_mark_carries_the_activation():
    assert exit_at([100.4], hwm=102.0) == (0, "TRAILING_STOP")
    assert exit_at([100.5], hwm=102.0) == (-1, "")  # above 100.47
    assert exit_at([99.0], hwm=100.9) == (-1, "")  # never activated


def test_a_position_without_a_known_entry_regime_gets_the_tightest_exits():
    assert exit_at([97.9], "UNKNOWN") == (0, "STOP_LOSS")  # BEAR's 2 % stop


def test_take_profit():
    assert exit_at([102.9, 103.0]) == (1, "TAKE_PROFIT")


def test_rsi_overbought_needs_the_minimum_profit():
    assert exit_at([100.4, 100.5], rsi=[71, 70]) == (1, "RSI_OVERBOUGHT")  # SIDEWAYS 70 / +0.5 %
    assert exit_at([100.4, 100.5], rsi=[71, 69.9]) == (-1, "")


def test_time_limit_counts_from_the_fill():
    # SIDEWAYS 24 h: the decision 24 h after the fill is not "longer than" 24 h; a minute later is
    assert exit_at([100.0, 100.0], minutes=[1440, 1441]) == (1, "TIME_LIMIT")


def test_exits_are_checked_in_spec_order():
    # the same bar breaks the stop and the time limit: STOP_LOSS wins
    assert exit_at([97.0], minutes=[5000]) == (0, "STOP_LOSS")
    # take profit and RSI overbought together: TAKE_PROFIT comes first
    assert exit_at([104.0], rsi=[90]) == (0, "TAKE_PROFIT")


# --- live path: windows, signals, no look-ahead -----------------------------------------------


@pytest.fixture(scope="module")
def real_bars():
    return st.bars_from_frame(pd.read_csv(TEST_DATA / "upbit_krw_btc_1m_20180125.csv"))


def full_reasons(bars, regime):
    values = st.compute_indicators(bars, PARAMS)
    return st.evaluate_entries(values, st.regime_codes(regime, len(bars)), PARAMS), values


def test_no_look_ahead_signal_on_truncated_data_equals_the_full_series(real_bars):
    bars = real_bars.tail(1500)
    codes, _ = full_reasons(bars, "SIDEWAYS")
    assert (codes == st.PASS_CODE).any()  # entries happen in this stretch
    for t in range(len(bars)):
        got, _ = full_reasons(window(bars, t + 1, t + 1), "SIDEWAYS")
        assert got[-1] == codes[t], t


def window(bars, end: int, length: int):
    return st.Bars(
        *(a[end - length : end] for a in (bars.ts, bars.open, bars.high, bars.low, bars.close, bars.volume))
    )


def test_live_window_gives_the_full_series_values_to_1e_9(real_bars):
    codes, values = full_reasons(real_bars, "SIDEWAYS")
    for end in range(st.LIVE_WINDOW_BARS, len(real_bars) + 1, 97):
        sig = st.entry_signal(window(real_bars, end, st.LIVE_WINDOW_BARS), "SIDEWAYS", PARAMS)
        for key in ("rsi14", "rsi7", "rsi7_min_10"):  # Wilder memory: the 1000-bar window is far beyond 1e-9
            assert sig.values[key] == pytest.approx(values[key][end - 1], rel=1e-12, abs=0)
        for key in ("ma20", "bb_lower", "vol_ratio"):  # windows: bit-for-bit equal
            assert sig.values[key] == values[key][end - 1]
        expected = st.ENTRY if codes[end - 1] == st.PASS_CODE else st.ENTRY_CHECKS[codes[end - 1]]
        assert sig.reason == expected


def test_a_200_bar_window_would_not_be_enough(real_bars):
    full = ind.rsi(real_bars.close, 14)[-1]
    short = ind.rsi(real_bars.close[-200:], 14)[-1]
    long = ind.rsi(real_bars.close[-st.LIVE_WINDOW_BARS :], 14)[-1]
    assert abs(short - full) > 1e-9 * full  # why the live window is longer than 200 bars
    assert long == pytest.approx(full, rel=1e-12)


def test_entry_signal_explains_itself_with_numbers(real_bars):
    sig = st.entry_signal(real_bars, "BULL", PARAMS)
    assert sig.action in ("BUY", "HOLD") and sig.reason in (*st.ENTRY_CHECKS, st.ENTRY)
    assert isinstance(sig.values["rsi14"], float) and sig.detail
    unknown = st.entry_signal(real_bars, "UNKNOWN", PARAMS)
    assert (unknown.action, unknown.reason) == ("HOLD", "REGIME_UNKNOWN")
    assert "UNKNOWN" in unknown.detail
    hot = st.describe_entry("RSI14_TOO_HIGH", {"rsi14": 61.234}, "SIDEWAYS", PARAMS)
    assert hot == "RSI(14) 61.23 > max 45"


def test_exit_signal_reads_the_last_bar_and_returns_the_new_high_water_mark(real_bars):
    close = float(real_bars.close[-1])
    trade = st.OpenTrade(close / 1.04, "SIDEWAYS", int(real_bars.ts[-10]), close / 1.04)
    sig = st.exit_signal(real_bars, trade, "SIDEWAYS", PARAMS)
    assert (sig.action, sig.exit_reason) == ("SELL", "TAKE_PROFIT")
    assert sig.high_water_mark == pytest.approx(close)
    calm = st.OpenTrade(close, "SIDEWAYS", int(real_bars.ts[-10]), close)
    assert st.exit_signal(real_bars, calm, "SIDEWAYS", PARAMS).action == "HOLD"


def test_the_backtesters_candidates_are_the_bars_every_check_passes(real_bars):
    # entry_passes narrows the bars check by check; it must find exactly evaluate_entries' passes,
    # in every regime and with the regimes changing bar by bar (lookbacks differing per regime)
    params = with_params("BEAR", rsi_7_lookback=5, bb_touch_lookback=12)
    params = dataclasses.replace(
        params,
        regimes=params.regimes | {"BULL": params.regimes["BULL"].model_copy(update={"bb_enabled": True})},
    )
    values = st.compute_indicators(real_bars, params)
    mixed = np.repeat(np.arange(4, dtype=np.int8), 60)[np.arange(len(real_bars)) // 7 % 240]
    for codes in [
        mixed,
        *(st.regime_codes(r, len(real_bars)) for r in ("BULL", "SIDEWAYS", "BEAR", "UNKNOWN")),
    ]:
        passes = np.flatnonzero(st.evaluate_entries(values, codes, params) == st.PASS_CODE)
        np.testing.assert_array_equal(st.entry_passes(values, codes, params), passes)
    assert len(np.flatnonzero(st.evaluate_entries(values, mixed, params) == st.PASS_CODE)) > 0


@pytest.mark.parametrize("hours", [24, 0.1, 0.37])
def test_time_limit_fires_on_the_first_decision_held_longer_than_the_limit(hours):
    # held (decided - opened) > hours x 3600 seconds: at the limit itself the position stays
    params = with_params("SIDEWAYS", time_limit_hours=hours)
    limit = hours * 3600
    opened = OPENED + 17  # a fill inside a minute (fill at the close)
    seconds = np.array([int(limit) - 1, int(limit), int(limit) + 1, int(limit) + 2])
    trade = st.OpenTrade(100.0, "SIDEWAYS", opened, 100.0)
    i, why, _, _ = st.scan_exit(
        np.full(4, 100.0), np.full(4, 50.0), opened + seconds, np.ones(4, np.int8), trade, params
    )
    assert (i, why) == (int(np.argmax(seconds > limit)), "TIME_LIMIT")


@pytest.mark.parametrize(
    ("closes", "decided"),
    [
        ([100.5, 101.0, 97.0, 103.0], (2, "STOP_LOSS", 101.0)),
        ([100.5, 101.0], (-1, "", 101.0)),  # none fires: the HWM at the last bar
        # +1 % activates the 1.5 % trail: 102.5 x 0.985 = 100.96 > 100.9; bar 3 would take profit
        ([101.5, 102.5, 100.9, 104.0], (2, "TRAILING_STOP", 102.5)),
    ],
)
def test_the_hwm_is_the_one_at_the_decision_bar(closes, decided):
    i, why, hwm, _ = scan(closes)
    assert (i, why, hwm) == decided


@pytest.mark.parametrize("regime", ["BULL", "SIDEWAYS", "BEAR"])
def test_one_code_for_every_bar_decides_as_the_code_of_each_bar(regime):
    # bars all in one regime (a forced one, say): the backtester passes the one code, not one per bar
    code = REGIMES.index(regime)
    rng = np.random.default_rng(3)
    for _ in range(50):
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.004, 60)))
        rsi = rng.uniform(30, 80, 60)
        decided = OPENED + 60 * np.arange(1, 61)
        trade = st.OpenTrade(100.0, regime, OPENED, 100.0)
        each = st.scan_exit(close, rsi, decided, np.full(60, code, np.int8), trade, PARAMS)
        assert st.scan_exit(close, rsi, decided, code, trade, PARAMS) == each


def test_the_time_limit_looked_up_by_the_caller_decides_as_the_one_looked_up_here():
    trade = st.OpenTrade(100.0, "SIDEWAYS", OPENED, 100.0)
    decided = OPENED + 3600 * np.arange(20, 30)
    own = st.scan_exit(np.full(10, 100.0), np.full(10, 50.0), decided, np.ones(10, np.int8), trade, PARAMS)
    late = int(decided.searchsorted(st.exit_plan(trade, PARAMS).late_after, side="right"))
    given = st.scan_exit(
        np.full(10, 100.0), np.full(10, 50.0), decided, np.ones(10, np.int8), trade, PARAMS, late=late
    )
    assert own == given and own[:2] == (late, "TIME_LIMIT")


@pytest.mark.parametrize("regime", ["BULL", "SIDEWAYS", "BEAR", "UNKNOWN"])
def test_a_plan_scaled_from_a_unit_position_is_the_plan_bit_for_bit(regime):
    # the backtester makes one plan per regime and scale-outs sold for a position bought at 1.0
    params = with_params(
        "BULL", partial_tp_1_pct=0.7, partial_tp_2_pct=1.3, breakeven_after_partial=True, time_limit_hours=0.1
    )
    for price in (0.00123, 97.3, 1234.5678, 43_926_000.0, 1e9 / 3):
        for done in (0, 1, 2):
            trade = st.OpenTrade(price, regime, OPENED + 17, price, None, done)
            unit = st.exit_plan(st.OpenTrade(1.0, regime, 0, 1.0, None, done), params)
            got, want = st.scaled_plan(unit, trade), st.exit_plan(trade, params)
            assert got.stops.tobytes() == want.stops.tobytes()
            assert got._replace(stops=None) == want._replace(stops=None)
