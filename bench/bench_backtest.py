"""Backtest speed: one year of seeded 1m candles (525,600 bars), full strategy, risk limits, fees.

    .venv/bin/python bench/bench_backtest.py [--bars 525600] [--runs 7] [--options off|all|both]
                                             [--symbols 5] [--trades FILE]

Prints the median and best wall time (and the CPU time of the median run) of `run_backtest`
(indicators, hourly regime, entries, exits, fills, risk rules, statistics) and bars/second.
`--options all` switches every position-management option on (scale-outs with break-even, ATR
stops, risk-per-trade and Kelly sizing, re-entry cooldown, a volatility history that is high every
other day), `no-kelly` all of them but the Kelly cap; `both` times the three in the same run and
prints the ratios to off. `--symbols N` runs the
portfolio engine on N synthetic markets (seeds 7, 8, ...) from one account. Data generation is
not timed. Each mode prints a sha256 of its trade list (every entry and sale: bars, times, prices,
quantities, fees, PnL, reasons, the sizing sentence), so two versions of the engine can be shown to
trade identically; `--trades FILE` writes the list itself, one trade a line, to diff.
"""

import argparse
import dataclasses
import functools
import hashlib
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coinpilot_site.settings_test")

import django  # noqa: E402

django.setup()

from synthetic import synthetic_frame  # noqa: E402

from trading.backtest import BacktestOptions, run_backtest, run_portfolio  # noqa: E402
from trading.config import default_risk, default_strategy  # noqa: E402
from trading.strategy import bars_from_frame  # noqa: E402

# every option on, mixed per regime as in the parity test
ALL_OPTIONS = {
    "BULL": {
        "partial_tp_1_pct": 1.0, "partial_tp_1_sell_pct": 30, "partial_tp_2_pct": 2.0,
        "partial_tp_2_sell_pct": 30, "breakeven_after_partial": True, "atr_trailing_k": 3,
        "risk_per_trade_pct": 0.1, "kelly_fraction": 0.5, "kelly_trades": 20, "reentry_cooldown_minutes": 20,
    },
    "SIDEWAYS": {
        "atr_stop_k": 4, "atr_take_profit_k": 8, "partial_tp_1_pct": 0.5, "partial_tp_1_sell_pct": 50,
        "partial_tp_2_pct": 1.0, "partial_tp_2_sell_pct": 20, "partial_tp_3_pct": 2.0,
        "partial_tp_3_sell_pct": 20, "risk_per_trade_pct": 0.05, "kelly_fraction": 0.25, "kelly_trades": 20,
        "reentry_cooldown_minutes": 30,
    },
    "BEAR": {
        "atr_stop_k": 3, "atr_trailing_k": 2, "partial_tp_1_pct": 1.0, "partial_tp_1_sell_pct": 40,
        "breakeven_after_partial": True, "risk_per_trade_pct": 0.08, "kelly_fraction": 1, "kelly_trades": 20,
        "reentry_cooldown_minutes": 45,
    },
}  # fmt: skip


def with_all_options(params, kelly: bool = True):
    """Every option on; without the Kelly cap the losing synthetic year keeps trading (with it, the
    cap finds no edge after 20 trades and refuses entries: far fewer trades to time)."""
    off = {} if kelly else {"kelly_fraction": None}
    regimes = {
        r: type(p).model_validate(p.model_dump() | ALL_OPTIONS[r] | off) for r, p in params.regimes.items()
    }
    return dataclasses.replace(params, regimes=regimes)


def every_other_day_high(ts) -> tuple[tuple[int, bool], ...]:
    days = range(int(ts[0]) // 86_400 * 86_400, int(ts[-1]), 86_400)
    return tuple((day, i % 2 == 1) for i, day in enumerate(days))


def trade_lines(trades) -> list[str]:
    """Every trade as a line: the entry, then each sale (scale-outs, the exit) with its PnL."""
    lines = []
    for t in trades:
        sales = "; ".join(
            f"{e.index} {e.at} {e.price} {e.quantity} {e.fee} {e.reason} {e.pnl} {e.entry_fee_share}"
            for e in t.exits
        )
        entry = (
            f"{t.symbol} {t.entry_index} {t.entry_at} {t.entry_price} {t.quantity} {t.entry_fee} {t.regime}"
        )
        lines.append(f"{entry} [{t.sizing}] | {sales} | {t.pnl}")
    return lines


def timed(run, runs: int) -> tuple[float, float, float, object]:
    """(median wall s, best wall s, CPU s of the median run, last result)."""
    samples = []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = run()
        samples.append((time.perf_counter() - wall, time.process_time() - cpu))
    samples.sort()
    return samples[len(samples) // 2][0], samples[0][0], samples[len(samples) // 2][1], result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bars", type=int, default=525_600)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--options", choices=["off", "all", "no-kelly", "both"], default="off")
    parser.add_argument("--symbols", type=int, default=1, help="> 1: the portfolio engine on N markets")
    parser.add_argument("--trades", help="write each mode's trade list to this file (to diff two versions)")
    args = parser.parse_args()
    frames = [bars_from_frame(synthetic_frame(args.bars, seed=args.seed + k)) for k in range(args.symbols)]
    bars = {f"KRW-S{k}": b for k, b in enumerate(frames)}
    plain, risk = default_strategy(), default_risk()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.trades:
        open(args.trades, "w").close()  # each mode appends its trades
    medians = {}
    for mode in ("off", "all", "no-kelly") if args.options == "both" else (args.options,):
        params = plain if mode == "off" else with_all_options(plain, kelly=mode == "all")
        vol = every_other_day_high(frames[0].ts) if mode != "off" else ()
        options = BacktestOptions(volatility=vol)
        if args.symbols == 1:
            run = functools.partial(run_backtest, "KRW-BTC", frames[0], params, risk, options)
        else:
            run = functools.partial(run_portfolio, bars, params, risk, options)
        median, best, cpu, result = timed(run, args.runs)
        medians[mode] = median
        s, total = result.stats, sum(len(b) for b in frames)
        print(f"[options {mode}] symbols: {args.symbols}  bars: {total:,}  trades: {s['trades']}  "
              f"scale-outs: {s['scale_outs']}  refusals: {s['blocked_by_risk']}")  # fmt: skip
        print(f"  return {s['total_return_pct']:.2f} %  max drawdown {s['max_drawdown_pct']:.2f} %")
        print(f"  median {median:.3f} s (CPU {cpu:.3f} s, {total / median:,.0f} bars/s)  best {best:.3f} s "
              f"over {args.runs} runs")  # fmt: skip
        lines = trade_lines(result.trades)
        print(f"  trade list sha256 {hashlib.sha256(chr(10).join(lines).encode()).hexdigest()[:16]}")
        if args.trades:
            with open(args.trades, "a") as out:
                out.writelines(f"[options {mode}] {line}\n" for line in lines)
    for mode in ("all", "no-kelly"):
        if "off" in medians and mode in medians:
            print(f"options {mode} / off: {medians[mode] / medians['off']:.2f}x")
    print(f"load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
