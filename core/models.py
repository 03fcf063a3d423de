"""Operations records: what the scheduled jobs did (the System page reads these)."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class JobRun(models.Model):
    """One scheduled slot of a job: claimed, then run (or deliberately skipped), with its outcome.

    The row is the authority on what has run: the scheduler inserts it (unique `claim`) before it
    enqueues the slot, the worker moves it from queued to running, and a running row proves it
    is alive by its heartbeat. Redis (locks, queues) may forget; this table does not.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")  # claimed by a scheduler and enqueued, not started yet
        RUNNING = "running", _("Running")
        SUCCESS = "success", _("Success")
        FAILURE = "failure", _("Failure")
        TIMEOUT = "timeout", _("Timeout")
        SKIPPED = "skipped", _("Skipped")
        LOST = "lost", _("Lost")  # the process died without recording an end (killed, OOM)

    job = models.CharField(_("job"), max_length=64)
    slot = models.DateTimeField(_("slot"), help_text=_("The cron slot this run belongs to (UTC)."))
    claim = models.CharField(
        _("claim"),
        max_length=100,
        unique=True,
        null=True,
        blank=True,
        help_text=_("The slot's job id: one row per scheduled slot, whatever Redis remembers."),
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    heartbeat_at = models.DateTimeField(
        _("heartbeat at"),
        null=True,
        blank=True,
        help_text=_("Renewed every few seconds while the run is alive."),
    )
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)
    worker = models.CharField(_("worker"), max_length=200, blank=True)
    message = models.TextField(
        _("message"), blank=True, help_text=_("Summary on success, the error otherwise.")
    )

    class Meta:
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")
        db_table = "job_runs"
        indexes = [
            models.Index(fields=["job", "-started_at"], name="jobrun_job_started"),
            models.Index(fields=["status", "heartbeat_at"], name="jobrun_status_heartbeat"),
            # the admin's newest runs of all jobs, and the retention job's old ones
            models.Index(fields=["-started_at"], name="jobrun_started"),
        ]
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.job} @ {self.slot:%Y-%m-%d %H:%M:%S} ({self.status})"

    @classmethod
    def start(cls, job: str, slot: datetime, *, worker: str = "") -> "JobRun":
        """A run with no claim (on demand): running from now."""
        now = timezone.now()
        return cls.objects.create(job=job, slot=slot, worker=worker[:200], started_at=now, heartbeat_at=now)

    @classmethod
    def claim_slot(cls, job: str, slot: datetime, claim: str, *, status: str, message: str = ""):
        """Insert the slot's row; None when another scheduler (or an earlier life) claimed it."""
        now = timezone.now()
        done = status == cls.Status.SKIPPED
        try:
            with transaction.atomic():
                return cls.objects.create(
                    job=job,
                    slot=slot,
                    claim=claim,
                    status=status,
                    started_at=now,
                    finished_at=now if done else None,
                    duration_ms=0 if done else None,
                    message=message,
                )
        except IntegrityError:
            return None

    @classmethod
    def begin_claimed(cls, claim: str, *, worker: str = "") -> bool:
        """Queued -> running, atomically: False when the slot already ran, runs, or was skipped."""
        now = timezone.now()
        moved = cls.objects.filter(claim=claim, status=cls.Status.QUEUED).update(
            status=cls.Status.RUNNING, started_at=now, heartbeat_at=now, worker=worker[:200]
        )
        return moved == 1

    @classmethod
    def record_skip(cls, job: str, slot: datetime, reason: str, *, claim: str | None = None) -> "JobRun":
        """A deliberate skip: the queued claim becomes 'skipped', or a new row says so."""
        now = timezone.now()
        fields = {"status": cls.Status.SKIPPED, "finished_at": now, "duration_ms": 0, "message": reason}
        if claim and cls.objects.filter(claim=claim, status=cls.Status.QUEUED).update(**fields):
            return cls.objects.get(claim=claim)
        return cls.objects.create(job=job, slot=slot, started_at=now, **fields)

    @classmethod
    def alive_cutoff(cls, now: datetime | None = None) -> datetime:
        return (now or timezone.now()) - timedelta(seconds=settings.JOB_HEARTBEAT_STALE_SECONDS)

    @classmethod
    def running_alive(cls, job: str, *, exclude_pk: int | None = None) -> bool:
        """A run of `job` that renewed its heartbeat recently (the database's view of the lock)."""
        runs = cls.objects.filter(job=job, status=cls.Status.RUNNING, heartbeat_at__gte=cls.alive_cutoff())
        return runs.exclude(pk=exclude_pk).exists()

    @classmethod
    def mark_lost(cls, job: str | None = None, now: datetime | None = None) -> list["JobRun"]:
        """Close runs whose heartbeat stopped (killed, OOM, power cut); return the ones closed here.

        Each row is closed by one conditional UPDATE that re-checks the heartbeat, so when several
        processes sweep at once exactly one of them reports (and alerts) each lost run, and a run
        whose heartbeat arrived meanwhile (it waited for a database lock) is left alone.
        """
        now = now or timezone.now()
        cutoff = cls.alive_cutoff(now)
        silent = Q(status=cls.Status.RUNNING) & (
            Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
        )
        stale = cls.objects.filter(silent)
        if job is not None:
            stale = stale.filter(job=job)
        closed = []
        for run in stale:
            message = "the worker stopped without recording an end (killed or out of memory)"
            if cls.objects.filter(silent, pk=run.pk).update(
                status=cls.Status.LOST, finished_at=now, message=message
            ):
                run.status, run.finished_at, run.message = cls.Status.LOST, now, message
                closed.append(run)
        return closed

    @classmethod
    def latest_per_job(cls, jobs: list[str], since: datetime) -> list["JobRun"]:
        """The latest run (by start) of each of `jobs` that ever ran, with its job's runs and failures
        since `since` (`runs_since`, `failures_since`): one statement of index probes and the window's
        rows. Grouping all runs by job instead read every row: 0.3 s of database time with a year of
        runs; this takes 1-2 ms. The window's rows are grouped whatever their job (the join keeps the
        wanted ones): a semi-join of each row against `wanted` cost a third more, planning included."""
        if not jobs:
            return []
        table = cls._meta.db_table
        failed = [cls.Status.FAILURE.value, cls.Status.TIMEOUT.value, cls.Status.LOST.value]
        since_value = connection.ops.adapt_datetimefield_value(since)
        # only placeholders and the table's own name are formatted in
        sql = f"""
            WITH wanted(job) AS (VALUES {", ".join(["(%s)"] * len(jobs))})
            SELECT runs.*,
                COALESCE(recent.runs, 0) AS runs_since, COALESCE(recent.failures, 0) AS failures_since
            FROM {table} runs LEFT JOIN (
                SELECT job, COUNT(*) AS runs,
                    SUM(CASE WHEN status IN ({", ".join(["%s"] * len(failed))}) THEN 1 ELSE 0 END) AS failures
                FROM {table} WHERE started_at >= %s GROUP BY job
            ) recent ON recent.job = runs.job
            WHERE runs.id IN (
                SELECT (
                    SELECT r.id FROM {table} r WHERE r.job = wanted.job
                    ORDER BY r.started_at DESC, r.id DESC LIMIT 1
                ) FROM wanted
            )
        """  # noqa: S608
        return list(cls.objects.raw(sql, [*jobs, *failed, since_value]))

    def beat(self) -> None:
        JobRun.objects.filter(pk=self.pk, status=self.Status.RUNNING).update(heartbeat_at=timezone.now())

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
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    ref = models.CharField(
        _("reference"), max_length=64, unique=True, help_text=_("Outbox item id (idempotent writes).")
    )
    event = models.CharField(_("event"), max_length=32)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    title = models.CharField(_("title"), max_length=256, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    webhook = models.CharField(_("webhook"), max_length=120, blank=True, help_text=_("Masked webhook URL."))
    created_at = models.DateTimeField(
        _("created at"), default=timezone.now, help_text=_("When the event was raised.")
    )
    finished_at = models.DateTimeField(_("finished at"), default=timezone.now)

    class Meta:
        verbose_name = _("notification log entry")
        verbose_name_plural = _("notification log")
        db_table = "notification_log"
        indexes = [models.Index(fields=["-created_at"], name="notiflog_created")]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.event} {self.status} @ {self.created_at:%Y-%m-%d %H:%M:%S}"


class NotificationSetting(models.Model):
    """Per event type: the operator's on/off switch, and whether its webhook answered 404."""

    event = models.CharField(_("event"), max_length=32, unique=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    webhook_gone = models.CharField(
        _("webhook gone"),
        max_length=32,
        blank=True,
        help_text=_(
            "Fingerprint of a webhook URL that answered 404; sending stays off until the URL "
            "changes or this is cleared."
        ),
    )
    webhook_gone_at = models.DateTimeField(_("webhook gone at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification setting")
        verbose_name_plural = _("notification settings")
        db_table = "notification_settings"
        ordering = ["event"]

    def __str__(self) -> str:
        return f"{self.event} ({'on' if self.enabled else 'off'})"


class UserPreference(models.Model):
    """What a signed-in person chose for themselves (today: the language of the pages and chat replies)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference", verbose_name=_("user")
    )
    # The choices stay the languages' own names (한국어, English): a language menu is read in any language.
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, help_text=_("ko or en")
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("user preference")
        verbose_name_plural = _("user preferences")

    def __str__(self) -> str:
        return f"{self.user}: {self.language}"

    @classmethod
    def language_of(cls, user) -> str | None:
        """The user's saved language, or None (then the browser's Accept-Language decides)."""
        if user is None or not user.is_authenticated:
            return None
        return cls.objects.filter(user=user).values_list("language", flat=True).first()
