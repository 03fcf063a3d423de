"""Position management options against trades computed by hand: a scale-out's PnL (FIFO against
the one lot), break-even after it, an ATR stop's price, risk-per-trade and Kelly sizing, the
re-entry cooldown and the high-volatility halving from the stored volatility history. Every
option is off by default, which the other backtest tests keep proving."""

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN
from decimal import Decimal as D

import pytest

from market import indicators as ind
from trading import positions, risk
from trading.backtest import BacktestOptions, run_backtest, run_portfolio
from trading.config import default_risk, default_strategy

from .test_backtest import NO_SLIP, T0, Path, setup_bounce, two_bounces

RISK = default_risk()
Q8 = D("0.00000001")
FEE = D("0.0005")


def with_bear(**changes):
    """The default strategy with BEAR's parameters changed (the fixtures trade BEAR)."""
    params = default_strategy()
    bear = params.regimes["BEAR"].model_copy(update=changes)
    bear = type(bear).model_validate(bear.model_dump())  # the rules between parameters still hold
    return dataclasses.replace(params, regimes={**params.regimes, "BEAR": bear})


def fee(price: D, qty: D) -> D:
    return (price * qty * FEE).quantize(Q8)


# --- scale-out


def test_a_scale_out_sells_half_at_the_level_and_the_rest_at_take_profit_with_fifo_pnl():
    # entry filled at 96,500 (bar 41); level 1 at +1 % = 97,465: bar 42 closes 97,500 -> sold at
    # bar 43's open; BEAR's take profit +2.5 % = 98,912.5: bar 43 closes 99,000 -> bar 44's open
    bars = setup_bounce().bar(96_500).bar(97_500).bar(99_000).flat(2).bars()
    params = with_bear(partial_tp_1_pct=1.0, partial_tp_1_sell_pct=50)
    result = run_backtest("KRW-BTC", bars, params, RISK, NO_SLIP)
    (trade,) = result.trades
    qty = (D(500_000) / (D(96_500) * D("1.0005"))).quantize(Q8, rounding=ROUND_DOWN)
    fee_in = fee(D(96_500), qty)
    q1 = (qty * D(50) / 100).quantize(Q8, rounding=ROUND_DOWN)
    share1 = (fee_in * q1 / qty).quantize(Q8)  # the entry fee that goes with the first half
    pnl1 = (D(97_500) - D(96_500)) * q1 - fee(D(97_500), q1) - share1
    q2 = qty - q1
    pnl2 = (D(99_000) - D(96_500)) * q2 - fee(D(99_000), q2) - (fee_in - share1)
    first, last = trade.exits
    assert (first.index, first.price, first.quantity, first.reason) == (
        43,
        D(97_500),
        q1,
        "PARTIAL_TAKE_PROFIT",
    )
    assert (last.index, last.price, last.quantity, last.reason) == (44, D(99_000), q2, "TAKE_PROFIT")
    assert (first.pnl, last.pnl) == (pnl1, pnl2)
    assert trade.pnl == pnl1 + pnl2 and trade.exit_reason == "TAKE_PROFIT"
    # the money: what the account holds at the end is the initial cash plus the realised PnL
    assert result.equity[-1] == pytest.approx(10_000_000 + float(pnl1 + pnl2))
    reasons = result.stats["by_exit_reason"]
    assert reasons["PARTIAL_TAKE_PROFIT"]["count"] == 1 and reasons["TAKE_PROFIT"]["count"] == 1
    assert result.stats["scale_outs"] == 1 and result.stats["trades"] == 1


def test_two_levels_crossed_in_one_bar_sell_together():
    bars = setup_bounce().bar(96_500).bar(98_000).flat(2).bars()  # +1.55 %: past +1 % and +1.5 %
    params = with_bear(
        partial_tp_1_pct=1.0, partial_tp_1_sell_pct=30, partial_tp_2_pct=1.5, partial_tp_2_sell_pct=30
    )
    (trade,) = run_backtest("KRW-BTC", bars, params, RISK, NO_SLIP).trades
    (sale,) = trade.exits
    assert sale.quantity == (trade.quantity * D(60) / 100).quantize(Q8, rounding=ROUND_DOWN)
    assert trade.exit_at is None and trade.held == trade.quantity - sale.quantity


def test_break_even_after_the_first_level_stops_the_rest_at_the_entry_price():
    path = setup_bounce().bar(96_500).bar(97_500).bar(96_400).flat(2)  # back below the entry
    params = with_bear(partial_tp_1_pct=1.0, breakeven_after_partial=True)
    trade = run_backtest("KRW-BTC", path.bars(), params, RISK, NO_SLIP).trades[0]
    assert [e.reason for e in trade.exits] == ["PARTIAL_TAKE_PROFIT", "STOP_LOSS"]
    assert trade.exits[1].index == 44  # decided on bar 43's close 96,400 <= 96,500
    without = with_bear(partial_tp_1_pct=1.0)
    (kept,) = run_backtest("KRW-BTC", path.bars(), without, RISK, NO_SLIP).trades
    assert [e.reason for e in kept.exits] == ["PARTIAL_TAKE_PROFIT"]  # 2 % below is 94,570


def test_a_part_below_the_minimum_order_sells_the_whole_position():
    assert positions.scale_out_quantity(
        initial=D(1), held=D(1), share_pct=30, price=D(10_000), min_order=D(5000)
    ) == D(1)  # 3,000 KRW would be refused by Upbit
    assert positions.scale_out_quantity(
        initial=D(1), held=D(1), share_pct=60, price=D(10_000), min_order=D(5000)
    ) == D(1)  # the rest, 4,000 KRW, could never be sold
    assert positions.scale_out_quantity(
        initial=D(2), held=D(2), share_pct=50, price=D(10_000), min_order=D(5000)
    ) == D(1)


def test_scale_out_levels_are_validated_in_a_traders_words():
    from trading.config import ConfigError, load_defaults, parse_strategy

    data = load_defaults()
    bear = data["regimes"]["BEAR"] | {"partial_tp_2_pct": 1.0, "partial_tp_3_pct": 0.5}
    with pytest.raises(ConfigError) as refused:
        parse_strategy(data["symbols"], data["regimes"] | {"BEAR": bear})
    assert "scale-out level 2 is set but level 1 is empty" in str(refused.value)
    bear = data["regimes"]["BEAR"] | {"partial_tp_1_pct": 2.0, "partial_tp_2_pct": 1.0}
    with pytest.raises(ConfigError, match="scale-out levels must rise"):
        parse_strategy(data["symbols"], data["regimes"] | {"BEAR": bear})
    bear = data["regimes"]["BEAR"] | {"partial_tp_1_pct": 3.0}
    with pytest.raises(ConfigError, match=r"not below the take profit \(2.5%\)"):
        parse_strategy(data["symbols"], data["regimes"] | {"BEAR": bear})
    levels = {"partial_tp_1_pct": 1.0, "partial_tp_1_sell_pct": 80, "partial_tp_2_pct": 2.0}
    bear = data["regimes"]["BEAR"] | levels | {"partial_tp_2_sell_pct": 30}
    with pytest.raises(ConfigError, match="sell 110% of the position: at most 100%"):
        parse_strategy(data["symbols"], data["regimes"] | {"BEAR": bear})


# --- ATR exits


def entry_atr() -> float:
    bars = setup_bounce().bars()
    atr = float(ind.atr(bars.high, bars.low, bars.close)[40])
    assert atr == pytest.approx((13 * 100 + 400) / 14)  # 100 a bar down, then a 400 bounce
    return atr


def test_an_atr_stop_sits_k_atr_below_the_entry_price():
    stop = 96_500 - 2 * entry_atr()  # 96,257.14, far above the 2 % stop at 94,570
    bars = setup_bounce().bar(96_500).bar(96_250).flat(2).bars()
    params = with_bear(atr_stop_k=2)
    (trade,) = run_backtest("KRW-BTC", bars, params, RISK, NO_SLIP).trades
    assert 96_250 <= stop and (trade.exit_index, trade.exit_reason) == (43, "STOP_LOSS")
    holds = setup_bounce().bar(96_500).bar(96_300).flat(2).bars()  # 96,300 > the stop
    (held,) = run_backtest("KRW-BTC", holds, params, RISK, NO_SLIP).trades
    assert held.exit_at is None
    (pct,) = run_backtest("KRW-BTC", bars, default_strategy(), RISK, NO_SLIP).trades
    assert pct.exit_at is None  # the percentage stop would not fire at 96,250


def test_an_atr_take_profit_and_trailing_stop():
    tp = 96_500 + 3 * entry_atr()  # 96,864.3
    bars = setup_bounce().bar(96_500).bar(96_900).flat(2).bars()
    trade = run_backtest("KRW-BTC", bars, with_bear(atr_take_profit_k=3), RISK, NO_SLIP).trades[0]
    assert 96_900 >= tp and trade.exit_reason == "TAKE_PROFIT"
    # trailing: active from +0.8 % (97,272), then k x the bar's ATR below the high
    path = setup_bounce().bar(96_500).bar(97_400).bar(97_500).bar(97_200).flat(2)
    bars = path.bars()
    atr = ind.atr(bars.high, bars.low, bars.close)
    assert 97_200 <= 97_500 - 1 * atr[44]  # a 1 x ATR trail fires at bar 44
    (trailed,) = run_backtest("KRW-BTC", bars, with_bear(atr_trailing_k=1), RISK, NO_SLIP).trades
    assert (trailed.exit_index, trailed.exit_reason) == (45, "TRAILING_STOP")
    (pct,) = run_backtest("KRW-BTC", bars, default_strategy(), RISK, NO_SLIP).trades
    assert pct.exit_reason != "TRAILING_STOP" or pct.exit_index != 45  # 1.2 % trail is 96,330


# --- sizing


def test_risk_per_trade_sizes_by_the_stop_distance_and_the_max_position_caps_it():
    bars = setup_bounce().bar(96_500).flat(3).bars()
    (trade,) = run_backtest("KRW-BTC", bars, with_bear(risk_per_trade_pct=0.05), RISK, NO_SLIP).trades
    # 0.05 % of 10,000,000 at risk over BEAR's 2 % stop: 2.5 % of equity, 250,000 KRW
    assert trade.entry_price * trade.quantity + trade.entry_fee == pytest.approx(250_000, abs=1)
    assert trade.sizing == "size 2.5 % (250,000 KRW) = risk 0.05 % / stop 2 %"
    (capped,) = run_backtest("KRW-BTC", bars, with_bear(risk_per_trade_pct=1), RISK, NO_SLIP).trades
    assert capped.sizing == "size 5 % (500,000 KRW) = risk 1 % / stop 2 %, capped at max position 5 %"
    # with the ATR stop: stop distance 2 x 121.43 / 96,500 = 0.2517 %
    atr_params = with_bear(risk_per_trade_pct=0.01, atr_stop_k=2)
    (atr_sized,) = run_backtest("KRW-BTC", bars, atr_params, RISK, NO_SLIP).trades
    stop = D(repr(2 * entry_atr() / 96_500 * 100)).quantize(D("0.0001"))
    assert stop == D("0.2517")
    krw = (D(10_000_000) * (D("0.01") / stop * 100) / 100).quantize(D(1))
    assert krw == D(397_298) and atr_sized.sizing.startswith(
        "size 3.97 % (397,298 KRW) = risk 0.01 % / stop 0.25 %"
    )


def test_kelly_cap_by_hand():
    returns = [D("0.03"), D("-0.01"), D("-0.01"), D("0.03"), D("-0.01")]
    # W = 0.4, R = 0.03 / 0.01 = 3: f* = 0.4 - 0.6 / 3 = 0.2; a tenth of it is 2 % of equity
    assert risk.kelly_cap_pct(returns, D("0.1")) == D("2.0000")
    assert risk.kelly_cap_pct([D("0.01"), D("-0.02")] * 2, D("0.25")) == 0  # no edge: no bet
    assert risk.kelly_cap_pct([D("0.01")] * 5, D("0.25")) == D("25.0000")  # never lost: f* = W


def kelly_context(returns, fraction=0.1, trades=5, cash=D(10_000_000)) -> risk.EntryContext:
    params = with_bear(kelly_fraction=fraction, kelly_trades=trades).regimes["BEAR"]
    return risk.EntryContext(
        symbol="KRW-BTC", now=datetime(2026, 3, 2, tzinfo=UTC), cash=cash, exposure=D(0), open_positions=0,
        day=risk.DayState(starting_equity=cash), limits=RISK,
        sizing=positions.entry_sizing(params, 96_500.0, 121.4, returns),
    )  # fmt: skip


def test_the_kelly_cap_limits_the_size_and_says_so():
    returns = [D("0.03"), D("-0.01"), D("-0.01"), D("0.03"), D("-0.01")]
    size, block = risk.decide_entry(kelly_context(returns))
    assert block is None and size.krw == D(200_000)
    assert size.reason == (
        "size 2 % (200,000 KRW) = max position 5 %, "
        "capped at 2 % by Kelly (0.1 x Kelly over the last 5 trades)"
    )
    size, _ = risk.decide_entry(kelly_context(returns[1:]))  # 4 trades: fewer than 5, no cap
    assert size.krw == D(500_000) and "Kelly" not in size.reason
    size, block = risk.decide_entry(kelly_context([D("0.01"), D("-0.02")] * 3, trades=6))
    assert size.krw == 0 and block.violation_type == "BELOW_MIN_ORDER"
    assert "capped at 0 % by Kelly" in block.description  # the refusal says why the size is 0


def test_the_backtest_reads_kelly_from_the_symbols_own_earlier_trades():
    losing = two_bounces("STOP_LOSS")  # the first trade loses, then a second setup
    params = with_bear(kelly_fraction=0.25, kelly_trades=5)
    result = run_backtest("KRW-BTC", losing, params, RISK, NO_SLIP)
    assert len(result.trades) == 2  # one closed trade: fewer than 5, no cap
    strict = with_bear(kelly_fraction=0.25, kelly_trades=5)
    strict = dataclasses.replace(
        strict,
        regimes={**strict.regimes, "BEAR": strict.regimes["BEAR"].model_copy(update={"kelly_trades": 1})},
    )
    refused = run_backtest("KRW-BTC", losing, strict, RISK, NO_SLIP)  # one loss: no edge, no bet
    assert len(refused.trades) == 1 and set(refused.stats["blocked_by_risk"]) == {"BELOW_MIN_ORDER"}


def test_high_volatility_halves_the_entry_from_the_stored_history():
    bars = setup_bounce().bar(96_500).flat(3).bars()
    (normal,) = run_backtest("KRW-BTC", bars, default_strategy(), RISK, NO_SLIP).trades
    high = dataclasses.replace(NO_SLIP, volatility=((T0 - 86_400, True),))
    (halved,) = run_backtest("KRW-BTC", bars, default_strategy(), RISK, high).trades
    assert halved.sizing.endswith("halved: high volatility")
    assert halved.quantity == (D(250_000) / (D(96_500) * D("1.0005"))).quantize(Q8, rounding=ROUND_DOWN)
    assert normal.quantity > halved.quantity
    later = dataclasses.replace(NO_SLIP, volatility=((T0 - 86_400, True), (T0, False)))  # calm again
    (calm,) = run_backtest("KRW-BTC", bars, default_strategy(), RISK, later).trades
    assert calm.quantity == normal.quantity


# --- re-entry cooldown


@pytest.mark.parametrize(("minutes", "trades"), [(0, 2), (30, 2), (60, 1)])
def test_re_entry_cooldown_after_an_exit(minutes, trades):
    bars = two_bounces("TAKE_PROFIT")  # the second setup decides 42 minutes after the first exit
    result = run_backtest("KRW-BTC", bars, with_bear(reentry_cooldown_minutes=minutes), RISK, NO_SLIP)
    assert len(result.trades) == trades
    if trades == 1:
        assert result.stats["blocked_by_risk"] == {"REENTRY_COOLDOWN": 1}


def test_re_entry_cooldown_rule_words():
    sold = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    p = with_bear(reentry_cooldown_minutes=45).regimes["BEAR"]
    until = positions.reentry_until(p, sold)
    assert until == sold + timedelta(minutes=45)
    ctx = dataclasses.replace(
        kelly_context([]), sizing=None, reentry_until=until, now=sold + timedelta(minutes=44)
    )
    _, block = risk.decide_entry(ctx)
    assert (block.violation_type, block.description) == (
        "REENTRY_COOLDOWN", "KRW-BTC was sold lately: no new entry until 09:45 KST"
    )  # fmt: skip
    assert risk.decide_entry(dataclasses.replace(ctx, now=until))[1] is None


# --- a portfolio shares one account


def test_a_portfolio_shares_the_positions_limit_in_the_symbols_order():
    bars = setup_bounce().bar(96_500).flat(3).bars()  # the same setup in both symbols, same minute
    one = dataclasses.replace(RISK, max_concurrent_positions=1)
    result = run_portfolio({"KRW-ETH": bars, "KRW-BTC": bars}, default_strategy(), one, NO_SLIP)
    assert [t.symbol for t in result.trades] == ["KRW-ETH"]  # the first listed gets the slot
    assert result.refusals[0][1:] == ("KRW-BTC", "MAX_POSITIONS")
    both = run_portfolio({"KRW-ETH": bars, "KRW-BTC": bars}, default_strategy(), RISK, NO_SLIP)
    assert len(both.trades) == 2 and both.exposure_pct.max() == pytest.approx(10, abs=0.1)
    # the second entry is sized from the equity left after the first paid its fee
    eth, btc = both.trades
    assert (
        (eth.symbol, btc.symbol) == ("KRW-ETH", "KRW-BTC")
        and btc.cost < eth.cost
        and both.per_symbol["KRW-BTC"]["open_trades"] == 1
    )


def test_portfolio_equity_marks_every_symbol_at_its_latest_close():
    a = setup_bounce().bar(96_500).flat(3).bars()
    b = Path(50_000).flat(len(a)).bars()  # no setup: never traded
    result = run_portfolio({"KRW-BTC": a, "KRW-XRP": b}, default_strategy(), RISK, NO_SLIP)
    (trade,) = result.trades
    assert result.equity[-1] == pytest.approx(10_000_000 - float(trade.cost) + float(trade.quantity) * 96_500)
    assert BacktestOptions().volatility == ()


# --- the live books: a scale-out sale, the Kelly record, two entries in one cycle


def scale_out(quantity: D, levels: int, at, reason="PARTIAL_TAKE_PROFIT", price="102000000"):
    from trading import booking
    from trading.fills import sell_fill

    fill = sell_fill(quantity=quantity, reference=D(price))
    return booking.book_sell(
        symbol="KRW-BTC", fill=fill, client_order_id=f"KRW-BTC-{at:%H%M}-SELL", reason=reason, at=at,
        limits=RISK, signal_info={"partial_levels_done": levels} if reason == "PARTIAL_TAKE_PROFIT" else {},
    )  # fmt: skip


@pytest.mark.django_db
def test_a_scale_out_sale_books_its_share_of_the_lot_and_keeps_the_rest(
    django_capture_on_commit_callbacks, redis_conn
):
    from trading import booking
    from trading.models import Position

    from .test_booking import T0 as BOOKED
    from .test_booking import assert_books_balance, buy

    with django_capture_on_commit_callbacks(execute=True):
        bought = buy()
    position = Position.objects.get()
    assert position.initial_quantity == bought.quantity and position.partials_taken == 0
    half = (bought.quantity / 2).quantize(Q8, rounding=ROUND_DOWN)
    with django_capture_on_commit_callbacks(execute=True):
        first = scale_out(half, 1, BOOKED + timedelta(minutes=5))
    share = (bought.fee * half / bought.quantity).quantize(Q8)
    assert D(first.signal_info["pnl"]) == ((first.price - bought.price) * half - first.fee - share).quantize(
        Q8
    )  # FIFO against the one lot: its price and its share of the entry fee
    assert first.signal_info["entry_regime"] == "BULL" and D(first.signal_info["entry_cost"]) == (
        bought.price * half + share
    )
    position.refresh_from_db()
    assert (position.quantity, position.partials_taken) == (bought.quantity - half, 1)
    assert position.entry_fee == bought.fee - share
    assert redis_conn.get(booking.hwm_key("KRW-BTC")) is not None  # the rest keeps its high-water mark
    with django_capture_on_commit_callbacks(execute=True):
        last = scale_out(bought.quantity - half, 0, BOOKED + timedelta(minutes=9), reason="TAKE_PROFIT")
    assert D(last.signal_info["entry_fee"]) == bought.fee - share  # the last sale takes the rest
    assert not Position.objects.exists() and redis_conn.get(booking.hwm_key("KRW-BTC")) is None
    returns = booking.recent_returns("KRW-BTC", "BULL", 5)
    pnl = D(first.signal_info["pnl"]) + D(last.signal_info["pnl"])
    assert returns == [(pnl / (bought.price * bought.quantity + bought.fee)).quantize(Q8)]
    assert booking.recent_returns("KRW-BTC", "BEAR", 5) == []
    assert booking.last_exits() == {"KRW-BTC": last.executed_at}
    assert_books_balance()


@pytest.mark.django_db
def test_a_second_entry_in_the_same_cycle_counts_the_first_against_the_limits():
    """Before, every symbol of a cycle saw the positions of its start: two entries in one minute
    could pass a limit of one position."""
    import pandas as pd

    from trading.config import load_defaults, save_risk_version, save_strategy_version, strategy_as_dict
    from trading.executors.paper import PaperExecutor
    from trading.models import RiskAudit, Trade, TradeMode
    from trading.replay import replay

    bars = setup_bounce().bar(96_500).flat(3).bars()
    stamps = pd.to_datetime(bars.ts, unit="s", utc=True)
    frame = pd.DataFrame(
        {"open": bars.open, "high": bars.high, "low": bars.low, "close": bars.close, "volume": bars.volume},
        index=stamps,
    )
    save_strategy_version(
        symbols=["KRW-ETH", "KRW-BTC"], params=strategy_as_dict(default_strategy())["regimes"]
    )
    save_risk_version(values=load_defaults()["risk"] | {"max_concurrent_positions": 1})
    decided = datetime.fromtimestamp(int(bars.ts[40]) + 60, UTC)
    frames, end = {"KRW-ETH": frame, "KRW-BTC": frame}, decided + timedelta(minutes=1)
    executor = PaperExecutor(slippage_bps=D(0), mode=TradeMode.REPLAY)
    replay(frames, start=decided, end=end, regime="BEAR", executor=executor)
    assert list(Trade.objects.values_list("symbol", flat=True)) == ["KRW-ETH"]
    refused = RiskAudit.objects.get()
    assert (refused.symbol, refused.violation_type, refused.created_at) == (
        "KRW-BTC",
        "MAX_POSITIONS",
        decided,
    )


def test_a_symbol_without_bars_is_refused_in_words():
    empty = Path(100).bars().tail(0)
    with pytest.raises(ValueError, match="no bars to backtest for KRW-ETH"):
        run_portfolio({"KRW-BTC": setup_bounce().bars(), "KRW-ETH": empty}, default_strategy(), RISK, NO_SLIP)
    with pytest.raises(ValueError, match="no bars to backtest for KRW-BTC"):
        run_backtest("KRW-BTC", empty, default_strategy(), RISK, NO_SLIP)


@pytest.mark.django_db
def test_trading_history_leaves_room_for_updates_on_postgresql():
    """trading/0010: trades are updated after insertion (post-exit windows); free room on each
    page lets PostgreSQL update them without writing every index."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL storage parameter")
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'trading_history'")
        assert cursor.fetchone()[0] == ["fillfactor=80"]
