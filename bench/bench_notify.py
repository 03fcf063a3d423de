"""Issue 3: how long `notify()` keeps the caller (the bot cycle) while Discord hangs.

A worker thread is stuck on a fake Discord that never answers; the main thread then calls
notify() N times and prints the latency percentiles. Also prints the cost of rendering and
fitting one embed. Redis: real server db 3 (REDIS_URL to override) or `--embedded` (fakeredis).

    .venv/bin/python bench/bench_notify.py [--embedded] [--calls 2000]
"""

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup(embedded: bool) -> None:
    var = tempfile.mkdtemp(prefix="coinpilot-bench-notify-")
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "coinpilot_site.settings",
            "SECRET_KEY": "bench-only-secret-key",
            "COINPILOT_VAR_DIR": var,
            "DATABASE_URL": f"sqlite:///{var}/bench.sqlite3",
            "LOG_LEVEL": "ERROR",
        }
    )
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    if embedded:
        os.environ["REDIS_URL"] = ""
        os.environ["COINPILOT_EMBEDDED"] = "1"  # in-process fakeredis (DEBUG is off here)
    else:
        os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/3")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def percentile(values: list[float], share: float) -> float:
    return sorted(values)[min(int(len(values) * share), len(values) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--embedded", action="store_true")
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    setup(args.embedded)

    from django.conf import settings
    from django.db import connection

    from core.notifications import discord, embeds, sender
    from core.notifications.samples import SAMPLES
    from core.notify import notify
    from core.redis_conn import get_redis
    from tests.fakes.discord import FakeDiscord

    get_redis().flushdb()
    with FakeDiscord() as fake:
        fake.default, fake.hang_seconds = "hang", 60
        settings.DISCORD_WEBHOOK_URL = fake.url
        settings.DISCORD_TIMEOUT_SECONDS = 30.0
        notify("trade", SAMPLES["trade"])

        def stuck_worker():
            sender.deliver(discord.fingerprint(fake.url))
            connection.close()

        worker = threading.Thread(target=stuck_worker, daemon=True)
        worker.start()
        while not fake.requests:
            time.sleep(0.01)
        durations = []
        for number in range(args.calls):
            payload = {**SAMPLES["trade"], "symbol": f"KRW-B{number % 100:03d}"}
            started = time.perf_counter()
            notify("trade", payload)
            durations.append((time.perf_counter() - started) * 1000)
        fake.default = "204"
        fake.release()
    mode = "embedded fakeredis" if args.embedded else f"Redis {settings.REDIS_URL}"
    print(f"notify() while Discord hangs, {args.calls} calls, {mode}:")
    print(
        f"  p50 {statistics.median(durations):.3f} ms  p95 {percentile(durations, 0.95):.3f} ms  "
        f"p99 {percentile(durations, 0.99):.3f} ms  max {max(durations):.3f} ms"
    )

    at = datetime.now(UTC)
    started = time.perf_counter()
    rounds = 2000
    for _ in range(rounds):
        for event, payload in SAMPLES.items():
            embeds.render(event, payload, at)
    per_embed = (time.perf_counter() - started) / (rounds * len(SAMPLES)) * 1e6
    print(f"render + fit one embed: {per_embed:.1f} us (mean over {rounds * len(SAMPLES)})")
    get_redis().flushdb()


if __name__ == "__main__":
    main()
