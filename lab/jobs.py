"""The Strategy lab's job on the `lab` queue: run a study's trials for a while, then hand over."""

import django_rq
from rq import Queue, Worker, get_current_job

from core.redis_conn import get_redis

from .checks import run_check
from .models import LookaheadCheck, Study
from .study import run_trials

SLICE_SECONDS = 60  # a job runs trials this long, then queues its successor (fair to other studies)
JOB_TIMEOUT = 900  # the slice plus the longest trial (a year of minutes of 20 markets)


def enqueue_study_job(study_id: int) -> None:
    django_rq.get_queue("lab").enqueue(
        run_study_slice,
        study_id,
        job_timeout=JOB_TIMEOUT,
        result_ttl=3600,
        failure_ttl=86400,
        description=f"lab study {study_id}",
    )


def run_study_slice(study_id: int) -> int:
    """Run trials of the study for SLICE_SECONDS; queue a successor while it is not done. A worker
    killed here loses its job and its trial only: the other jobs carry the study on."""
    study = Study.objects.filter(pk=study_id).first()
    if study is None or study.finished:
        return 0
    others = other_queues_of_this_worker()
    ran = run_trials(study, max_seconds=SLICE_SECONDS, stop=lambda: work_waiting(others))
    if not study.finished:
        enqueue_study_job(study_id)
    return ran


def other_queues_of_this_worker() -> list[str]:
    """The queues besides `lab` that the worker running this job also serves (the embedded
    default's one worker serves them all; a production `worker-lab` serves none)."""
    job = get_current_job()
    worker = (
        Worker.find_by_key(Worker.redis_worker_namespace_prefix + job.worker_name, connection=job.connection)
        if job and job.worker_name
        else None
    )
    return [name for name in worker.queue_names() if name != "lab"] if worker else []


def work_waiting(queues: list[str]) -> bool:
    """Whether any of these queues has a job waiting: a study then hands its worker over after
    the current trial, so a bot cycle never waits for a slice of trials (its grace is 30 s)."""
    if not queues:
        return False
    pipe = get_redis().pipeline(transaction=False)
    for name in queues:
        pipe.llen(Queue.redis_queue_namespace_prefix + name)
    return any(pipe.execute())


CHECK_TIMEOUT = 1800  # a year of minutes of MAX_SYMBOLS symbols, 50 cuts each


def enqueue_lookahead_check(check_id: int) -> None:
    django_rq.get_queue("lab").enqueue(
        run_lookahead_check,
        check_id,
        job_timeout=CHECK_TIMEOUT,
        result_ttl=3600,
        failure_ttl=86400,
        description=f"lab look-ahead check {check_id}",
    )


def run_lookahead_check(check_id: int) -> bool | None:
    """Run a look-ahead and warm-up check asked from the Lab page; its verdict (passed or not,
    None when it could not run) is stored with it."""
    check = LookaheadCheck.objects.filter(pk=check_id).first()
    if check is None or check.finished:
        return None
    return run_check(check).passed
