"""Strategy lab speed (issue 19): one trial over a year of 1m bars of one symbol, beside a plain
Optuna loop over `run_backtest`, and a 200-trial study shared by 2 real `rqworker lab` processes.

    .venv/bin/python bench/bench_lab.py [--trials 10] [--study-trials 200] [--workers 2] [--keep]

A year of seeded synthetic minutes (bench/synthetic.py, 525,600 decision bars plus the warm-up)
is stored in a scratch PostgreSQL database `cp_labengine_bench` (created, dropped after unless
--keep); Redis on loopback, db 9 (REDIS_URL to change it). The study tunes the six default
parameters of every regime (lab.inputs.DEFAULT_TUNED) for the Sharpe ratio, TPE, seed 42.

- baseline: `optuna.create_study()` in memory, each trial = suggest + `run_backtest` on bars
  already in memory; then the same loop over the same parameters with the columns no parameter
  changes computed once (`run_backtest(..., prepared=prepare(bars, base))`, timed on its own);
- lab, inline: the lab's own trial loop in this process (`lab.study.run_trials`): ask under the
  study's lock, heartbeat, backtest, tell, all through the RDB storage in PostgreSQL; the candles
  loaded and the columns no parameter changes computed once (timed on their own);
- lab, N workers: `start_study` and N `manage.py rqworker lab` processes, wall time from the
  enqueue to the study's end, and the CPU time of the workers and their work-horses.
Every figure is printed with the load average (2 shared cores).
"""

import argparse
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
from bench import scratch  # noqa: E402

DB = scratch.use_database("cp_labengine_bench", redis_db=9, var_dir="coinpilot-bench-lab")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")

SYMBOL = "KRW-BTC"
YEAR = 525_600
WARMUP_BARS = 12_000  # more than the regime's 200 hours
START = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=WARMUP_BARS)


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def setup(keep_data: bool) -> None:
    import django
    from django.core.management import call_command

    if not keep_data:
        scratch.create_database(DB)
    django.setup()
    call_command("migrate", verbosity=0)
    if not keep_data:
        store_year()


def store_year() -> None:
    from synthetic import synthetic_frame

    from market.candles import CandleRow, store_candles

    frame = synthetic_frame(YEAR + WARMUP_BARS)
    started = time.perf_counter()
    for first in range(0, len(frame), 100_000):
        part = frame.iloc[first : first + 100_000]
        price = lambda v: Decimal(repr(round(float(v), 2)))  # noqa: E731
        rows = [
            CandleRow(SYMBOL, "1m", r.timestamp.to_pydatetime(), price(r.open), price(r.high), price(r.low),
                      price(r.close), Decimal(repr(round(float(r.volume), 8))), None)
            for r in part.itertuples()
        ]  # fmt: skip
        store_candles(rows)
    print(f"stored {len(frame):,} candles in {time.perf_counter() - started:.1f} s (load {load()})")


def study_request(trials: int):
    from lab.inputs import StudyRequest, default_space
    from trading.parameters import REGIMES

    return StudyRequest(
        symbols=[SYMBOL], start=START, end=START + timedelta(minutes=YEAR), regimes=list(REGIMES),
        space=default_space(list(REGIMES)), objectives=["sharpe"], n_trials=trials, seed=42,
    )  # fmt: skip


def baseline(data, space: dict, trials: int, prepared=None) -> list[dict]:
    """A plain Optuna loop: in-memory storage, suggest, run_backtest, the Sharpe ratio (with the
    columns computed once when `prepared` is given)."""
    import optuna

    from lab.space import suggest
    from lab.trials import TrialRefused, overlay
    from trading.backtest import run_backtest

    def objective(trial):
        try:
            params = overlay(data.base, suggest(trial, space, data.base), [SYMBOL])
        except TrialRefused:
            raise optuna.TrialPruned() from None
        bars = data.bars[SYMBOL]
        stats = run_backtest(SYMBOL, bars, params, data.limits, data.options, prepared=prepared).stats
        return stats["sharpe"] if stats["sharpe"] is not None else float("-inf")

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=42))
    wall, cpu = time.perf_counter(), time.process_time()
    study.optimize(objective, n_trials=trials)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    how = "with prepare()" if prepared is not None else "(every column each trial)"
    print(f"baseline, plain Optuna loop over run_backtest {how}: {wall / trials:.3f} s/trial wall, "
          f"{cpu / trials:.3f} s CPU ({trials} trials, load {load()})")  # fmt: skip
    return [t.params for t in study.trials]


def inline(trials: int) -> None:
    from lab import trials as lab_trials
    from lab.study import create_study, load_optuna_study, run_trials
    from trading.backtest import prepare

    study = create_study(study_request(trials))
    wall = time.perf_counter()
    data = lab_trials.study_data(study)
    bars = len(data.bars[SYMBOL])
    print(f"lab: candles of the year loaded and prepared once in {time.perf_counter() - wall:.2f} s "
          f"({bars:,} bars)")  # fmt: skip
    wall, cpu = time.perf_counter(), time.process_time()
    prepared = prepare(data.bars[SYMBOL], data.base)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"  one prepare() of the year: {wall:.3f} s wall, {cpu:.3f} s CPU (load {load()})")
    tried = baseline(data, study.space, trials)
    baseline(data, study.space, trials, prepared)
    opt = load_optuna_study(study)
    for params in tried:  # the lab runs the very parameters the baseline tried: the same backtests
        opt.enqueue_trial(params)
    wall, cpu = time.perf_counter(), time.process_time()
    ran = run_trials(study)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"lab, inline (RDB storage, lock, heartbeat): {wall / ran:.3f} s/trial wall, {cpu / ran:.3f} s CPU "
          f"({ran} trials, load {load()})")  # fmt: skip


def with_workers(trials: int, workers: int) -> None:
    import django_rq
    from django.db import connections

    from lab.models import Study
    from lab.study import create_study, progress, start_study

    django_rq.get_queue("lab").empty()
    study = create_study(study_request(trials))
    connections.close_all()
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    logs = Path(os.environ["COINPILOT_VAR_DIR"])
    logs.mkdir(parents=True, exist_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    start_study(study)
    children = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "rqworker", "lab", "--name", f"bench-lab-{i}"],
            env=env, stdout=open(logs / f"worker-{i}.log", "w"), stderr=subprocess.STDOUT,  # noqa: SIM115
        )
        for i in range(workers)
    ]  # fmt: skip
    peak = 0.0
    while not Study.objects.get(pk=study.pk).finished:
        time.sleep(1)
        peak = max(peak, os.getloadavg()[0])
    wall = time.perf_counter() - wall
    for child in children:
        child.terminate()
    for child in children:
        child.wait(timeout=30)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    state = progress(study)
    print(f"lab, {workers} workers: {trials} trials in {wall:.1f} s wall ({state['complete']} complete, "
          f"{state['pruned']} n/a, {state['failed']} failed), workers' CPU {cpu:.1f} s, "
          f"load {load()} (peak 1-min {peak:.1f})")  # fmt: skip
    print(f"  best Sharpe {state['best_value']}, params {state['best_params']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10, help="trials timed one by one (baseline, inline)")
    parser.add_argument("--study-trials", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept scratch database and its candles")
    args = parser.parse_args()
    print(f"start: load {load()}, {os.cpu_count()} CPUs")
    setup(keep_data=args.reuse)
    try:
        inline(args.trials)
        if args.study_trials:
            with_workers(args.study_trials, args.workers)
    finally:
        if not args.keep:
            from django.db import connections

            from lab.storage import forget_storages

            forget_storages()
            connections.close_all()
            scratch.drop_database(DB)


if __name__ == "__main__":
    main()
