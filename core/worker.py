"""The RQ worker class every CoinPilot worker runs (`RQ["WORKER_CLASS"]` in settings), and what a
worker process, RQ's or gunicorn's, does as it starts (its imports; a web worker's freeze)."""

import ctypes
import gc
import importlib
import os
import signal
import sys
from collections.abc import Iterable

from django import db
from django.conf import settings
from rq.job import Job
from rq.queue import Queue
from rq.worker import Worker

from . import metrics
from .errors import tag_process
from .logging_context import job_fields, log_context


class CoinPilotWorker(Worker):
    """A forking worker that is safe with Django's database connections and multiprocess metrics."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        tag_process("worker")

    def work(self, *args, **kwargs) -> bool:
        # Before registering and taking a job: the start pays the imports, no job and no horse does.
        preload(self.queue_names())
        return super().work(*args, **kwargs)

    def execute_job(self, job: Job, queue: Queue) -> None:
        # The job's id, name and slot on every log line and error report of it, in the worker and
        # (inherited through the fork) in its work horse.
        with log_context(**job_fields(job)):
            super().execute_job(job, queue)

    def fork_work_horse(self, job: Job, queue: Queue) -> None:
        # A connection opened in the parent must never be shared with the forked horse.
        db.connections.close_all()
        super().fork_work_horse(job, queue)

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        die_with_parent()
        metrics.use_process_files(f"rqworker-{os.getppid()}")
        super().main_work_horse(job, queue)

    def perform_job(self, job: Job, queue: Queue) -> bool:
        try:
            return super().perform_job(job, queue)
        finally:
            if self._is_horse:
                db.connections.close_all()


def preload(queues: Iterable[str] = ()) -> None:
    """Import settings.RQ_WORKER_PRELOAD (a module already imported costs a dictionary lookup),
    unless every one of `queues` is in settings.RQ_QUEUES_WITHOUT_PRELOAD."""
    if queues and set(queues) <= set(settings.RQ_QUEUES_WITHOUT_PRELOAD):
        return
    import_all(settings.RQ_WORKER_PRELOAD)


def import_all(names: Iterable[str]) -> None:
    """Import each module named (a module already imported costs a dictionary lookup): what a
    process pays as it starts so that no job or request pays it (workers, and gunicorn's web
    workers with settings.WEB_WORKER_PRELOAD)."""
    for name in names:
        importlib.import_module(name)


def freeze_start_up_objects() -> None:
    """Take what a web worker made as it started out of every later garbage collection (gunicorn's
    post_worker_init, after the worker's imports).

    A full collection walks every object the process holds, about 260,000 after Django, pandas,
    scipy and plotly are imported (90-140 ms of CPU here), and stalls every thread of the worker
    meanwhile. The start-up objects live as long as the process, so walking them finds nothing.
    Frozen, a full collection walks only what the requests made. bench/README.md (session 24):
    full collections 15-18 per bench_pages.py run instead of 8-9, but 0.7-1.2 s of wall in all
    instead of 2.2-3.3 s, the longest 104-265 ms instead of 340-800 ms."""
    gc.freeze()


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> None:
    """Have the kernel SIGKILL this work-horse when its worker dies.

    rq starts the horse in a process session of its own, so a SIGKILLed worker used to leave
    its horse running on, booking trades nobody supervised. A horse killed mid-booking loses
    nothing: the booking is one database transaction.
    """
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent or parent == 1:  # the worker died before the request took effect
        os._exit(1)
