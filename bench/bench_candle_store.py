"""Issues 4 and 18: bulk candle storage into PostgreSQL (market.candles.store_candles).

Issue 18's target: storing 1,000,000 validated candles into an empty table, with the hourly
rollup kept current, at >= 0.8 x the speed of a raw `COPY market_data FROM STDIN` of the same rows,
measured in the same run. Both go into the same empty table (same indexes), in the same batches
of --batch rows, one transaction per batch, as backfill stores them; the raw COPY sends the
store's own COPY text, so the two send the same bytes and the raw COPY keeps no rollup. Each
round times both (the order alternates between rounds) and prints rows/s, the ratio, wall and
CPU time of this process and of its PostgreSQL backend, and the load average; after each store
the rollup is compared with a from-scratch aggregation of the stored minutes.

Then the rollup rows one store wrote are sent again alone by a raw COPY: raw / (raw + that) is
the best ratio a store that keeps this rollup can reach while the server is the slower side.
Issue 4's figures follow: the same rows stored again (all conflicts), and validation.

    .venv/bin/python bench/bench_candle_store.py     # scratch database cp_h4_bench, dropped after
"""

import argparse
import io
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench import scratch  # noqa: E402

DB = scratch.use_database("cp_h4_bench", redis_db=4, var_dir="coinpilot-bench-h4")

# The rollup as a from-scratch aggregation of the stored minutes: rows in one and not the other.
ROLLUP_DIFFERENCES = """
WITH expected AS (
  SELECT symbol, '1h'::text AS bar, date_bin('3600 seconds', "timestamp", TIMESTAMPTZ '2000-01-01') AS bucket,
         (array_agg(open ORDER BY "timestamp"))[1] AS open, max(high) AS high, min(low) AS low,
         (array_agg(close ORDER BY "timestamp" DESC))[1] AS close, sum(volume) AS volume
  FROM market_data WHERE interval = '1m' GROUP BY 1, 3
)
SELECT count(*) FROM (
  (SELECT * FROM expected EXCEPT ALL SELECT symbol, bar, bucket, open, high, low, close, volume
   FROM market_data_rollup)
  UNION ALL
  (SELECT symbol, bar, bucket, open, high, low, close, volume FROM market_data_rollup
   EXCEPT ALL SELECT * FROM expected)
) AS differences
"""


def setup_database() -> None:
    """A fresh scratch database with the schema, and Django set up on it."""
    scratch.create_database(DB)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def drop_database() -> None:
    from django.db import connections

    connections.close_all()
    scratch.drop_database(DB)


def make_rows(count: int, symbols: int = 100):
    from market.candles import CandleRow

    per_symbol = count // symbols
    start = datetime(2025, 1, 1, tzinfo=UTC)
    rows = []
    for s in range(symbols):
        symbol = f"KRW-B{s:03d}"
        for i in range(per_symbol):
            price = Decimal(100_000 + (i * 7919 + s) % 5000)
            rows.append(
                CandleRow(
                    symbol, "1m", start + timedelta(minutes=i), price, price + 50, price - 50, price + 10,
                    Decimal("1.23456789"), Decimal("123456.78901234"),
                )
            )  # fmt: skip
    return rows


def empty_tables() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE market_data, market_data_rollup")
        cursor.execute("CHECKPOINT")  # neither run pays for the other's dirty pages


def timed(work) -> dict:
    """Run `work()`; its result, wall, CPU of this process and of the PostgreSQL backend, load."""
    cpu, backend = time.process_time(), scratch.backend_cpu()
    started = time.perf_counter()
    result = work()
    wall = time.perf_counter() - started
    return {
        "result": result,
        "wall": wall,
        "cpu": time.process_time() - cpu,
        "backend": scratch.backend_cpu() - backend,
        "load": os.getloadavg()[0],
    }


def store(rows, batch: int) -> int:
    from market.candles import store_candles

    return sum(store_candles(rows[i : i + batch]) for i in range(0, len(rows), batch))


def raw_copy(rows, batch: int) -> int:
    from django.db import connection, transaction

    from market import pgcopy
    from market.copystream import copy_lines

    sql = f"COPY market_data ({', '.join(pgcopy.COLUMNS)}) FROM STDIN"
    for i in range(0, len(rows), batch):
        with transaction.atomic(), connection.cursor() as cursor, pgcopy.cyclic_gc_paused():  # as the store
            copy_lines(cursor, sql, pgcopy.copy_text(rows[i : i + batch], "unknown"))  # the store's own text
    return len(rows)


def client_alone(rows, batch: int, runs: int = 5) -> None:
    """The store's client work on the rows without a server: COPY text made, read as psycopg2
    reads it, the rollup aggregated and merged. CPU time, median of `runs`."""
    from market import pgcopy, rollups
    from market.copystream import COPY_READ_SIZE, LineReader

    def work():
        for i in range(0, len(rows), batch):
            with pgcopy.cyclic_gc_paused():  # as the store pauses it
                minutes = rollups.NewMinutes()
                reader = LineReader(pgcopy.copy_text(rows[i : i + batch], "unknown", then=minutes.add))
                while reader.read(COPY_READ_SIZE):
                    pass
                parts = {
                    name: np.concatenate([c[name] for c in minutes.chunks]) for name in minutes.chunks[0]
                }
                rollups._merge(parts, rollups._WIDTH_MINUTES)

    cpu = []
    for _ in range(runs):
        started = time.process_time()
        work()
        cpu.append(time.process_time() - started)
    print(
        f"client work alone (COPY text, read, rollup aggregated; no server): CPU median "
        f"{statistics.median(cpu):.2f}s of {len(rows):,} rows ({' '.join(f'{c:.2f}' for c in cpu)})"
    )


def rollup_alone(raw_wall: float) -> None:
    """The rollup rows a store wrote, sent again alone by a raw COPY into the emptied rollup table:
    the server work the store adds to the raw COPY of the minutes, so raw / (raw + this) is the
    best ratio any store keeping this rollup can reach while the server is the slower side."""
    from django.db import connection, transaction

    text = io.StringIO()
    with connection.cursor() as cursor:
        cursor.copy_expert("COPY market_data_rollup TO STDOUT", text)
        cursor.execute("TRUNCATE market_data_rollup")
        cursor.execute("CHECKPOINT")
    count = text.getvalue().count("\n")

    def copy_in():
        text.seek(0)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.copy_expert("COPY market_data_rollup FROM STDIN", text)

    run = timed(copy_in)  # puts the rollup back, too
    ceiling = raw_wall / (raw_wall + run["wall"])
    print(
        f"rollup rows alone: {count:,} rows by raw COPY, wall {run['wall']:.2f}s, backend cpu "
        f"{run['backend']:.2f}s; ceiling raw COPY / (raw COPY + these) = {ceiling:.2f}"
    )


def rollup_differences() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(ROLLUP_DIFFERENCES)
        return cursor.fetchone()[0]


def describe(name: str, rows: int, t: dict) -> str:
    return (
        f"{name:<9} {rows / t['wall']:>9,.0f} rows/s  wall {t['wall']:5.2f}s  cpu {t['cpu']:5.2f}s  "
        f"backend cpu {t['backend']:5.2f}s  load {t['load']:.2f}"
    )


def compare(rows, batch: int, rounds: int) -> list[float]:
    """Store vs raw COPY into the empty table, alternating which goes first, after one untimed run
    of each (without it, the first round, where the store goes first, gave the lowest ratio in each
    of five invocations: the first large writes into a new database, e.g. its new WAL files)."""
    for work in (store, raw_copy):
        empty_tables()
        work(rows, batch)
    ratios, raw_walls = [], []
    for round_ in range(rounds):
        runs = {}
        for name in ("store", "raw COPY") if round_ % 2 == 0 else ("raw COPY", "store"):
            empty_tables()
            runs[name] = timed(lambda name=name: (store if name == "store" else raw_copy)(rows, batch))
            if name == "store":
                assert runs[name]["result"] == len(rows), runs[name]["result"]
                runs[name]["differences"] = rollup_differences()
        ratio = runs["raw COPY"]["wall"] / runs["store"]["wall"]
        ratios.append(ratio)
        raw_walls.append(runs["raw COPY"]["wall"])
        # With both cores busy (load >= 2) the two processes' CPU, not the overlap, decides the wall time.
        cpu = {name: run["cpu"] + run["backend"] for name, run in runs.items()}
        print(
            f"round {round_ + 1}: store / raw COPY = {ratio:.2f} "
            f"(by CPU, this process + backend: {cpu['raw COPY'] / cpu['store']:.2f})"
        )
        for name in ("store", "raw COPY"):
            print("  " + describe(name, len(rows), runs[name]))
        print(f"  rollup rows differing from a from-scratch aggregation: {runs['store']['differences']}")
    print(f"store / raw COPY over {rounds} rounds: {min(ratios):.2f}-{max(ratios):.2f}")
    return raw_walls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    setup_database()
    try:
        rows = make_rows(args.rows)
        client_alone(rows, args.batch)
        raw_walls = compare(rows, args.batch, args.rounds)

        empty_tables()
        store(rows, args.batch)
        rollup_alone(statistics.median(raw_walls))
        again = timed(lambda: store(rows, args.batch))
        print(describe("all conflicts", len(rows), again) + f"  ({again['result']} new)")

        from market.candles import validate_candles

        sample = [r._asdict() for r in rows if r.symbol == "KRW-B000"]
        started = time.perf_counter()
        validate_candles(sample, symbol="KRW-B000", now=datetime.now(UTC))
        took = time.perf_counter() - started
        print(
            f"validation: {len(sample):,} raw candles at {len(sample) / took:,.0f} rows/s (not timed above)"
        )
    finally:
        if not args.keep:
            drop_database()


if __name__ == "__main__":
    main()
