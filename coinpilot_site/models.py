"""Operations records: what the scheduled jobs did (the System page reads these)."""

from datetime import datetime

from django.db import models
from django.utils import timezone


class JobRun(models.Model):
    """One execution (or deliberate skip) of a scheduled job slot."""

    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCESS = "success"
        FAILURE = "failure"
        TIMEOUT = "timeout"
        SKIPPED = "skipped"
        LOST = "lost"  # the process died without recording an end (killed, OOM)

    job = models.CharField(max_length=64)
    slot = models.DateTimeField(help_text="The cron slot this run belongs to (UTC).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    message = models.TextField(blank=True, help_text="Summary on success, the error otherwise.")

    class Meta:
        db_table = "job_runs"
        indexes = [models.Index(fields=["job", "-started_at"], name="jobrun_job_started")]
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.job} @ {self.slot:%Y-%m-%d %H:%M:%S} ({self.status})"

    @classmethod
    def start(cls, job: str, slot: datetime, *, worker: str = "") -> "JobRun":
        return cls.objects.create(job=job, slot=slot, worker=worker[:200])

    @classmethod
    def record_skip(cls, job: str, slot: datetime, reason: str) -> "JobRun":
        now = timezone.now()
        return cls.objects.create(
            job=job,
            slot=slot,
            status=cls.Status.SKIPPED,
            finished_at=now,
            duration_ms=0,
            message=reason,
        )

    @classmethod
    def mark_lost(cls, job: str) -> int:
        """Close runs left 'running' by a process that died (called while holding the job lock)."""
        return cls.objects.filter(job=job, status=cls.Status.RUNNING).update(
            status=cls.Status.LOST,
            finished_at=timezone.now(),
            message="the worker stopped without recording an end",
        )

    def finish(self, status: str, seconds: float, message: str = "") -> None:
        self.status = status
        self.finished_at = timezone.now()
        self.duration_ms = round(seconds * 1000)
        self.message = message[:10_000]
        self.save(update_fields=["status", "finished_at", "duration_ms", "message"])
