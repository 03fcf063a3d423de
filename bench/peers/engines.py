"""The two peer engines on CoinPilot's data and entries: vectorbt `from_signals`, backtesting.py.

Both take the bars as given, CoinPilot's entry decisions as a boolean array (computed once, not
timed), and one regime's exit parameters (`trading.parameters.RegimeParams`). Each function runs
one whole backtest and returns (trades, total return %, max drawdown %), so the caller times it.

Timing rule shared by all three engines: a decision on bar i's close fills at bar i+1's open.
vectorbt fills a signal at bar i's close instead; on these bars open[i+1] == close[i] (the
synthetic series opens each bar at the previous close), so the fill price is the same.
"""

import numpy as np
import pandas as pd

INITIAL_KRW = 10_000_000.0
FEE = 0.0005  # Upbit's fee, CoinPilot's trading.fills.FEE_RATE
SLIPPAGE = 0.0005  # CoinPilot's default 5 bps
SIZE = 0.05  # CoinPilot's max_position_size_pct, 5 % of equity
FRACTION = 1e-8  # backtesting.py trades whole units: one unit = 1e-8 BTC (FractionalBacktest)


# --- vectorbt -------------------------------------------------------------------------------


def vectorbt_version() -> str:
    import vectorbt as vbt

    return vbt.__version__


def make_trailing_switch():
    """vectorbt's hook for a stop that changes while held (`adjust_sl_func_nb`): the fixed stop
    until the position is `activation` in profit, then a trailing stop `trail` below the highest
    price since (CoinPilot's trailing_activation_pct and trailing_stop_pct)."""
    from numba import njit

    @njit
    def trailing_switch(c, activation, trail):
        if not c.curr_trail and c.val_price_now >= c.init_price * (1 + activation):
            return trail, True
        return c.curr_stop, c.curr_trail

    return trailing_switch


def vectorbt_run(close: pd.Series, entries: np.ndarray, p, trailing_switch=None, full_stats=False):
    """`Portfolio.from_signals` with the nearest exits vectorbt has: stop loss and take profit as
    fractions of the entry price, checked on the close (no open/high/low passed); with
    `trailing_switch`, the stop turns into CoinPilot's trailing stop once activated. No RSI exit
    (its minimum-profit condition needs the entry price), no time limit, no risk rules.

    Then three figures (total return, max drawdown, trade count), or with `full_stats` vectorbt's
    whole `pf.stats()` report (Sharpe, Sortino, Calmar, win rate, profit factor, exposure, ...),
    the nearer match of CoinPilot's `performance.summarize`."""
    import vectorbt as vbt

    extra = {}
    if trailing_switch is not None:
        extra = {
            "adjust_sl_func_nb": trailing_switch,
            "adjust_sl_args": (p.trailing_activation_pct / 100, p.trailing_stop_pct / 100),
        }
    pf = vbt.Portfolio.from_signals(
        close,
        entries=entries,
        exits=False,
        size=SIZE,
        size_type="percent",  # of the cash; flat at every entry (one position), so of equity
        fees=FEE,
        slippage=SLIPPAGE,
        init_cash=INITIAL_KRW,
        sl_stop=p.stop_loss_pct / 100,
        tp_stop=p.take_profit_pct / 100,
        freq="1min",
        **extra,
    )
    if full_stats:
        stats = pf.stats()
        return int(stats["Total Trades"]), float(stats["Total Return [%]"]), float(stats["Max Drawdown [%]"])
    return int(pf.trades.count()), float(pf.total_return()) * 100, float(pf.max_drawdown()) * -100


# --- backtesting.py -------------------------------------------------------------------------


def backtesting_version() -> str:
    import backtesting

    return backtesting.__version__


def backtesting_frame(bars, entries: np.ndarray, rsi14: np.ndarray) -> pd.DataFrame:
    """OHLCV plus CoinPilot's entry decisions and RSI(14), the columns the strategy reads."""
    index = pd.to_datetime(bars.ts, unit="s", utc=True).tz_localize(None)
    return pd.DataFrame(
        {
            "Open": bars.open,
            "High": bars.high,
            "Low": bars.low,
            "Close": bars.close,
            "Volume": bars.volume,
            "Entry": entries.astype(np.float64),
            "RSI14": rsi14,
        },
        index=index,
    )


def coinpilot_rules(p):
    """A backtesting.py Strategy with CoinPilot's rules for the regime parameters `p`.

    Entry: CoinPilot's decision for the bar (the Entry column) while flat, 5 % of equity. Exit,
    decided on the close in CoinPilot's order: stop loss, trailing stop (active once the highest
    close since entry is `trailing_activation_pct` up), take profit, RSI(14) overbought with the
    minimum profit, time limit (bars are 1 minute). Orders fill at the next bar's open.
    """
    from backtesting import Strategy

    stop, take = 1 - p.stop_loss_pct / 100, 1 + p.take_profit_pct / 100
    trail, activation = 1 - p.trailing_stop_pct / 100, 1 + p.trailing_activation_pct / 100
    overbought, rsi_profit = p.rsi_overbought, 1 + p.rsi_exit_min_profit_pct / 100
    limit_bars = p.time_limit_hours * 60

    class CoinPilotRules(Strategy):
        def init(self):
            self.hwm, self.trade_bar = 0.0, -1

        def next(self):
            data = self.data
            close = data.Close[-1]
            if not self.position:
                if data.Entry[-1]:
                    self.buy(size=SIZE)
                return
            trade = self.trades[-1]
            avg = trade.entry_price
            if trade.entry_bar != self.trade_bar:  # a new position: HWM from its fill price
                self.trade_bar, self.hwm = trade.entry_bar, avg
            self.hwm = hwm = max(self.hwm, close)
            if (
                close <= avg * stop
                or (hwm >= avg * activation and close <= hwm * trail)
                or close >= avg * take
                or (data.RSI14[-1] >= overbought and close >= avg * rsi_profit)
                or len(data) - trade.entry_bar > limit_bars  # decided (bar close) - filled (bar open)
            ):
                self.position.close()

    return CoinPilotRules


def backtesting_stats(frame: pd.DataFrame, strategy) -> pd.Series:
    """`Backtest(...).run()`: commission and spread (slippage) per side, next-open fills, one
    position at a time. Fractional units (KRW-BTC costs more than 5 % of the cash)."""
    import warnings

    from backtesting.lib import FractionalBacktest

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bt = FractionalBacktest(
            frame,
            strategy,
            cash=INITIAL_KRW,
            commission=FEE,
            spread=SLIPPAGE,
            exclusive_orders=True,
            finalize_trades=True,
            fractional_unit=FRACTION,
        )
        return bt.run()


def backtesting_run(frame: pd.DataFrame, strategy):
    stats = backtesting_stats(frame, strategy)
    return int(stats["# Trades"]), float(stats["Return [%]"]), -float(stats["Max. Drawdown [%]"])
