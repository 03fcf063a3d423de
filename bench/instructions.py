"""Instructions per backtest: a figure that does not move with the machine's load.

    .venv/bin/python bench/instructions.py [--bars 525600] [--regime SIDEWAYS]

Wall times on a shared 2-core machine moved by 10-15 % between runs of the same code, which hides
a 5 % change. This counts the CPU instructions of one `run_backtest` (the run bench_peers.py
times: a year of seeded minutes, the regime forced) under valgrind's callgrind, which counts the
same total for the same code and data whatever else the machine does. Two child processes run
under valgrind side by side, one with one backtest after the warm-up and one with two; the
difference is one backtest (Django's start, the data and the warm-up cancel out). Prints it in
millions, with the wall time the two children took. Needs valgrind (Debian's package); takes
about 90 s on an idle machine (160 s with both cores busy: the count stays the same).
"""

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def child(bars: int, regime: str, runs: int) -> None:
    """The measured process: set up, warm up, then `runs` backtests."""
    sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coinpilot_site.settings_test")
    import django

    django.setup()
    from synthetic import synthetic_frame

    from trading.backtest import BacktestOptions, run_backtest
    from trading.config import default_risk, default_strategy
    from trading.strategy import bars_from_frame

    data = bars_from_frame(synthetic_frame(bars, seed=7))
    params, limits, options = default_strategy(), default_risk(), BacktestOptions(regime=regime)
    for _ in range(1 + runs):  # the first is the warm-up both children share
        run_backtest("KRW-BTC", data, params, limits, options)


def counted(args, runs: int) -> subprocess.Popen:
    command = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, __file__, "--child", str(runs), "--bars", str(args.bars), "--regime", args.regime,
    ]  # fmt: skip
    env = os.environ | {"PYTHONHASHSEED": "0"}  # the same dict layouts, so the same count each time
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def total(process: subprocess.Popen) -> int:
    _, err = process.communicate()
    for line in err.splitlines():
        if "Collected :" in line:
            return int(line.rsplit(":", 1)[1])
    raise SystemExit(f"valgrind printed no total:\n{err[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bars", type=int, default=525_600)
    parser.add_argument("--regime", default="SIDEWAYS", choices=["BULL", "SIDEWAYS", "BEAR"])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.bars, args.regime, args.child)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    started = time.perf_counter()
    one, two = counted(args, 1), counted(args, 2)
    per_run = total(two) - total(one)
    print(
        f"run_backtest, {args.bars:,} bars, regime {args.regime}: {per_run / 1e6:,.0f} M instructions "
        f"(callgrind; {time.perf_counter() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()
