"""Where a page's time goes: each endpoint of bench_pages.py requested in-process (no HTTP, no
concurrency), with its SQL count, SQL time and slowest statements.

Run bench_pages.py once first (it fills cp_bench_pages), then:

    .venv/bin/python bench/profile_pages.py [url ...]
"""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_pages  # noqa: E402  (sets the environment for the bench database)

RUNS = 5


def main() -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(get_user_model().objects.get(username="bench"))
    urls = sys.argv[1:] or bench_pages.ENDPOINTS
    for url in urls:
        client.get(url)  # warm-up
        times, sql = [], None
        for _ in range(RUNS):
            reset_queries()
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(url)
                times.append(time.perf_counter() - started)
            assert response.status_code == 200, (url, response.status_code)
            sql = queries.captured_queries
        sql_ms = sum(float(q["time"]) for q in sql) * 1000
        print(
            f"{url:<48} median {statistics.median(times) * 1000:6.0f} ms  "
            f"{len(sql):2d} queries {sql_ms:6.0f} ms  {len(response.content) // 1024} KiB"
        )
        for q in sorted(sql, key=lambda q: -float(q["time"]))[:3]:
            print(f"      {float(q['time']) * 1000:6.0f} ms  {q['sql'][:150]}")


if __name__ == "__main__":
    main()
