"""Issue 4: bulk candle storage into PostgreSQL (market.candles.store_candles).

Target: 1,000,000 candles at >= 100,000 rows/s into an empty table, and again (all conflicts)
at >= 100,000 rows/s. Rows are validated CandleRow tuples (validation is timed separately);
stored in batches of --batch rows, each batch its own transaction, as backfill does.

    .venv/bin/python bench/bench_candle_store.py            # scratch database cp_h4_bench, dropped after
"""

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = os.environ.get("BENCH_DB", "cp_h4_bench")
os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB}"
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/4")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
os.environ.setdefault("COINPILOT_VAR_DIR", str(Path(tempfile.gettempdir()) / "coinpilot-bench-h4"))
os.environ["DJANGO_SETTINGS_MODULE"] = "coinpilot_site.settings"


def admin_sql(*statements: str) -> None:
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)
    conn.close()


def setup_database() -> None:
    """A fresh scratch database with the schema, and Django set up on it."""
    admin_sql(f"DROP DATABASE IF EXISTS {DB}", f"CREATE DATABASE {DB}")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def drop_database() -> None:
    from django.db import connections

    connections.close_all()
    admin_sql(f"DROP DATABASE IF EXISTS {DB}")


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


def timed_store(rows, batch: int) -> tuple[int, float]:
    from market.candles import store_candles

    started = time.perf_counter()
    inserted = sum(store_candles(rows[i : i + batch]) for i in range(0, len(rows), batch))
    return inserted, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    setup_database()
    try:
        rows = make_rows(args.rows)
        inserted, fresh = timed_store(rows, args.batch)
        print(f"fresh:         {inserted:,} rows in {fresh:.2f}s = {inserted / fresh:,.0f} rows/s")
        again, conflicts = timed_store(rows, args.batch)
        rate = len(rows) / conflicts
        print(f"all conflicts: {len(rows):,} rows ({again} new) in {conflicts:.2f}s = {rate:,.0f} rows/s")

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
