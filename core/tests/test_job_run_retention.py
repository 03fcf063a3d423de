"""The job run records are kept JOB_RUNS_KEEP_DAYS days, each job's latest whatever its age."""

from datetime import timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from core import jobs
from core.env_bounds import check_numbers
from core.models import JobRun

pytestmark = pytest.mark.django_db


def run(job: str, days_ago: float, now) -> JobRun:
    at = now - timedelta(days=days_ago)
    return JobRun.objects.create(job=job, slot=at, status="success", started_at=at, claim=f"{job}:{at}")


def test_old_runs_are_deleted_in_batches_and_each_jobs_latest_is_kept(settings, monkeypatch):
    settings.JOB_RUNS_KEEP_DAYS = 30
    monkeypatch.setattr(jobs, "FORGET_BATCH", 3)  # several batches
    now = timezone.now()
    for days in (40, 35, 31, 30.5, 10, 1):
        run("bot_cycle", days, now)
    old_report = run("weekly_exit_report", 60, now)  # its only run: kept although older
    run("weekly_exit_report", 90, now)
    gone_job = run("a_job_no_longer_scheduled", 45, now)

    outcome = jobs.forget_old_job_runs(slot=now)

    left = sorted(
        round((now - r.started_at) / timedelta(days=1), 1) for r in JobRun.objects.filter(job="bot_cycle")
    )
    assert left == [1.0, 10.0]
    assert list(JobRun.objects.filter(job="weekly_exit_report")) == [old_report]
    assert not JobRun.objects.filter(pk=gone_job.pk).exists()
    assert outcome.startswith("6 runs from before ") and outcome.endswith(" KST deleted")
    assert jobs.forget_old_job_runs(slot=now).startswith("0 runs")


def test_the_keep_days_are_checked_at_start():
    with pytest.raises(ImproperlyConfigured, match="JOB_RUNS_KEEP_DAYS"):
        check_numbers({"JOB_RUNS_KEEP_DAYS": 1})
