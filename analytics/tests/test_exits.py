from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from analytics.exits import Fill, fifo_matches, load_exits, pnl_from_entry

from .helpers import buy, sell

T0 = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)
H = timedelta(hours=1)
D = Decimal


def test_pnl_from_entry_is_net_of_both_fees_and_relative_to_the_entry_cost():
    pnl, pct = pnl_from_entry(
        price=D("1050"), quantity=D("2"), fee=D("1.05"), entry_price=D("1000"), entry_fee=D("1")
    )
    assert pnl == D("97.95")  # (1050 - 1000) * 2 - 1.05 - 1
    assert pct == pytest.approx(97.95 / 2001 * 100)


def test_fifo_consumes_partial_lots_oldest_first_with_their_fee_share():
    fills = [
        Fill(1, "KRW-ETH", "BUY", D("1000"), D("2"), D("2"), T0),
        Fill(2, "KRW-ETH", "BUY", D("1100"), D("3"), D("3"), T0 + H),
        Fill(3, "KRW-ETH", "SELL", D("1200"), D("3"), D("3.6"), T0 + 2 * H),  # lot 1 whole + 1 of lot 2
        Fill(4, "KRW-ETH", "SELL", D("1000"), D("2"), D("2"), T0 + 3 * H),  # the rest of lot 2
        Fill(5, "KRW-ETH", "SELL", D("1000"), D("1"), D("1"), T0 + 4 * H),  # nothing left
    ]
    matches = fifo_matches(reversed(fills))  # order of arrival does not matter, time does
    assert matches[3].cost == D("3100") and matches[3].entry_fee == D("3")
    assert matches[3].hold_hours == pytest.approx((2 * 2 + 1 * 1) / 3)
    assert matches[4].cost == D("2200") and matches[4].entry_fee == D("2")
    assert matches[4].hold_hours == pytest.approx(2.0)
    assert matches[5] is None


def test_fifo_keeps_symbols_and_modes_apart():
    fills = [
        Fill(1, "KRW-BTC", "BUY", D("10"), D("1"), D("0"), T0, "live"),
        Fill(2, "KRW-BTC", "SELL", D("12"), D("1"), D("0"), T0 + H, "paper"),
        Fill(3, "KRW-ETH", "SELL", D("12"), D("1"), D("0"), T0 + H, "live"),
    ]
    matches = fifo_matches(fills)
    assert matches[2] is None and matches[3] is None


@pytest.mark.django_db
def test_load_exits_uses_entry_avg_price_else_fifo_else_leaves_pnl_unknown():
    buy(T0, symbol="KRW-ETH", price="1000", quantity="2", fee="2")
    buy(T0 + H, symbol="KRW-ETH", price="1100", quantity="3", fee="3")
    fifo = sell(
        T0 + 2 * H, symbol="KRW-ETH", price="1200", quantity="3", fee="3.6", exit_reason="TAKE_PROFIT"
    )
    booked = sell(
        T0 + 3 * H, symbol="KRW-ETH", price="1050", quantity="2", fee="1.05", entry="1000", entry_fee="1"
    )
    orphan = sell(T0 + 4 * H, symbol="KRW-XRP", price="500", quantity="1", exit_reason="MANUAL")

    exits = {e.id: e for e in load_exits(T0, T0 + 5 * H)}

    assert exits[fifo.id].pnl == D("493.4")  # 3600 - 3.6 - (2000 + 1100) - (2 + 1)
    assert exits[fifo.id].pnl_pct == pytest.approx(493.4 / 3103 * 100)
    assert exits[fifo.id].pnl_source == "fifo"
    assert exits[fifo.id].hold_hours == pytest.approx(5 / 3)
    # entry_avg_price wins for the PnL; the hold still comes from the lots (the rest of lot 2)
    assert exits[booked.id].pnl == D("97.95") and exits[booked.id].pnl_source == "entry_avg_price"
    assert exits[booked.id].hold_hours == pytest.approx(2.0)
    assert exits[orphan.id].pnl is None and exits[orphan.id].pnl_pct is None
    assert exits[orphan.id].hold_hours is None


@pytest.mark.django_db
def test_load_exits_period_is_half_open_and_uses_created_at_without_executed_at():
    inside = sell(None, created_at=T0, entry="90")
    sell(T0 + H, entry="90")  # the end is excluded
    sell(T0 - timedelta(seconds=1), entry="90")
    assert [e.id for e in load_exits(T0, T0 + H)] == [inside.id]
