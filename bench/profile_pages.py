"""Where a page's time goes: each endpoint of bench_pages.py requested in-process (no HTTP, no
concurrency), with its CPU time a request (this process, and its PostgreSQL backend: what 10 users
share 2 cores for; the mean of 50 requests), its SQL count, SQL time and slowest statements, and the
load average.

Run bench_pages.py once first (it fills cp_bench_pages), then:

    .venv/bin/python bench/profile_pages.py [url ...]           # the page cache as it is (hits)
    .venv/bin/python bench/profile_pages.py --miss [url ...]    # emptied before every request
    .venv/bin/python bench/profile_pages.py --cprofile URL      # the miss's slowest functions too
"""

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_pages  # noqa: E402  (sets the environment for the bench database)

from bench.scratch import backend_cpu  # noqa: E402

RUNS = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("urls", nargs="*", help="default: every page bench_pages.py requests")
    parser.add_argument("--miss", action="store_true", help="empty the page cache before each request")
    parser.add_argument("--cprofile", action="store_true", help="print the slowest functions of a miss")
    parser.add_argument("--queries", type=int, default=3, metavar="N", help="print the N slowest statements")
    parser.add_argument("--runs", type=int, default=RUNS, help=f"requests per page (default {RUNS})")
    args = parser.parse_args()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(get_user_model().objects.get(username="bench"))
    urls = args.urls or bench_pages.endpoints(timezone.now().replace(second=0, microsecond=0))
    for url in urls:
        client.get(url)  # warm-up
        times, cpu, sql = [], 0.0, None
        # the backend's CPU over all the runs: the kernel counts it in ticks of 10 ms, so its 1-4 ms
        # a request read 0 in a median of single requests
        db_cpu = backend_cpu()
        for _ in range(args.runs):
            if args.miss or args.cprofile:
                bench_pages.clear_page_cache()
            reset_queries()
            with CaptureQueriesContext(connection) as queries:
                started, cpu_started = time.perf_counter(), time.process_time()
                response = client.get(url)
                body = b"".join(response.streaming_content) if response.streaming else response.content
                times.append(time.perf_counter() - started)
                cpu += time.process_time() - cpu_started
            assert response.status_code == 200, (url, response.status_code)
            sql = queries.captured_queries
        cpu = cpu / args.runs * 1000
        db_cpu = (backend_cpu() - db_cpu) / args.runs * 1000
        sql_ms = sum(float(q["time"]) for q in sql) * 1000
        print(
            f"{url:<48} median {statistics.median(times) * 1000:4.0f} ms  CPU a request {cpu:4.1f}"
            f" + database {db_cpu:4.1f} = {cpu + db_cpu:4.1f} ms  {len(sql):2d} queries {sql_ms:4.1f} ms"
            f"  {len(body) // 1024} KiB"
        )
        for q in sorted(sql, key=lambda q: -float(q["time"]))[: args.queries]:
            print(f"      {float(q['time']) * 1000:6.1f} ms  {q['sql'][:150]}")
        if args.cprofile:
            bench_pages.clear_page_cache()  # a miss
            profiler = cProfile.Profile()
            profiler.runcall(client.get, url)
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
