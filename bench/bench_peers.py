"""CoinPilot's backtester side by side with vectorbt and backtesting.py (issue #18).

    .venv/bin/python bench/bench_peers.py [--bars 525600] [--runs 5] [--engines a,b,...] [--regime SIDEWAYS]
    .venv/bin/python bench/bench_peers.py --profile | --check

The peers are not project dependencies: on first use the script builds `bench/.venv-peers`
(the project's embedded lock with --require-hashes, then vectorbt and backtesting.py constrained
to the lock's pins; a few minutes, once) and re-runs itself with that venv's python. numpy,
pandas and Django there are the lock's, so all engines run in one process on the same arrays.

Data: `synthetic_frame(bars, seed=7)` (bench/synthetic.py), generated once, not timed. Regime
forced to SIDEWAYS for every engine (`BacktestOptions(regime="SIDEWAYS")`, the peers get
SIDEWAYS' exit parameters). Entries for the peers: CoinPilot's own entry decisions on the same
bars (`compute_indicators` + `entry_passes`, what `run_backtest` computes), computed once and not
timed for them, except in the "+ signals" rows, which time the peer together with computing them.

Timed per engine (one untimed warm-up run each first, which also compiles vectorbt's numba code;
then `--runs` rounds, every engine once per round, so a change of load hits all of them):
- CoinPilot: `run_backtest` whole (indicators, entries, exits, fills, risk rules, statistics);
- vectorbt: `Portfolio.from_signals` + total_return, max_drawdown, trades.count; "SL+TP": stop
  loss and take profit, "+trailing": the stop turns trailing once in profit (adjust_sl_func_nb);
  "full pf.stats()": the latter with vectorbt's whole statistics report instead of three figures
  (CoinPilot's timing includes its whole report, `performance.summarize`); "+ signals": the
  trailing run plus computing the entries it is handed, the same inputs CoinPilot starts from (the
  nearest to equal work: vectorbt still has no RSI exit, time limit or risk rules);
- backtesting.py: `FractionalBacktest(...).run()` with a Strategy of CoinPilot's exit rules.
Printed: median and best wall time, CPU time (process_time) of the median run, the 1-minute load
average over the engine's runs, trades, return and max drawdown, the ratios engine / CoinPilot:
of the median wall times, their range over the rounds, and of the median CPU times (steadier
than wall time when other work shares the cores); the load average at the start and the end.

`--profile` prints cProfile's top 25 of one CoinPilot run by cumulative and by own time instead.
`--check` shows that the backtesting.py Strategy follows CoinPilot's rules: with the risk limits
relaxed (no daily trade or loss limit, no loss-streak cooldown) both engines' trades are compared
bar for bar (entry fill bar, exit fill bar).
"""

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from peers import venv  # noqa: E402

ENGINES = (
    "coinpilot",
    "vectorbt-stops",
    "vectorbt-trailing",
    "vectorbt-stats",
    "vectorbt-signals",
    "backtesting",
    "coinpilot-hourly",
    "signals",
)
BASE = "coinpilot"
LABELS = {
    "coinpilot": "CoinPilot run_backtest",
    "vectorbt-stops": "vectorbt from_signals, SL+TP",
    "vectorbt-trailing": "vectorbt from_signals, SL+TP+trailing",
    "vectorbt-stats": "  same + full pf.stats()",
    "vectorbt-signals": "  same + signals (CoinPilot's inputs)",
    "backtesting": "backtesting.py Backtest.run",
    "coinpilot-hourly": "(CoinPilot, hourly regime)",
    "signals": "(CoinPilot indicators+entries only)",
}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bars", type=int, default=525_600)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--regime", default="SIDEWAYS", choices=["BULL", "SIDEWAYS", "BEAR"])
    parser.add_argument(
        "--engines", default=",".join(ENGINES), help=f"comma-separated subset of {','.join(ENGINES)}"
    )
    parser.add_argument("--peers", nargs="+", default=list(venv.PEERS), help="pip specifiers of the peers")
    parser.add_argument("--rebuild-venv", action="store_true", help="rebuild bench/.venv-peers")
    parser.add_argument("--profile", action="store_true", help="cProfile one CoinPilot run instead")
    parser.add_argument("--check", action="store_true", help="CoinPilot's and backtesting.py's trades")
    args = parser.parse_args()
    args.engines = [e for e in args.engines.split(",") if e]
    unknown = set(args.engines) - set(ENGINES)
    if unknown or BASE not in args.engines:
        parser.error(f"--engines: unknown {sorted(unknown)} or {BASE} missing")
    return args


def start_probe(doc: str) -> argparse.Namespace:
    """A probe's `--runs` (its docstring's first line as the help), in the peers venv (the command
    runs again there first) with Django set up."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if not venv.in_peers_venv():
        venv.reexec(venv.PEERS, False)  # does not return
    setup_django()
    return args


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coinpilot_site.settings_test")
    os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting.py's progress bar: not timed, not printed
    import django

    django.setup()


def coinpilot_signals(bars, params, regime: str):
    """(indicators, entry flags per bar): CoinPilot's entry decisions as `run_backtest` computes
    them, with `regime` forced; the entries every peer is handed."""
    import numpy as np

    from trading.strategy import compute_indicators, entry_passes, regime_codes

    values = compute_indicators(bars, params, atr=False)
    entries = np.zeros(len(bars), dtype=bool)
    entries[entry_passes(values, regime_codes(regime, len(bars)), params)] = True
    return values, entries


def close_series(bars):
    """The closes as vectorbt takes them: a Series on the bars' times."""
    import pandas as pd

    return pd.Series(bars.close, index=pd.to_datetime(bars.ts, unit="s"))


def make_runs(args, bars):
    """{engine: a callable running one whole backtest -> (trades, return %, max drawdown %)}."""
    import functools

    import numpy as np
    from peers import engines as peer

    from trading.backtest import BacktestOptions, run_backtest
    from trading.config import default_risk, default_strategy

    params, limits = default_strategy(), default_risk()
    p = params.regimes[args.regime]

    signals = functools.partial(coinpilot_signals, bars, params, args.regime)
    values, entries = signals()
    trailing = peer.make_trailing_switch()

    def vectorbt_with_signals():
        _, computed = signals()
        return peer.vectorbt_run(close, computed, p, trailing)

    def coinpilot(options):
        stats = run_backtest("KRW-BTC", bars, params, limits, options).stats
        return stats["trades"] + stats["open_trades"], stats["total_return_pct"], stats["max_drawdown_pct"]

    close = close_series(bars)
    frame = peer.backtesting_frame(bars, entries, values["rsi14"])
    runs = {
        "coinpilot": functools.partial(coinpilot, BacktestOptions(regime=args.regime)),
        "vectorbt-stops": functools.partial(peer.vectorbt_run, close, entries, p),
        "vectorbt-trailing": functools.partial(peer.vectorbt_run, close, entries, p, trailing),
        "vectorbt-stats": functools.partial(peer.vectorbt_run, close, entries, p, trailing, full_stats=True),
        "vectorbt-signals": vectorbt_with_signals,
        "backtesting": functools.partial(peer.backtesting_run, frame, peer.coinpilot_rules(p)),
        "coinpilot-hourly": functools.partial(coinpilot, BacktestOptions()),
        "signals": lambda: (int(np.count_nonzero(signals()[1])), float("nan"), float("nan")),
    }
    return {e: runs[e] for e in args.engines}, int(np.count_nonzero(entries))


def measure(run) -> tuple[float, float, float, tuple]:
    """(wall s, CPU s, 1-minute load average just after, result) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu, os.getloadavg()[0], result


def versions() -> str:
    import numba
    import numpy
    import pandas
    from peers import engines as peer

    return (
        f"python {sys.version.split()[0]}, numpy {numpy.__version__}, pandas {pandas.__version__}, "
        f"numba {numba.__version__}, vectorbt {peer.vectorbt_version()} (numba engine), "
        f"backtesting.py {peer.backtesting_version()}"
    )


def profile(args, bars) -> None:
    import cProfile
    import pstats

    from trading.backtest import BacktestOptions, run_backtest
    from trading.config import default_risk, default_strategy

    params, limits, options = default_strategy(), default_risk(), BacktestOptions(regime=args.regime)
    run_backtest("KRW-BTC", bars, params, limits, options)  # warm-up
    profiler = cProfile.Profile()
    wall = time.perf_counter()
    profiler.enable()
    result = run_backtest("KRW-BTC", bars, params, limits, options)
    profiler.disable()
    print(f"one profiled run: {time.perf_counter() - wall:.3f} s, {result.stats['trades']} trades, "
          f"load {load()}")  # fmt: skip
    for key in ("cumulative", "tottime"):
        print(f"\n--- top 25 by {key}")
        pstats.Stats(profiler, stream=sys.stdout).strip_dirs().sort_stats(key).print_stats(25)


def check(args, bars) -> None:
    from peers import engines as peer

    from trading.backtest import BacktestOptions, run_backtest
    from trading.config import default_strategy, load_defaults, parse_risk
    from trading.strategy import PASS_CODE, compute_indicators, evaluate_entries, regime_codes

    params = default_strategy()
    relaxed = parse_risk(
        load_defaults()["risk"]
        | {"max_daily_trades": 1000, "consecutive_loss_limit": 100, "cooldown_hours": "0"}
        | {"max_daily_loss_pct": "100", "max_weekly_loss_pct": "100"}
    )
    result = run_backtest("KRW-BTC", bars, params, relaxed, BacktestOptions(regime=args.regime))
    ours = [(t.entry_index, t.exit_index, t.exit_reason) for t in result.trades]
    values = compute_indicators(bars, params)
    entries = evaluate_entries(values, regime_codes(args.regime, len(bars)), params) == PASS_CODE
    frame = peer.backtesting_frame(bars, entries, values["rsi14"])
    stats = peer.backtesting_stats(frame, peer.coinpilot_rules(params.regimes[args.regime]))
    bt_trades = stats._trades
    theirs = [(int(e), int(x)) for e, x in zip(bt_trades["EntryBar"], bt_trades["ExitBar"], strict=True)]
    same = {a[:2] for a in ours} & set(theirs)
    exits = dict(theirs)
    near = sum(
        1 for e, x, _ in ours if x is not None and (e, x) not in same and abs(exits.get(e, -9) - x) <= 1
    )
    print(f"risk limits relaxed; CoinPilot {len(ours)} trades (refusals {result.blocked}), "
          f"backtesting.py {len(theirs)}; same entry and exit bar: {len(same)}, same entry bar and "
          f"exit one bar apart: {near}")  # fmt: skip
    for k, (a, b) in enumerate(zip(ours, theirs, strict=False)):
        if a[:2] != b:
            cp, bt = result.trades[k], bt_trades.iloc[k]
            print(f"first difference: trade {k}: CoinPilot {a} at {cp.entry_price}, backtesting.py {b} at "
                  f"{bt['EntryPrice']:.2f}")  # fmt: skip
            break
    reasons: dict[str, int] = {}
    for _, _, reason in ours:
        reasons[reason] = reasons.get(reason, 0) + 1
    print(f"CoinPilot exits by reason: {reasons}")


def main() -> None:
    args = parse_args()
    if not venv.in_peers_venv():
        venv.reexec(tuple(args.peers), args.rebuild_venv)  # does not return
    setup_django()
    from synthetic import synthetic_frame

    from trading.strategy import bars_from_frame

    bars = bars_from_frame(synthetic_frame(args.bars, seed=args.seed))
    digest = hashlib.sha256(b"".join(getattr(bars, f).tobytes() for f in ("ts", "open", "close"))).hexdigest()
    print(f"load average at start {load()}  ({os.cpu_count()} cores)")
    print(f"data: synthetic_frame({args.bars:,}, seed={args.seed}), sha256 {digest[:16]}; "
          f"regime {args.regime}")  # fmt: skip
    if args.profile:
        return profile(args, bars)
    if args.check:
        return check(args, bars)
    print(versions())
    runs, n_entries = make_runs(args, bars)
    print(f"CoinPilot entry decisions passed to the peers: {n_entries:,} bars")
    t0 = time.perf_counter()
    for engine, run in runs.items():  # warm-up: caches, numba compilation
        wall, _, _, _ = measure(run)
        print(f"  warm-up {engine}: {wall:.2f} s", flush=True)
    samples: dict[str, list] = {e: [] for e in runs}
    for _ in range(args.runs):
        for engine, run in runs.items():
            samples[engine].append(measure(run))
    print(f"{args.runs} rounds, every engine once per round, in {time.perf_counter() - t0:.0f} s "
          f"(incl. warm-up); times in s, CPU = process_time of the median run\n")  # fmt: skip
    base = samples[BASE]
    base_median = sorted(s[0] for s in base)[len(base) // 2]
    base_cpu = sorted(s[1] for s in base)[len(base) // 2]
    print(f"{'engine':38} {'median':>7} {'best':>7} {'CPU':>7} {'load':>9} {'trades':>6} {'return%':>8} "
          f"{'maxDD%':>7}  x CoinPilot: wall (per round) CPU")  # fmt: skip
    for engine, rows in samples.items():
        ordered = sorted(rows, key=lambda s: s[0])
        median, best = ordered[len(ordered) // 2], ordered[0]
        loads = [s[2] for s in rows]
        trades, ret, mdd = median[3]
        per_round = sorted(s[0] / b[0] for s, b in zip(rows, base, strict=True))
        cpu = sorted(s[1] for s in rows)[len(rows) // 2]
        spread = f"({per_round[0]:.2f}-{per_round[-1]:.2f})"
        ratio = f"{median[0] / base_median:5.2f} {spread} {cpu / base_cpu:5.2f}"
        ratio = "" if engine == BASE else ratio
        print(f"{LABELS[engine]:38} {median[0]:7.3f} {best[0]:7.3f} {median[1]:7.3f} "
              f"{min(loads):4.1f}-{max(loads):<4.1f} {trades:6d} {ret:8.2f} {mdd:7.2f} "
              f" {ratio}")  # fmt: skip
    print(f"\nload average at end {load()}")


if __name__ == "__main__":
    main()
