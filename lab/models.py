"""A study of the Strategy lab: what the operator asked for, where it stands, what it found.

The trials themselves live in Optuna's tables in the same database (`optuna_name` names the
Optuna study); this row holds the request, the status the workers move, and the summary.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models

from trading.models import StrategyConfig


class Study(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        CANCELLED = "cancelled"
        FAILED = "failed"

    # --- what the operator asked for (validated by lab.inputs before the row is stored)
    symbols = models.JSONField(help_text="markets traded from one account, in the bot's order")
    start = models.DateTimeField(help_text="first decision")
    end = models.DateTimeField(help_text="end, exclusive")
    regimes = models.JSONField(help_text="regimes whose parameters are tuned")
    space = models.JSONField(
        help_text='"REGIME.parameter": {"low", "high", "step"} or {"choices": [...]}, searched'
    )
    objectives = models.JSONField(help_text="one or two objective names (lab.objectives)")
    directions = models.JSONField(help_text="maximize / minimize, one per objective")
    n_trials = models.PositiveIntegerField()
    seed = models.PositiveIntegerField()
    fee_pct = models.DecimalField(max_digits=6, decimal_places=4, default=Decimal("0.05"))
    slippage_bps = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("5"))
    min_trades = models.PositiveIntegerField(default=5, help_text="fewer: the trial is pruned, n/a")
    force_regime = models.CharField(max_length=10, blank=True, help_text="treat every bar as this regime")
    base_config = models.ForeignKey(
        StrategyConfig, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="the version whose parameters the trials start from (empty: the defaults)",
    )  # fmt: skip
    risk_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="the risk limits' version (empty: the defaults)"
    )
    # --- where it stands
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    optuna_name = models.CharField(max_length=80, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True, help_text="best trial(s), counts (lab.study.summary)")
    promoted_config = models.ForeignKey(
        StrategyConfig, null=True, blank=True, on_delete=models.SET_NULL, related_name="lab_studies",
        help_text="the strategy version promoted from this study",
    )  # fmt: skip
    # --- walk-forward (lab.walkforward): a parent row whose folds are child studies
    walk_forward = models.PositiveSmallIntegerField(
        default=0, help_text="folds of a walk-forward run (0: none)"
    )
    anchored = models.BooleanField(
        default=False, help_text="walk-forward: in-sample parts all start at the start"
    )
    ratio = models.FloatField(default=3.0, help_text="walk-forward: in-sample / out-of-sample length")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="folds",
        help_text="the walk-forward run this study is a fold of (its range: the in-sample part)",
    )  # fmt: skip
    fold_index = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1-based, oldest first")
    out_of_sample_start = models.DateTimeField(null=True, blank=True)
    out_of_sample_end = models.DateTimeField(null=True, blank=True, help_text="exclusive")

    class Meta:
        db_table = "lab_study"
        ordering = ["-created_at"]
        verbose_name_plural = "studies"

    def __str__(self) -> str:
        return f"study {self.pk} ({self.status})"

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.CANCELLED, self.Status.FAILED)


class LookaheadCheck(models.Model):
    """A look-ahead and warm-up check of a strategy version (lab.lookahead) asked from the Lab page
    and run as a job on the `lab` queue; `result` holds each symbol's verdict per column."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    symbols = models.JSONField(help_text="markets checked, each on its own")
    start = models.DateTimeField(help_text="first bar checked (the warm-up before it is read too)")
    end = models.DateTimeField(help_text="end, exclusive")
    config_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="the strategy version checked (empty: the defaults)"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    passed = models.BooleanField(null=True, help_text="empty until it has run")
    result = models.JSONField(default=dict, blank=True, help_text="per symbol: its verdict per column")
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "lab_lookahead_check"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"look-ahead check {self.pk} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
