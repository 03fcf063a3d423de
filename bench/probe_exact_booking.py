"""What exact books alone cost in a backtest: the part of issue #18's vectorbt target that no
compiled event loop removes, measured beside vectorbt in the same run.

    .venv/bin/python bench/probe_exact_booking.py [--runs 7]

Runs in the peers venv (bench/.venv-peers, built by bench_peers.py on first use), on the same
bars and entries as bench_peers.py: a year of synthetic minutes (seed 7), regime SIDEWAYS.

CoinPilot's run is made once, untimed. Then its bookings are replayed with every decision already
taken (which bar, which size, which reason): for each trade the Decimal buy fill, the trade record,
the Decimal sell fill, the sale's PnL and the cash. The replay checks that it books exactly the
run's prices, quantities, fees, PnL and final cash, so it does the very work of the run's books
and nothing else. Timed (median of --runs after a warm-up, with that run's CPU time):
- the replayed booking alone;
- vectorbt `from_signals` with SL+TP, bench_peers.py's "SL+TP" row;
- CoinPilot's whole `run_backtest`.

What it shows (bench/README.md, docs/decisions.md): a run 3x faster than vectorbt has a third of
vectorbt's time for everything; compare the booking's share of that with what is left for the
indicators, the entries, the exits and the risk rules.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import bench_peers  # noqa: E402


def main() -> None:
    args = bench_peers.start_probe(__doc__)
    from decimal import Decimal

    from peers import engines as peer
    from synthetic import synthetic_frame

    from trading.backtest import BacktestOptions, TradeRecord, run_backtest
    from trading.config import default_risk, default_strategy
    from trading.fills import buy_fill, sell_fill
    from trading.strategy import bars_from_frame

    bars = bars_from_frame(synthetic_frame(525_600, seed=7))
    params, limits, options = default_strategy(), default_risk(), BacktestOptions(regime="SIDEWAYS")
    result = run_backtest("KRW-BTC", bars, params, limits, options)
    trades = result.trades
    if any(len(t.exits) != 1 for t in trades if t.exit_at is not None):
        raise SystemExit("the probe replays whole exits only: a trade of this run scaled out")
    # What the run decided, as plain values: (size, entry reference, exit reference or None, ...)
    opens = bars.open
    decided = [
        (
            t.size.krw,
            Decimal(repr(opens.item(t.entry_index))),
            None if t.exit_at is None else Decimal(repr(opens.item(t.exit_index))),
            t.entry_index,
            t.entry_at,
            t.regime,
            t.exit_index,
            t.exit_at,
            t.exit_reason,
        )
        for t in trades
    ]
    slippage, min_order = options.slippage_bps, limits.min_order_krw

    def replay() -> tuple:
        cash, books = options.initial_krw, []
        for krw, entry_ref, exit_ref, index, at, regime, exit_index, exit_at, reason in decided:
            buy = buy_fill(krw=krw, reference=entry_ref, slippage_bps=slippage, min_order=min_order)
            cash += buy.cash_change
            trade = TradeRecord(index, at, buy.price, buy.quantity, buy.fee, regime)
            if exit_ref is not None:
                sale = sell_fill(quantity=trade.held, reference=exit_ref, slippage_bps=slippage)
                trade.close(exit_index, exit_at, sale.price, sale.fee, reason)
                cash += sale.cash_change
            books.append(trade)
        return books, cash

    books, cash = replay()
    same = all(
        (a.entry_price, a.quantity, a.entry_fee, a.exit_price, a.exit_fee, a.pnl)
        == (b.entry_price, b.quantity, b.entry_fee, b.exit_price, b.exit_fee, b.pnl)
        for a, b in zip(books, trades, strict=True)
    )
    held = sum((t.held * Decimal(repr(bars.close.item(-1))) for t in trades if t.exit_at is None), Decimal(0))
    final = Decimal(repr(float(result.equity[-1])))
    if not same or abs(cash + held - final) > Decimal("0.01"):
        raise SystemExit("the replay does not book what the run booked")

    p = params.regimes["SIDEWAYS"]
    _, entries = bench_peers.coinpilot_signals(bars, params, "SIDEWAYS")
    close = bench_peers.close_series(bars)

    def coinpilot() -> tuple:
        return (len(run_backtest("KRW-BTC", bars, params, limits, options).trades),)

    runs = {
        "exact booking alone (replayed)": lambda: (len(replay()[0]),),
        "vectorbt from_signals, SL+TP": lambda: peer.vectorbt_run(close, entries, p),
        "CoinPilot run_backtest": coinpilot,
    }
    print(f"load average at start {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    print(f"{len(bars):,} bars, {len(trades):,} trades, booked as the run did; median of {args.runs} runs")
    medians = {}
    for name, run in runs.items():
        run()  # warm-up: vectorbt's numba code compiles here
        samples = sorted(bench_peers.measure(run) for _ in range(args.runs))
        wall, cpu, _, outcome = samples[len(samples) // 2]
        medians[name] = wall
        print(f"  {name:<32} {wall * 1000:8.2f} ms  CPU {cpu * 1000:8.2f} ms  trades {outcome[0]:>5}")
    booking, vectorbt = medians["exact booking alone (replayed)"], medians["vectorbt from_signals, SL+TP"]
    print(
        f"a run 3x faster than vectorbt has {vectorbt / 3 * 1000:.1f} ms; the booking alone takes "
        f"{booking / (vectorbt / 3) * 100:.0f} % of it ({booking / len(trades) * 1e6:.1f} us a trade); "
        f"load average at end {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
