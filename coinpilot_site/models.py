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


class NotificationLog(models.Model):
    """The final outcome of one alert (one embed): sent to Discord, or failed for good.

    Written by the notifications sender; the System page shows the last 24 hours. The webhook is
    stored masked only (its token is a secret).
    """

    class Status(models.TextChoices):
        SENT = "sent"
        FAILED = "failed"

    ref = models.CharField(max_length=64, unique=True, help_text="Outbox item id (idempotent writes).")
    event = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=Status.choices)
    title = models.CharField(max_length=256, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    webhook = models.CharField(max_length=120, blank=True, help_text="Masked webhook URL.")
    created_at = models.DateTimeField(default=timezone.now, help_text="When the event was raised.")
    finished_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "notification_log"
        indexes = [models.Index(fields=["-created_at"], name="notiflog_created")]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.event} {self.status} @ {self.created_at:%Y-%m-%d %H:%M:%S}"


class NotificationSetting(models.Model):
    """Per event type: the operator's on/off switch, and whether its webhook answered 404."""

    event = models.CharField(max_length=32, unique=True)
    enabled = models.BooleanField(default=True)
    webhook_gone = models.CharField(
        max_length=32,
        blank=True,
        help_text="Fingerprint of a webhook URL that answered 404; sending stays off until the URL "
        "changes or this is cleared.",
    )
    webhook_gone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "notification_settings"
        ordering = ["event"]

    def __str__(self) -> str:
        return f"{self.event} ({'on' if self.enabled else 'off'})"
