"""The candle window's numerics decoded from PostgreSQL's COPY BINARY: each value the double nearest
to the decimal (what float(Decimal) and the server's own ::float8 give), and every stream the
decoder cannot vouch for refused (None: the caller has the server cast instead)."""

import io
import random
import struct
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.db import connection

from market import candles
from market.candles import load_candles, store_candles, validate_candles
from market.numeric_copy import SIGNATURE, window_rows

from .conftest import T0, raw_minutes


def numeric_bytes(value: Decimal) -> bytes:
    """A numeric(28, 8) as PostgreSQL sends it in binary: count, weight, sign, scale, then the
    base-10000 digits without leading or trailing zero digits."""
    sign = 0x4000 if value < 0 else 0
    units = int(abs(value).scaleb(8))  # exact: 8 decimals
    whole, decimals = divmod(units, 10**8)
    groups = [*_base10000(whole), decimals // 10**4, decimals % 10**4]  # the last two: after the point
    weight = len(groups) - 3
    while groups and groups[0] == 0:
        groups.pop(0)
        weight -= 1
    while groups and groups[-1] == 0:
        groups.pop()
    if not groups:
        weight = 0
    return struct.pack(f">hhHH{len(groups)}H", len(groups), weight, sign, 8, *groups)


def _base10000(n: int) -> list[int]:
    out = []
    while n:
        n, digit = divmod(n, 10**4)
        out.insert(0, digit)
    return out or [0]


def copy_stream(rows, numeric=numeric_bytes) -> bytes:
    """A COPY BINARY stream of (place, microseconds since 2000, 5 numerics) rows."""
    out = io.BytesIO()
    out.write(SIGNATURE + struct.pack(">ii", 0, 0))
    for place, micros, *values in rows:
        out.write(struct.pack(">hii", 7, 4, place) + struct.pack(">iq", 8, micros))
        for value in values:
            field = numeric(value)
            out.write(struct.pack(">i", len(field)) + field)
    out.write(b"\xff\xff")
    return out.getvalue()


def decoded(rows, symbols=3):
    return window_rows(memoryview(copy_stream(rows)), symbols)


def tricky_values(rng: random.Random, count: int) -> list[Decimal]:
    """Prices and volumes of every size a numeric(28, 8) of a KRW market holds, and the edges of
    the decoder's two ways of rounding (integer parts around 2**26, 2**53 - 1, 8 nines)."""
    edges = [
        Decimal("0"), Decimal("0.00000001"), Decimal("0.99999999"), Decimal("1"), Decimal("9999.9999"),
        Decimal("10000"), Decimal("67108863.99999999"), Decimal("67108864"), Decimal("67108864.00000001"),
        Decimal(2**53 - 1), Decimal(2**53 - 1) + Decimal("0.99999999"), Decimal("150000000"),
        Decimal("0.1"), Decimal("0.3"), Decimal("5.123"), Decimal("50559586.58"),
    ]  # fmt: skip
    values = list(edges)
    while len(values) < count:
        whole = int(10 ** rng.uniform(0, 15.9)) if rng.random() < 0.8 else 0
        decimals = rng.choice([0, rng.randrange(10**8), rng.randrange(10**4) * 10**4, 99_999_999])
        values.append(Decimal(whole) + Decimal(decimals).scaleb(-8))
    return values


def test_every_value_is_the_double_nearest_to_the_decimal():
    rng = random.Random(18)
    values = tricky_values(rng, 20_000)
    rows = [(i % 3, 60_000_000 * i, *values[5 * i : 5 * i + 5]) for i in range(len(values) // 5)]
    place, micros, columns = decoded(rows)
    assert place.tolist() == [row[0] for row in rows] and micros.tolist() == [row[1] for row in rows]
    for k, column in enumerate(columns):
        expected = np.array([float(row[2 + k]) for row in rows])
        assert column.dtype == np.float64 and np.array_equal(column, expected)  # bit for bit


def test_a_negative_value_keeps_its_sign():
    _, _, columns = decoded([(0, 0, Decimal("-1.5"), Decimal("-67108864.00000001"), *[Decimal(1)] * 3)])
    assert columns[0].tolist() == [-1.5] and columns[1].tolist() == [float(Decimal("-67108864.00000001"))]


def test_no_rows_give_empty_columns():
    place, micros, columns = decoded([])
    assert len(place) == len(micros) == 0 and [len(c) for c in columns] == [0] * 5


def nan_numeric(value):
    return struct.pack(">hhHH", 0, 0, 0xC000, 0) if value == 1 else numeric_bytes(value)


def nine_decimals(value):
    return struct.pack(">hhHH3H", 3, 0, 0, 9, 1, 0, 1000) if value == 1 else numeric_bytes(value)


def too_large(value):  # 10**16: an integer part past 2**53, which a double cannot hold exactly
    return struct.pack(">hhHH1H", 1, 4, 0, 8, 1) if value == 1 else numeric_bytes(value)


def seven_digits(value):
    return struct.pack(">hhHH7H", 7, 4, 0, 8, 1, 2, 3, 4, 5, 6, 7) if value == 1 else numeric_bytes(value)


@pytest.mark.parametrize("numeric", [nan_numeric, nine_decimals, too_large, seven_digits])
def test_a_value_the_decoder_cannot_vouch_for_refuses_the_stream(numeric):
    rows = [(0, 0, Decimal(2), Decimal(3), Decimal(1), Decimal(4), Decimal(5))]
    assert window_rows(memoryview(copy_stream(rows, numeric)), 3) is None
    assert window_rows(memoryview(copy_stream(rows)), 3) is not None


def test_a_stream_of_another_layout_is_refused():
    rows = [(0, 0, *[Decimal(1)] * 5), (1, 60_000_000, *[Decimal(2)] * 5)]
    good = copy_stream(rows)
    assert window_rows(memoryview(good), 2) is not None
    assert window_rows(memoryview(good), 1) is None  # a place past the symbols asked for
    assert window_rows(memoryview(b"PGCOPY?" + good[7:]), 2) is None  # not a COPY BINARY stream
    assert window_rows(memoryview(good[:-2]), 2) is None  # no end marker
    assert window_rows(memoryview(good[:-3] + good[-2:]), 2) is None  # a row cut short
    float_row = SIGNATURE + struct.pack(">ii", 0, 0) + struct.pack(">hii", 7, 4, 0) + struct.pack(">iq", 8, 0)
    float_row += struct.pack(">id", 8, 1.5) * 5 + b"\xff\xff"  # the cast query's row
    assert window_rows(memoryview(float_row), 2) is None


def test_a_digit_run_that_looks_like_a_row_start_does_not_fool_the_decoder():
    """The digits 7, 0, 4, 0, 0, 0, 8 read like a row's count and lengths: the candidates then
    do not chain from one row to the next, and the stream is refused rather than misread."""

    value = Decimal("700000004.00000001")  # digits 7, 0, 4, 0, 1: a count, an int4's length, place 1
    rows = [(0, 0, Decimal(1), value, Decimal(0), Decimal(3), Decimal(4))]  # the zero's length: 0, 8
    assert window_rows(memoryview(copy_stream(rows)), 3) is None


@pytest.mark.django_db
def test_the_streams_above_are_byte_for_byte_what_postgresql_sends():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's own COPY BINARY")
    values = tricky_values(random.Random(7), 500)
    rows = [(i % 3, 60_000_000 * i, *values[5 * i : 5 * i + 5]) for i in range(len(values) // 5)]
    rows.append((1, 0, Decimal("-1.5"), *[Decimal(0)] * 4))
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE numerics (n int4, place int4, a numeric(28,8), b numeric(28,8), "
            "c numeric(28,8), d numeric(28,8), e numeric(28,8))"
        )
        cursor.executemany(
            "INSERT INTO numerics VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [(n, place, *values) for n, (place, _, *values) in enumerate(rows)],
        )
        buffer = io.BytesIO()
        cursor.cursor.copy_expert(
            "COPY (SELECT place, timestamptz '2000-01-01Z' + make_interval(mins => n), a, b, c, d, e "
            "FROM numerics ORDER BY n) TO STDOUT (FORMAT binary)",
            buffer,
        )
    expected = [(place, 60_000_000 * n, *values) for n, (place, _, *values) in enumerate(rows)]
    assert buffer.getvalue() == copy_stream(expected)


@pytest.mark.django_db
def test_a_window_the_decoder_refuses_is_cast_by_the_server(monkeypatch):
    """A volume of 10**16 (a double holds its integer part only to 2**53): the server's cast
    answers, and the numbers are the same as load_frames' (float of each decimal)."""
    now = T0 + timedelta(days=1)
    minutes = raw_minutes(T0, 5, price=1.25)
    minutes[2]["volume"] = "10000000000000000.5"
    store_candles(validate_candles(minutes, symbol="KRW-BTC", now=now))
    store_candles(validate_candles(raw_minutes(T0, 4, price=7), symbol="KRW-ETH", now=now))
    casts = []
    if connection.vendor == "postgresql":
        real = candles._copy_window
        asked = lambda columns, *args: casts.append(columns) or real(columns, *args)  # noqa: E731
        monkeypatch.setattr(candles, "_copy_window", asked)
    window = load_candles(["KRW-BTC", "KRW-ETH"], last=10)
    rows = window.rows("KRW-BTC")
    assert window.volume[rows].tolist() == [1.5, 1.5, 1e16, 1.5, 1.5]
    assert window.close[rows].tolist() == [1.25, 2.25, 3.25, 4.25, 5.25]
    assert window.close[window.rows("KRW-ETH")].tolist() == [7.0, 8.0, 9.0, 10.0]
    if connection.vendor == "postgresql":
        assert casts == [candles.AS_STORED, candles.AS_FLOAT]
