from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from market.candles import (
    CandleRow,
    CandleValidationError,
    closed_only,
    last_stored_timestamps,
    load_frames,
    store_candles,
    stored_extent,
    validate_candles,
)
from market.models import Candle

from .conftest import T0, raw_candle, raw_minutes

NOW = T0 + timedelta(days=1)


def validate(raw, symbol="KRW-BTC"):
    return validate_candles(raw, symbol=symbol, now=NOW)


@pytest.mark.parametrize(
    ("overrides", "field", "problem"),
    [
        ({"close": None}, "close", "missing"),
        ({"volume": ""}, "volume", "missing"),
        ({"timestamp": None}, "timestamp", "missing"),
        ({"open": "abc"}, "open", "not a number"),
        ({"high": "NaN"}, "high", "not a finite number"),
        ({"low": "Infinity"}, "low", "not a finite number"),
        ({"high": True}, "high", "not a number"),
        ({"high": "98", "low": "99", "open": "98.5", "close": "98.5"}, "high", "below low"),
        ({"open": "150"}, "open", "outside"),
        ({"close": "50"}, "close", "outside"),
        ({"volume": "-0.1"}, "volume", "negative"),
        ({"quote_volume": "-3"}, "quote_volume", "negative"),
        ({"low": "0", "open": "0", "close": "0", "high": "0"}, "low", "must be positive"),
        ({"timestamp": T0 + timedelta(seconds=30)}, "timestamp", "minute boundary"),
        ({"timestamp": NOW + timedelta(minutes=5)}, "timestamp", "in the future"),
        ({"timestamp": "yesterday"}, "timestamp", "not a timestamp"),
    ],
)
@pytest.mark.django_db
def test_malformed_candle_rejects_the_whole_batch_with_symbol_time_and_field(overrides, field, problem):
    batch = raw_minutes(T0, 5)
    batch[3] = raw_candle(T0 + timedelta(minutes=3), **overrides)
    with pytest.raises(CandleValidationError) as err:
        store_candles(validate(batch, symbol="KRW-ETH"))
    message = str(err.value)
    assert message.startswith("KRW-ETH ")
    assert f" {field}: " in message and problem in message
    if overrides.get("timestamp") is None and field != "timestamp":
        assert "2026-03-02T00:03:00Z" in message
    assert Candle.objects.count() == 0


@pytest.mark.django_db
def test_duplicate_timestamps_in_a_page_reject_it():
    batch = [*raw_minutes(T0, 3), raw_candle(T0 + timedelta(minutes=1), 101)]
    with pytest.raises(CandleValidationError, match="KRW-BTC 2026-03-02T00:01:00Z timestamp: duplicated"):
        validate(batch)
    assert Candle.objects.count() == 0


def test_timestamps_are_parsed_as_utc_and_rows_sorted():
    batch = [
        raw_candle("2026-03-02T09:01:00+09:00"),
        raw_candle("2026-03-02T00:00:00"),  # Upbit's candle_date_time_utc has no offset
    ]
    rows = validate(batch)
    assert [r.timestamp for r in rows] == [T0, T0 + timedelta(minutes=1)]
    assert rows[0].open == Decimal("100.0") and isinstance(rows[0].volume, Decimal)


def test_float_and_int_inputs_become_exact_decimals():
    (row,) = validate([raw_candle(T0, open=0.1, high=1, low=0.1, close=0.3, volume=2.5)])
    assert row.open == Decimal("0.1") and row.high == Decimal(1) and row.close == Decimal("0.3")


def test_closed_only_drops_the_forming_bar():
    rows = validate(raw_minutes(T0, 3))
    assert [r.timestamp for r in closed_only(rows, T0 + timedelta(minutes=2, seconds=59))] == [
        T0,
        T0 + timedelta(minutes=1),
    ]
    assert len(closed_only(rows, T0 + timedelta(minutes=3))) == 3


@pytest.mark.django_db
def test_store_is_idempotent_and_counts_new_rows_only():
    rows = validate(raw_minutes(T0, 10))
    assert store_candles(rows[:6]) == 6
    assert store_candles(rows) == 4
    assert store_candles(rows) == 0
    assert Candle.objects.count() == 10
    stored = Candle.objects.get(symbol="KRW-BTC", timestamp=T0 + timedelta(minutes=2))
    assert stored.close == Decimal("102.0") and stored.quote_volume == Decimal("153.0")
    assert stored.timestamp.tzinfo is not None


@pytest.mark.django_db
def test_store_large_batch_uses_the_bulk_path():
    rows = validate([raw_candle(T0 - timedelta(minutes=i), 1000 + i % 7) for i in range(6000)])
    assert store_candles(rows) == 6000
    assert store_candles(rows) == 0
    assert stored_extent("KRW-BTC", T0 - timedelta(days=10), NOW) == (
        6000,
        T0 - timedelta(minutes=5999),
        T0,
    )


@pytest.mark.django_db
def test_last_stored_timestamps_in_one_query(django_assert_num_queries):
    store_candles(validate(raw_minutes(T0, 3)))
    store_candles(validate(raw_minutes(T0, 5), symbol="KRW-ETH"))
    with django_assert_num_queries(1):
        found = last_stored_timestamps(["KRW-BTC", "KRW-ETH", "KRW-NEW"])
    assert found == {
        "KRW-BTC": T0 + timedelta(minutes=2),
        "KRW-ETH": T0 + timedelta(minutes=4),
        "KRW-NEW": None,
    }


@pytest.mark.django_db
def test_load_frames_for_many_symbols_in_one_query(django_assert_num_queries):
    store_candles(validate(raw_minutes(T0, 10)))
    store_candles(validate(raw_minutes(T0, 4, price=5), symbol="KRW-ETH"))
    with django_assert_num_queries(1):
        frames = load_frames(["KRW-BTC", "KRW-ETH", "KRW-NONE"], start=T0 + timedelta(minutes=1))
    btc = frames["KRW-BTC"]
    assert len(btc) == 9 and btc.index[0] == T0 + timedelta(minutes=1)
    assert str(btc.index.tz) == "UTC" and btc["close"].dtype == "float64"
    assert list(frames["KRW-ETH"]["close"]) == [6.0, 7.0, 8.0]
    assert frames["KRW-NONE"].empty


@pytest.mark.django_db
def test_load_frames_last_n_per_symbol():
    store_candles(validate(raw_minutes(T0, 10)))
    store_candles(validate(raw_minutes(T0, 4), symbol="KRW-ETH"))
    frames = load_frames(["KRW-BTC", "KRW-ETH"], last=3)
    assert list(frames["KRW-BTC"]["close"]) == [107.0, 108.0, 109.0]
    assert len(frames["KRW-ETH"]) == 3


@time_machine.travel(datetime(2026, 3, 2, 0, 10, 30, tzinfo=UTC), tick=False)
def test_future_check_uses_the_given_now():
    with pytest.raises(CandleValidationError, match="in the future"):
        validate_candles([raw_candle(T0 + timedelta(minutes=11))], symbol="KRW-BTC", now=datetime.now(UTC))


@pytest.mark.real_services
@pytest.mark.django_db
def test_copy_falls_back_to_on_conflict_when_rows_appeared_meanwhile(monkeypatch):
    rows = validate([raw_candle(T0 - timedelta(minutes=i), 1000) for i in range(6000)])
    assert store_candles(rows[:10]) == 10
    # As if another writer stored those 10 between our key check and our COPY.
    monkeypatch.setattr("market.pgcopy._stored_keys", lambda rows: set())
    assert store_candles(rows) == 5990
    assert Candle.objects.count() == 6000


def test_copy_reader_streams_lines_in_chunks():
    from market.copystream import LineReader

    reader = LineReader(iter(["abc\n", "defgh\n", "ij\n"]))
    assert reader.read(5) == "abc\nd"
    assert reader.read(100) == "efgh\nij\n"
    assert reader.read(100) == ""


def test_copy_reader_takes_no_more_once_a_read_is_full():
    """Runs longer than a read: each read takes only what it needs, so what waits never grows."""
    from market.copystream import LineReader

    reader = LineReader(["x" * 10] * 100)
    sizes = []
    while text := reader.read(4):
        assert len(reader.pending) < 10
        sizes.append(len(text))
    assert sum(sizes) == 1000 and set(sizes) == {4}


def test_copy_text_formats_a_line_per_row_with_empty_quote_volumes(monkeypatch):
    """Column-wise formatting gives each row's fields in COPY order, tab separated; a missing quote
    volume is \\N; pieces end between rows."""
    from market import pgcopy

    monkeypatch.setattr(pgcopy, "PIECE", 2)
    first = CandleRow("KRW-BTC", "1m", T0, *map(Decimal, ("1.5", "2", "1", "1.25", "0.00000001")), None)
    second = first._replace(timestamp=T0 + timedelta(minutes=1), quote_volume=Decimal("12.5"))
    third = first._replace(symbol="KRW-ETH", quote_volume=Decimal("3"))
    pieces = list(pgcopy.copy_text([first, second, third], "upbit"))
    assert "".join(pieces).splitlines() == [
        "\t".join(("KRW-BTC", "1m", T0.isoformat(), "1.5", "2", "1", "1.25", "1E-8", "\\N", "upbit")),
        "\t".join(
            (
                "KRW-BTC",
                "1m",
                (T0 + timedelta(minutes=1)).isoformat(),
                "1.5",
                "2",
                "1",
                "1.25",
                "1E-8",
                "12.5",
                "upbit",
            )
        ),
        "\t".join(("KRW-ETH", "1m", T0.isoformat(), "1.5", "2", "1", "1.25", "1E-8", "3", "upbit")),
    ]
    assert len(pieces) == 2 and all(piece.endswith("\n") for piece in pieces)
