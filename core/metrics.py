"""Prometheus metrics of the infrastructure, and the multiprocess plumbing behind them.

Web and worker processes write into PROMETHEUS_MULTIPROC_DIR (set in settings) and the web
`/metrics` view aggregates the files. Rule for every metric written inside an RQ job: give it at
least one label. A labelled child is created in the work horse that uses it, so it opens the
value file fresh after the fork; an unlabelled value would be created in the parent at import
and every fork would start from the parent's stale copy. Gauges of business state (positions,
PnL) are read from the database at scrape time instead of being set by workers.
"""

import os

from prometheus_client import Counter, Gauge, Histogram, values

JOB_RUNS = Counter("coinpilot_job_runs_total", "Scheduled job runs by outcome", ["job", "outcome"])
JOB_DURATION = Histogram(
    "coinpilot_job_duration_seconds",
    "Wall time of scheduled job runs",
    ["job"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
JOB_LAST_SUCCESS = Gauge(
    "coinpilot_job_last_success_timestamp_seconds",
    "Unix time of the last successful run",
    ["job"],
    multiprocess_mode="max",
)
SCHEDULER_TICKS = Counter(
    "coinpilot_scheduler_slots_total", "Scheduler decisions per job slot", ["job", "outcome"]
)
NOTIFICATIONS_ENQUEUED = Counter(
    "coinpilot_notifications_enqueued_total", "Notifications handed to the queue", ["event"]
)


def use_process_files(identifier: str) -> None:
    """Write this process's metrics to files named after `identifier` (a fresh file handle).

    Called in each RQ work horse right after the fork with the parent worker's id, so all jobs
    of one worker share one file set instead of leaving four files per job behind.
    """
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        values.ValueClass = values.MultiProcessValue(process_identifier=lambda: identifier)
