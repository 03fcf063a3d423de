"""Where issue #17's position management shows on the trading pages: scale-outs in History, the
sizing sentence of a BUY (History and the Overview's bot status) and the re-entry cooldown refusal
(Risk page), from trades booked by trading.booking and by the real bot cycle."""

import re
from datetime import timedelta
from decimal import Decimal

import pandas as pd
import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from tests.scale_out import SIZING, book_scale_out, reentry_refusal
from trading import cycle
from trading.config import default_strategy, save_strategy_version, strategy_as_dict
from trading.glossary import EXIT_REASONS
from trading.models import RiskAudit, Trade
from trading.strategy import Signal

from .test_cycle import CSV, buy_signal, run

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture(scope="module")
def btc() -> pd.DataFrame:
    """The bot cycle tests' real candles (test_cycle.py), enough for its indicators."""
    return pd.read_csv(CSV, parse_dates=["timestamp"]).set_index("timestamp").tail(1200)


@pytest.fixture
def operator(client):
    client.force_login(get_user_model().objects.create_user("operator", password="pw-123456789"))


def rows_of(html: str, table: str = "trades") -> list[str]:
    """The text of each body row of a table (tags dropped)."""
    body = html.split(f'id="{table}"')[1].split("<tbody>")[1].split("</tbody>")[0]
    rows = re.split(r"<tr[ >]", body)[1:]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in rows]


def test_history_lists_each_scale_out_with_its_level_and_pnl(client, operator):
    scaled = book_scale_out(at=timezone.now() - timedelta(hours=5), price=D(100_000_000))
    html = client.get("/history/?exit_reason=PARTIAL_TAKE_PROFIT").content.decode()
    rows = rows_of(html)
    assert len(rows) == 2  # newest first; the BUY and the final TAKE_PROFIT are filtered out
    for row, sale, level in zip(rows, scaled.partials[::-1], (2, 1), strict=True):
        assert f"Partial take profit (level {level})" in row and "SELL" in row
        assert f"{Decimal(sale.signal_info['pnl']):,.0f}".replace(",", "") in row.replace(",", "")
    meaning = EXIT_REASONS["PARTIAL_TAKE_PROFIT"]
    assert f'title="PARTIAL_TAKE_PROFIT: {meaning}"' in html  # shown on hover
    every = rows_of(client.get("/history/").content.decode())
    assert [r.split(" ")[3] for r in every] == ["SELL", "SELL", "SELL", "BUY"]
    assert "TAKE_PROFIT" in every[0] and "Partial" not in every[0]  # the final exit keeps its code
    assert SIZING in every[3]  # the BUY row says how its size was chosen


def test_a_cycle_buy_carries_its_sizing_to_history_and_the_overview(
    btc,
    client,
    operator,
    monkeypatch,
    redis_conn,
):
    regimes = strategy_as_dict(default_strategy())["regimes"]
    regimes["BULL"]["risk_per_trade_pct"] = 1.0  # risk-based sizing on: the sentence names it
    save_strategy_version(symbols=["KRW-BTC"], params=regimes, note="tests")
    monkeypatch.setattr(cycle, "entry_signal", buy_signal)
    [result] = run(btc)
    sizing = Trade.objects.get(side="BUY").signal_info["sizing"]
    assert sizing.startswith("size 5 % (") and "= risk 1 % / stop 3 %, capped at max position 5 %" in sizing
    assert result.action == "BUY" and sizing in result.detail
    status = {r["symbol"]: r["status"] for r in client.get("/api/overview").json()["statuses"]}["KRW-BTC"]
    assert status["action"] == "BUY" and sizing in status["detail"]  # whole, not cut
    assert sizing in rows_of(client.get("/history/").content.decode())[0]


def test_a_cycle_scale_out_is_listed_by_level_and_the_rest_stays_open(
    btc,
    client,
    operator,
    monkeypatch,
):
    save_strategy_version(
        symbols=["KRW-BTC"], params=strategy_as_dict(default_strategy())["regimes"], note="tests"
    )
    monkeypatch.setattr(cycle, "entry_signal", buy_signal)
    run(btc.iloc[:-1])
    partial = Signal(
        "SELL",
        "PARTIAL_TAKE_PROFIT",
        "PARTIAL_TAKE_PROFIT level 1 at 12,300,000.00: sell 50% of the position",
        {"close": 12_300_000.0},
        "PARTIAL_TAKE_PROFIT",
        12_300_000.0,
        1,
        50.0,
    )
    monkeypatch.setattr(cycle, "exit_signal", lambda *a, **k: partial)
    [result] = run(btc)
    assert result.action == "SELL"
    [row] = rows_of(client.get("/history/?side=SELL").content.decode())
    assert "Partial take profit (level 1)" in row
    assert Trade.objects.get(side="SELL").signal_info["partial_levels_done"] == 1


def test_a_reentry_cooldown_refusal_shows_on_the_risk_page_like_other_refusals(client, operator):
    RiskAudit.objects.create(violation_type="MAX_POSITIONS", description="3 positions open, limit 3")
    refusal = reentry_refusal(at=timezone.now() - timedelta(minutes=5))
    html = client.get("/risk/").content.decode()
    assert ">REENTRY_COOLDOWN</option>" in html  # offered by the type filter
    [row] = [r for r in rows_of(html, "audit") if "REENTRY_COOLDOWN" in r]
    assert refusal.description in row and "KRW-BTC" in row
    assert 'title="refused: this symbol was sold less than the strategy&#x27;s re-entry cooldown ago' in html
    filtered = rows_of(client.get("/risk/?type=REENTRY_COOLDOWN").content.decode(), "audit")
    assert len(filtered) == 1 and "MAX_POSITIONS" not in filtered[0]
