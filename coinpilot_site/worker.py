"""The RQ worker class every CoinPilot worker runs (`RQ["WORKER_CLASS"]` in settings)."""

import os

from django import db
from rq.job import Job
from rq.queue import Queue
from rq.worker import Worker

from . import metrics


class CoinPilotWorker(Worker):
    """A forking worker that is safe with Django's database connections and multiprocess metrics."""

    def fork_work_horse(self, job: Job, queue: Queue) -> None:
        # A connection opened in the parent must never be shared with the forked horse.
        db.connections.close_all()
        super().fork_work_horse(job, queue)

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        metrics.use_process_files(f"rqworker-{os.getppid()}")
        super().main_work_horse(job, queue)

    def perform_job(self, job: Job, queue: Queue) -> bool:
        try:
            return super().perform_job(job, queue)
        finally:
            if self._is_horse:
                db.connections.close_all()
