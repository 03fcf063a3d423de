from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from market.candles import CandleValidationError, validate_candles
from market.sources import get_source
from market.sources.csv import CsvSource
from market.sources.simulated import EPOCH, SimulatedSource
from market.sources.upbit import UpbitSource, candle_from_upbit
from tests.fakes.upbit import upbit_candle

from .conftest import REAL_CSV, T0, raw_minutes

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def sim_history(symbol: str, days: int, seed: int = 42, until: datetime = NOW) -> pd.DataFrame:
    source = SimulatedSource(seed)
    rows = source.fetch_candles(symbol, until=until, count=days * 1440)
    frame = pd.DataFrame(validate_candles(rows, symbol=symbol, now=until)).set_index("timestamp")
    return frame.astype({c: "float64" for c in ("open", "high", "low", "close", "volume")})


def test_sim_is_deterministic_per_seed_and_per_minute():
    first = SimulatedSource(7).fetch_candles("KRW-BTC", until=NOW, count=3000)
    # Another range that overlaps, asked in another order, gives the same bars for the same minutes.
    later = SimulatedSource(7).fetch_candles("KRW-BTC", until=NOW + timedelta(hours=5), count=500)
    earlier = {row["timestamp"]: row for row in first}
    overlap = [row for row in later if row["timestamp"] in earlier]
    assert overlap and all(row == earlier[row["timestamp"]] for row in overlap)
    other_seed = SimulatedSource(8).fetch_candles("KRW-BTC", until=NOW, count=3000)
    assert [r["close"] for r in other_seed] != [r["close"] for r in first]


def test_sim_pages_are_valid_closed_bars_with_occasional_gaps():
    rows = SimulatedSource(42).fetch_candles("KRW-DOGE", until=NOW, count=5000)
    valid = validate_candles(rows, symbol="KRW-DOGE", now=NOW)
    assert len(valid) == 5000 and valid[-1].timestamp < NOW
    minutes = (valid[-1].timestamp - valid[0].timestamp) / timedelta(minutes=1) + 1
    assert 5000 < minutes < 5200  # a few minutes had no trades: no candle, never an invented one


def test_sim_before_its_epoch_is_empty():
    assert SimulatedSource(1).fetch_candles("KRW-BTC", until=EPOCH, count=10) == []


def test_sim_regimes_switch_both_ways_within_weeks():
    seen = set()
    for symbol in ("KRW-BTC", "KRW-ETH", "KRW-XRP"):
        hourly = sim_history(symbol, 42)["close"].resample("1h").last().dropna()
        ma50, ma200 = hourly.rolling(50).mean(), hourly.rolling(200).mean()
        diff = ((ma50 - ma200) / ma200 * 100).dropna()
        seen |= {"BULL" for d in diff if d >= 2} | {"BEAR" for d in diff if d <= -2}
        seen |= {"SIDEWAYS" for d in diff if -2 < d < 2}
    assert seen == {"BULL", "BEAR", "SIDEWAYS"}


def test_sim_volatility_clusters_and_volume_follows_moves():
    frame = sim_history("KRW-BTC", 14)
    moves = np.log(frame["close"]).diff().abs().dropna()
    # Clustering: big moves follow big moves (autocorrelation of |returns| clearly positive).
    assert moves.autocorr(lag=1) > 0.1
    volume = frame["volume"].iloc[1:]
    assert np.corrcoef(moves.to_numpy(), volume.to_numpy())[0, 1] > 0.3


def test_sim_prices_sit_on_the_krw_tick_grid():
    frame = sim_history("KRW-BTC", 1)
    assert (frame["close"] % 1000 == 0).all()


def test_csv_replays_the_real_file_in_pages():
    source = CsvSource(REAL_CSV)
    until = source.default_until(NOW)
    assert until == datetime(2018, 2, 1, 5, 21, tzinfo=UTC)
    page = source.fetch_candles("KRW-BTC", until=until, count=100)
    rows = validate_candles(page, symbol="KRW-BTC", now=NOW)
    assert len(rows) == 100 and rows[-1].timestamp == datetime(2018, 2, 1, 5, 20, tzinfo=UTC)
    older = source.fetch_candles("KRW-BTC", until=rows[0].timestamp, count=100)
    assert older[-1]["timestamp"] < page[0]["timestamp"]
    assert source.fetch_candles("KRW-BTC", until=source.first_time(), count=5) == []


def test_csv_with_missing_columns_is_refused(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,open,close\n2026-01-01T00:00:00Z,1,1\n")
    with pytest.raises(ValueError, match=r"missing columns \['high', 'low', 'volume'\]"):
        CsvSource(path)


def test_csv_bad_row_is_rejected_by_validation(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "timestamp,open,high,low,close,volume\n"
        "2026-01-01T00:00:00Z,10,11,9,10,1\n"
        "2026-01-01T00:01:00Z,10,11,9,ten,1\n"
    )
    page = CsvSource(path).fetch_candles("KRW-BTC", until=NOW, count=10)
    with pytest.raises(CandleValidationError, match="KRW-BTC 2026-01-01T00:01:00Z close: not a number"):
        validate_candles(page, symbol="KRW-BTC", now=NOW)


def test_upbit_fields_are_mapped_as_the_spec_says():
    item = upbit_candle("KRW-BTC", raw_minutes(T0, 1)[0])
    assert candle_from_upbit(item) == {
        "timestamp": "2026-03-02T00:00:00",
        "open": 100,
        "high": 101,
        "low": 99,
        "close": 100,
        "volume": 1.5,
        "quote_volume": 150.0,
    }
    assert candle_from_upbit({"candle_date_time_utc": "x"}) == {"timestamp": "x"}


def test_upbit_source_pages_oldest_first(fake_upbit, upbit_client):
    fake_upbit.add_minutes("KRW-BTC", T0, T0 + timedelta(minutes=10))
    source = UpbitSource(upbit_client)
    page = source.fetch_candles("KRW-BTC", until=T0 + timedelta(minutes=5), count=3)
    assert [row["timestamp"] for row in page] == [
        "2026-03-02T00:02:00",
        "2026-03-02T00:03:00",
        "2026-03-02T00:04:00",
    ]


def test_upbit_source_object_instead_of_list_fails_validation(fake_upbit, upbit_client):
    fake_upbit.add_minutes("KRW-BTC", T0, T0 + timedelta(minutes=10))
    fake_upbit.malformed = ["object"]
    page = UpbitSource(upbit_client).fetch_candles("KRW-BTC", until=T0 + timedelta(minutes=5), count=3)
    with pytest.raises(CandleValidationError, match="timestamp: missing"):
        validate_candles(page, symbol="KRW-BTC", now=NOW)


def test_get_source_by_name(settings):
    settings.COINPILOT_SIM_SEED = 5
    assert get_source("sim").seed == 5
    assert isinstance(get_source(f"csv:{REAL_CSV}"), CsvSource)
    with pytest.raises(ValueError, match="unknown market source"):
        get_source("binance")
