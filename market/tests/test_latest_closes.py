"""latest_closes: the newest close per symbol, exact, in one query, symbols without bars left out."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from market.candles import CandleRow, latest_closes, store_candles

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 5, 1, tzinfo=UTC)


def bar(symbol: str, minute: int, close: str) -> CandleRow:
    price = Decimal(close)
    return CandleRow(
        symbol, "1m", T0 + timedelta(minutes=minute), price, price, price, price, Decimal(1), None
    )


def test_newest_close_of_each_symbol(django_assert_num_queries):
    store_candles([bar("KRW-BTC", 0, "100"), bar("KRW-BTC", 2, "101.12345678"), bar("KRW-BTC", 1, "99")])
    store_candles([bar("KRW-ETH", 5, "4000000"), bar("KRW-ETH", 4, "3999999")])
    with django_assert_num_queries(1):
        closes = latest_closes(["KRW-BTC", "KRW-ETH", "KRW-NONE"])
    assert set(closes) == {"KRW-BTC", "KRW-ETH"} and closes["KRW-ETH"] == Decimal(4000000)
    # exact on PostgreSQL; SQLite keeps decimals as 64-bit floats
    tolerance = Decimal(0) if connection.vendor == "postgresql" else Decimal("1e-9")
    assert abs(closes["KRW-BTC"] - Decimal("101.12345678")) <= tolerance
    assert latest_closes([]) == {}
