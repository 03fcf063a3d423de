"""How fast the exit machinery of a backtest can be when compiled: the floor under issue #18's
vectorbt target, measured beside vectorbt in the same run.

    .venv/bin/python bench/probe_compiled_exits.py [--runs 7]

Runs in the peers venv (bench/.venv-peers, built by bench_peers.py on first use: numba and
vectorbt are not CoinPilot dependencies). The same bars and entries as bench_peers.py: a year of
synthetic minutes (seed 7), CoinPilot's own SIDEWAYS entry decisions, computed once, not timed.

Timed, the median of --runs after one warm-up (numba compiles then), with that run's CPU time:
- vectorbt `from_signals` with SL+TP, as bench_peers.py's "SL+TP" row (`peers.engines.vectorbt_run`);
- one numba loop over every bar doing the same job in float64: enter at the close with slippage
  and fee, 5 % of the cash; leave at the stop-loss or take-profit level once the close reaches it;
  equity and drawdown every bar. It is a probe, not an engine: no time limit, RSI exit, trailing
  stop, risk rules, exact booking or statistics. Its trade count differs from vectorbt's by a few
  percent (vectorbt's stop-price and same-bar re-entry details), which does not change the cost;
- CoinPilot's indicators alone (`compute_indicators`, numpy, bit-exact with TA-Lib), the part of a
  CoinPilot run that stays in numpy however the event loop is written.

What it shows (bench/README.md, docs/decisions.md): the exit work itself costs about a millisecond
compiled, so a CoinPilot run 3x faster than vectorbt needs its rules in compiled code and its
indicators fused into one compiled pass as well; making the Python event loop faster cannot.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import bench_peers  # noqa: E402


def main() -> None:
    args = bench_peers.start_probe(__doc__)
    import numba
    from peers import engines as peer
    from synthetic import synthetic_frame

    from trading.config import default_strategy
    from trading.strategy import bars_from_frame, compute_indicators

    @numba.njit
    def stops_loop(close, entries, stop_loss, take_profit, fee, slippage, size, initial):
        cash, quantity, entry, trades, peak, drawdown = initial, 0.0, 0.0, 0, initial, 0.0
        for i in range(close.shape[0]):
            price = close[i]
            if quantity > 0.0:
                exit_at = 0.0
                if price <= entry * (1.0 - stop_loss):
                    exit_at = entry * (1.0 - stop_loss)
                elif price >= entry * (1.0 + take_profit):
                    exit_at = entry * (1.0 + take_profit)
                if exit_at > 0.0:
                    cash += quantity * exit_at * (1.0 - slippage) * (1.0 - fee)
                    quantity, trades = 0.0, trades + 1
            elif entries[i]:
                entry = price * (1.0 + slippage)
                spend = cash * size
                quantity, cash = spend / (entry * (1.0 + fee)), cash - spend
            equity = cash + quantity * price
            peak = max(peak, equity)
            drawdown = max(drawdown, (peak - equity) / peak)
        final = cash + quantity * close[-1]
        return trades + (quantity > 0.0), (final / initial - 1.0) * 100, drawdown * 100

    bars = bars_from_frame(synthetic_frame(525_600, seed=7))
    params = default_strategy()
    p = params.regimes["SIDEWAYS"]
    _, entries = bench_peers.coinpilot_signals(bars, params, "SIDEWAYS")
    close = bench_peers.close_series(bars)
    stops = (
        p.stop_loss_pct / 100,
        p.take_profit_pct / 100,
        peer.FEE,
        peer.SLIPPAGE,
        peer.SIZE,
        peer.INITIAL_KRW,
    )

    def indicators_alone() -> tuple:
        compute_indicators(bars, params, atr=False)
        return 0, float("nan"), float("nan")

    runs = {
        "vectorbt from_signals, SL+TP": lambda: peer.vectorbt_run(close, entries, p),
        "compiled loop, SL+TP (numba)": lambda: stops_loop(bars.close, entries, *stops),
        "CoinPilot indicators alone": indicators_alone,
    }
    print(
        f"load average at start {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores); numba {numba.__version__}"
    )
    print(
        f"{len(bars):,} bars, {int(entries.sum()):,} entry bars; median of {args.runs} runs after a warm-up"
    )
    medians = {}
    for name, run in runs.items():
        run()  # warm-up: numba compiles here
        samples = sorted(bench_peers.measure(run) for _ in range(args.runs))
        wall, cpu, _, (trades, ret, drawdown) = samples[len(samples) // 2]
        medians[name] = wall
        print(f"  {name:<30} {wall * 1000:8.2f} ms  CPU {cpu * 1000:8.2f} ms  "
              f"trades {trades:>5}  return {ret:7.2f} %  max drawdown {drawdown:6.2f} %")  # fmt: skip
    vectorbt, loop = medians["vectorbt from_signals, SL+TP"], medians["compiled loop, SL+TP (numba)"]
    print(f"vectorbt / compiled loop: {vectorbt / loop:.0f}x; load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
