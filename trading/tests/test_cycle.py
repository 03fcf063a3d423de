"""The bot cycle's story: entries, exits, HWM, risk blocks, AI vetoes, isolation, status, recovery."""

import json
from datetime import timedelta
from decimal import Decimal

import django_rq
import pandas as pd
import pytest

from agents import gate
from conftest import TEST_DATA
from market.models import RegimeHistory
from trading import cycle
from trading.config import default_strategy, save_strategy_version, strategy_as_dict
from trading.decided import DatabaseLedger
from trading.executors.paper import PaperExecutor
from trading.models import Position, RiskAudit, Trade, TradingControl
from trading.strategy import Signal

pytestmark = pytest.mark.django_db

CSV = TEST_DATA / "upbit_krw_btc_1m_20180125.csv"


@pytest.fixture(scope="module")
def btc() -> pd.DataFrame:
    frame = pd.read_csv(CSV, parse_dates=["timestamp"]).set_index("timestamp")
    return frame.tail(1200)


def trade_symbols(*symbols: str) -> None:
    """Activate a strategy version with the default parameters for these symbols."""
    regimes = strategy_as_dict(default_strategy())["regimes"]
    save_strategy_version(symbols=list(symbols), params=regimes, note="tests")


@pytest.fixture
def strategy_for_btc():
    trade_symbols("KRW-BTC")  # the CSV's market


class StubMarket:
    """In-memory market: one frame per symbol, a fixed regime, fills at the last close; decided
    bars are claimed in the database, as the live cycle does."""

    def __init__(self, frames: dict[str, pd.DataFrame], regime: str = "BULL"):
        self.frames, self.regime_value = frames, regime

    def market(self) -> cycle.Market:
        return cycle.Market(
            candles=lambda symbols, now: {s: self.frames[s] for s in symbols if s in self.frames},
            regime=lambda symbol, now: self.regime_value,
            quote=lambda symbol, now, frame: cycle.Quote(Decimal(str(frame["close"].iloc[-1])), now),
            ledger=DatabaseLedger(),
        )


def now_after(frame: pd.DataFrame):
    return frame.index[-1].to_pydatetime() + timedelta(seconds=65)


def run(frame, *, regime="BULL", slot=None, executor=None):
    now = now_after(frame)
    return cycle.run_cycle(
        now=now,
        slot=slot or now.replace(second=0),
        market=StubMarket({"KRW-BTC": frame}, regime).market(),
        executor=executor or PaperExecutor(slippage_bps=Decimal(5)),
    )


def buy_signal(*args, **kwargs) -> Signal:
    return Signal("BUY", "ENTRY", "all BULL entry checks pass", {"close": 12_000_000.0, "rsi14": 40.0})


def status(redis_conn, symbol="KRW-BTC") -> dict:
    return json.loads(redis_conn.get(f"bot:status:{symbol}"))


def test_every_symbol_gets_a_status_with_the_reason(btc, strategy_for_btc, redis_conn):
    [result] = run(btc)
    data = status(redis_conn)
    assert data["action"] == result.action == "HOLD"
    assert data["reason"] == result.reason and data["regime"] == "BULL"
    assert data["ai"] == gate.AI_OFF and data["price"] == btc["close"].iloc[-1]
    assert 0 < redis_conn.ttl("bot:status:KRW-BTC") <= 300


def test_rule_approved_buy_is_executed_with_ai_off(btc, strategy_for_btc, monkeypatch, redis_conn):
    monkeypatch.setattr(cycle, "entry_signal", buy_signal)
    [result] = run(btc)
    trade = Trade.objects.get()
    assert result.action == "BUY" and trade.side == "BUY" and trade.status == "FILLED"
    assert trade.client_order_id == f"KRW-BTC-{now_after(btc):%Y%m%dT%H%M}-BUY"
    assert trade.signal_info["ai"] == gate.AI_OFF
    # 5 % of 10,000,000 KRW equity, fee included
    assert trade.amount + trade.fee <= Decimal("500000") < trade.amount + trade.fee + trade.price / 10**7
    assert status(redis_conn)["action"] == "BUY"


@pytest.mark.books_written_by_hand  # deletes/creates a position without booking it
def test_a_retried_slot_does_not_trade_twice_even_after_a_redis_flush(
    btc, strategy_for_btc, monkeypatch, redis_conn
):
    monkeypatch.setattr(cycle, "entry_signal", buy_signal)
    slot = now_after(btc).replace(second=0)
    run(btc, slot=slot)
    redis_conn.flushdb()  # forget which bar was decided: only the order id stands in the way
    Position.objects.all().delete()
    run(btc, slot=slot)
    assert Trade.objects.count() == 1


def test_each_bar_is_decided_once(btc, strategy_for_btc, monkeypatch):
    monkeypatch.setattr(cycle, "entry_signal", buy_signal)
    TradingControl.objects.update_or_create(pk=1, defaults={"kill_switch": True})
    [first] = run(btc)
    [again] = run(btc, slot=now_after(btc) + timedelta(minutes=1))  # no new bar since
    assert (first.action, again.action, again.reason) == ("BLOCKED", "WAITING", "NO_NEW_BAR")
    assert RiskAudit.objects.count() == 1


def test_risk_block_is_audited_and_reported(btc, strategy_for_btc, monkeypatch, redis_conn):
    monkeypatch.setattr(cycle, "entry_signal", buy_signal)
    TradingControl.objects.update_or_create(pk=1, defaults={"kill_switch": True})
    [result] = run(btc)
    assert (result.action, result.reason) == ("BLOCKED", "KILL_SWITCH")
    assert RiskAudit.objects.get().violation_type == "KILL_SWITCH"
    assert not Trade.objects.exists()


def test_ai_veto_means_no_buy(btc, strategy_for_btc, monkeypatch):
    monkeypatch.setattr(cycle, "entry_signal", buy_signal)
    monkeypatch.setattr(
        gate, "ask", lambda request: gate.GateVerdict(False, "Guardian: WARNING falling knife")
    )
    [result] = run(btc)
    assert (result.action, result.detail) == ("VETOED", "Guardian: WARNING falling knife")
    assert not Trade.objects.exists()


def test_a_failing_ai_gate_is_a_veto(btc, strategy_for_btc, monkeypatch):
    monkeypatch.setattr(cycle, "entry_signal", buy_signal)

    def broken(request):
        raise TimeoutError("agent hung")

    monkeypatch.setattr(gate, "ask", broken)
    [result] = run(btc)
    assert result.action == "VETOED" and "TimeoutError: agent hung" in result.detail
    assert not Trade.objects.exists()


def test_exit_sells_the_position_and_books_the_reason(btc, strategy_for_btc, monkeypatch):
    monkeypatch.setattr(cycle, "entry_signal", buy_signal)
    run(btc.iloc[:-1])
    monkeypatch.setattr(
        cycle,
        "exit_signal",
        lambda *a, **k: Signal(
            "SELL", "STOP_LOSS", "STOP_LOSS at 11,000,000", {"close": 11_000_000.0}, "STOP_LOSS", 12_000_000.0
        ),
    )
    [result] = run(btc)
    sell = Trade.objects.get(side="SELL")
    assert result.action == "SELL" and sell.exit_reason == "STOP_LOSS"
    assert not Position.objects.exists()


def test_hwm_rises_in_the_row_and_redis_and_survives_a_redis_flush(
    btc, strategy_for_btc, monkeypatch, redis_conn
):
    monkeypatch.setattr(cycle, "entry_signal", buy_signal)
    run(btc.iloc[:-2])
    position = Position.objects.get()
    higher = float(position.avg_price) * 1.01
    monkeypatch.setattr(
        cycle,
        "exit_signal",
        lambda bars, trade, regime, params: Signal(
            "HOLD", "HOLD", "no exit", {"close": higher}, "", max(higher, trade.high_water_mark)
        ),
    )
    run(btc.iloc[:-1])
    assert float(Position.objects.get().high_water_mark) == pytest.approx(higher)
    assert float(redis_conn.get(f"position:{position.symbol}:hwm")) == pytest.approx(higher)

    redis_conn.flushdb()  # Redis lost: the HWM comes back from the Position row
    seen = []
    monkeypatch.setattr(
        cycle,
        "exit_signal",
        lambda bars, trade, regime, params: (
            seen.append(trade.high_water_mark)
            or Signal("HOLD", "HOLD", "no exit", {"close": higher}, "", trade.high_water_mark)
        ),
    )
    run(btc)
    assert seen == [pytest.approx(higher)]


def test_regime_falls_back_to_the_database_when_redis_has_none(btc, strategy_for_btc, redis_conn):
    from trading.markets import live_market

    RegimeHistory.objects.create(coin_symbol="KRW-BTC", regime="BEAR")
    assert live_market().regime("KRW-BTC", now_after(btc)) == "BEAR"
    redis_conn.set("market:regime:KRW-BTC", "BULL")
    assert live_market().regime("KRW-BTC", now_after(btc)) == "BULL"


def test_the_cycle_reads_every_symbols_regime_at_once(btc, strategy_for_btc, redis_conn):
    from trading.markets import live_market

    trade_symbols("KRW-ETH", "KRW-BTC")
    RegimeHistory.objects.create(coin_symbol="KRW-ETH", regime="SIDEWAYS")
    redis_conn.set("market:regime:KRW-BTC", "BEAR")
    market, asked = StubMarket({"KRW-BTC": btc, "KRW-ETH": btc}).market(), []
    market.regime = lambda symbol, now: pytest.fail("read per symbol")
    market.regimes = lambda symbols, now: asked.append(list(symbols)) or live_market().regimes(symbols, now)
    results = run_with(market, btc)
    assert asked == [["KRW-ETH", "KRW-BTC"]]
    assert {r.symbol: r.regime for r in results} == {"KRW-ETH": "SIDEWAYS", "KRW-BTC": "BEAR"}


def test_a_failed_read_of_all_regimes_falls_back_to_one_symbol_at_a_time(btc, strategy_for_btc):
    market = StubMarket({"KRW-BTC": btc}, regime="SIDEWAYS").market()
    market.regimes = lambda symbols, now: 1 / 0
    results = run_with(market, btc)
    assert [(r.action, r.regime) for r in results] == [("HOLD", "SIDEWAYS")]


def run_with(market, frame):
    now = now_after(frame)
    return cycle.run_cycle(
        now=now, slot=now.replace(second=0), market=market, executor=PaperExecutor(slippage_bps=Decimal(5))
    )


def test_one_symbols_error_is_alerted_and_the_others_go_on(
    btc, strategy_for_btc, django_capture_on_commit_callbacks
):
    trade_symbols("KRW-ETH", "KRW-BTC")
    market = StubMarket({"KRW-BTC": btc, "KRW-ETH": btc}).market()
    market.regime = lambda symbol, now: 1 / 0 if symbol == "KRW-ETH" else "BULL"
    now = now_after(btc)
    with django_capture_on_commit_callbacks(execute=True):
        results = cycle.run_cycle(
            now=now, slot=now, market=market, executor=PaperExecutor(slippage_bps=Decimal(5))
        )
    assert [(r.symbol, r.action) for r in results] == [("KRW-ETH", "ERROR"), ("KRW-BTC", "HOLD")]
    alerts = [job.args for job in django_rq.get_queue("notifications").jobs]
    assert alerts[0][0] == "system" and "ZeroDivisionError" in alerts[0][1]["detail"]


def test_stale_data_stops_decisions(btc, strategy_for_btc):
    now = now_after(btc) + timedelta(minutes=10)
    [result] = cycle.run_cycle(
        now=now,
        slot=now,
        market=StubMarket({"KRW-BTC": btc}).market(),
        executor=PaperExecutor(slippage_bps=Decimal(5)),
    )
    assert (result.action, result.reason) == ("SKIPPED", "STALE_DATA")


def test_a_symbol_without_candles_is_skipped(btc, strategy_for_btc):
    now = now_after(btc)
    [result] = cycle.run_cycle(
        now=now, slot=now, market=StubMarket({}).market(), executor=PaperExecutor(slippage_bps=Decimal(5))
    )
    assert (result.action, result.reason) == ("SKIPPED", "NO_DATA")


def test_a_stale_hwm_left_in_redis_by_an_earlier_position_is_ignored(
    btc, strategy_for_btc, monkeypatch, redis_conn
):
    monkeypatch.setattr(cycle, "entry_signal", buy_signal)
    run(btc.iloc[:-1])
    redis_conn.set("position:KRW-BTC:hwm", "999999999")  # left over from a position sold earlier
    seen = []
    monkeypatch.setattr(
        cycle,
        "exit_signal",
        lambda bars, trade, regime, params: (
            seen.append(trade.high_water_mark)
            or Signal("HOLD", "HOLD", "no exit", {"close": 1.0}, "", trade.high_water_mark)
        ),
    )
    run(btc)
    assert seen == [float(Position.objects.get().high_water_mark)]


def test_the_optional_backtest_gate_refuses_a_poor_symbol(btc, strategy_for_btc, monkeypatch, settings):
    monkeypatch.setattr(cycle, "entry_signal", buy_signal)
    settings.COINPILOT_BACKTEST_GATE = True
    monkeypatch.setattr(
        "trading.backtest_gate._run", lambda symbol, now: "backtest gate: win rate 20 % < 35 %"
    )
    [result] = run(btc)
    assert (result.action, result.reason) == ("BLOCKED", "BACKTEST_GATE")
    assert RiskAudit.objects.get().description == "backtest gate: win rate 20 % < 35 %"


def test_the_ai_gets_the_regimes_prefilter_threshold_and_a_bounded_share_of_the_cycle(
    btc, strategy_for_btc, monkeypatch, settings
):
    monkeypatch.setattr(cycle, "entry_signal", buy_signal)
    monkeypatch.setattr(gate, "enabled", lambda: True)
    asked = []
    monkeypatch.setattr(gate, "ask", lambda request: asked.append(request) or gate.GateVerdict(False, "no"))
    run(btc.iloc[:-1], regime="BEAR")
    assert asked[0].max_drop_pct_6h == 5.0  # the default BEAR ai_prefilter_max_drop_pct_6h

    settings.AI_CYCLE_BUDGET_SECONDS = -1  # the cycle's AI time is used up
    [result] = run(btc, regime="BEAR")
    assert len(asked) == 1 and result.action == "VETOED" and "not asked" in result.detail
