"""gunicorn settings for the `web` service."""

import os

from core.logging_format import gunicorn_logconfig

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")  # noqa: S104  (inside the container)
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
# Threaded workers: an open Ask answer (a stream of up to ASK_TIME_LIMIT_SECONDS) holds one thread,
# not a whole process, so pages and /healthz keep answering while answers stream.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = 60
accesslog = "-"
# LOG_FORMAT=json: gunicorn's own lines (start-up, access log) are JSON objects too.
logconfig_dict = (
    gunicorn_logconfig(os.environ.get("LOG_FORMAT", "text"), "coinpilot_site.error_reports.secret_values")
    or {}
)


def post_worker_init(worker) -> None:
    # What every Market chart needs (scipy.signal for the RSI: 0.5-2 s and 65 MB): imported as the
    # worker starts, before its first request, instead of by the first person to open a chart.
    from django.conf import settings

    from core.worker import freeze_start_up_objects, import_all

    import_all(settings.WEB_WORKER_PRELOAD)
    freeze_start_up_objects()  # after the imports: what they made is frozen


def child_exit(server, worker) -> None:
    # Live-gauge files of a dead web worker must stop counting in /metrics.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
