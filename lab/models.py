"""A study of the Strategy lab: what the operator asked for, where it stands, what it found.

The trials themselves live in Optuna's tables in the same database (`optuna_name` names the
Optuna study); this row holds the request, the status the workers move, and the summary.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from trading.models import StrategyConfig


class Study(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")
        FAILED = "failed", _("Failed")

    # --- what the operator asked for (validated by lab.inputs before the row is stored)
    symbols = models.JSONField(
        _("symbols"), help_text=_("markets traded from one account, in the bot's order")
    )
    start = models.DateTimeField(_("start"), help_text=_("first decision"))
    end = models.DateTimeField(_("end"), help_text=_("end, exclusive"))
    regimes = models.JSONField(_("regimes"), help_text=_("regimes whose parameters are tuned"))
    space = models.JSONField(
        _("search space"),
        help_text=_('"REGIME.parameter": {"low", "high", "step"} or {"choices": [...]}, searched'),
    )
    objectives = models.JSONField(_("objectives"), help_text=_("one or two objective names (lab.objectives)"))
    directions = models.JSONField(_("directions"), help_text=_("maximize / minimize, one per objective"))
    n_trials = models.PositiveIntegerField(_("trials"))
    seed = models.PositiveIntegerField(_("seed"))
    fee_pct = models.DecimalField(_("fee (%)"), max_digits=6, decimal_places=4, default=Decimal("0.05"))
    slippage_bps = models.DecimalField(
        _("slippage (bps)"), max_digits=8, decimal_places=2, default=Decimal("5")
    )
    min_trades = models.PositiveIntegerField(
        _("minimum trades"), default=5, help_text=_("fewer: the trial is pruned, n/a")
    )
    force_regime = models.CharField(
        _("forced regime"), max_length=10, blank=True, help_text=_("treat every bar as this regime")
    )
    base_config = models.ForeignKey(
        StrategyConfig, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("base strategy version"),
        help_text=_("the version whose parameters the trials start from (empty: the defaults)"),
    )  # fmt: skip
    risk_version = models.PositiveIntegerField(
        _("risk limits version"),
        null=True,
        blank=True,
        help_text=_("the risk limits' version (empty: the defaults)"),
    )
    # --- where it stands
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(_("error"), blank=True)
    optuna_name = models.CharField(_("Optuna study name"), max_length=80, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    result = models.JSONField(
        _("result"), default=dict, blank=True, help_text=_("best trial(s), counts (lab.study.summary)")
    )
    promoted_config = models.ForeignKey(
        StrategyConfig, null=True, blank=True, on_delete=models.SET_NULL, related_name="lab_studies",
        verbose_name=_("promoted strategy version"),
        help_text=_("the strategy version promoted from this study"),
    )  # fmt: skip
    # --- walk-forward (lab.walkforward): a parent row whose folds are child studies
    walk_forward = models.PositiveSmallIntegerField(
        _("walk-forward folds"), default=0, help_text=_("folds of a walk-forward run (0: none)")
    )
    anchored = models.BooleanField(
        _("anchored"), default=False, help_text=_("walk-forward: in-sample parts all start at the start")
    )
    ratio = models.FloatField(
        _("in-sample / out-of-sample ratio"),
        default=3.0,
        help_text=_("walk-forward: in-sample / out-of-sample length"),
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="folds",
        verbose_name=_("walk-forward run"),
        help_text=_("the walk-forward run this study is a fold of (its range: the in-sample part)"),
    )  # fmt: skip
    fold_index = models.PositiveSmallIntegerField(
        _("fold"), null=True, blank=True, help_text=_("1-based, oldest first")
    )
    out_of_sample_start = models.DateTimeField(_("out-of-sample start"), null=True, blank=True)
    out_of_sample_end = models.DateTimeField(
        _("out-of-sample end"), null=True, blank=True, help_text=_("exclusive")
    )

    class Meta:
        db_table = "lab_study"
        ordering = ["-created_at"]
        verbose_name = _("study")
        verbose_name_plural = _("studies")

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
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    symbols = models.JSONField(_("symbols"), help_text=_("markets checked, each on its own"))
    start = models.DateTimeField(
        _("start"), help_text=_("first bar checked (the warm-up before it is read too)")
    )
    end = models.DateTimeField(_("end"), help_text=_("end, exclusive"))
    config_version = models.PositiveIntegerField(
        _("strategy version"),
        null=True,
        blank=True,
        help_text=_("the strategy version checked (empty: the defaults)"),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    passed = models.BooleanField(_("passed"), null=True, help_text=_("empty until it has run"))
    result = models.JSONField(
        _("result"), default=dict, blank=True, help_text=_("per symbol: its verdict per column")
    )
    error = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        db_table = "lab_lookahead_check"
        ordering = ["-created_at"]
        verbose_name = _("look-ahead check")
        verbose_name_plural = _("look-ahead checks")

    def __str__(self) -> str:
        return f"look-ahead check {self.pk} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
