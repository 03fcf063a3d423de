"""Tuning suggestions kept from the weekly exit reports, so an operator can apply one later."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TuningSuggestion(models.Model):
    """One rule-based proposal: change `parameter` of `regime` from current to proposed value.

    Nothing applies it automatically: an operator does, from the admin, which stores a new
    strategy version and records who did it and which version came out.
    """

    report_date = models.DateField(
        _("report date"), help_text=_("The KST day of the weekly report that made it.")
    )
    regime = models.CharField(_("regime"), max_length=10)
    parameter = models.CharField(_("parameter"), max_length=40)
    current_value = models.FloatField(_("current value"))
    proposed_value = models.FloatField(_("proposed value"))
    reason = models.CharField(_("reason"), max_length=300)
    strategy_version = models.PositiveIntegerField(
        _("strategy version"), help_text=_("The strategy version it was computed against.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("applied by"),
    )
    applied_version = models.PositiveIntegerField(_("applied version"), null=True, blank=True)

    class Meta:
        db_table = "tuning_suggestion"
        verbose_name = _("tuning suggestion")
        verbose_name_plural = _("tuning suggestions")
        ordering = ["-report_date", "regime", "parameter"]
        constraints = [
            models.UniqueConstraint(
                fields=["report_date", "regime", "parameter"], name="one_suggestion_per_report_parameter"
            )
        ]

    def __str__(self) -> str:
        from .suggestions import show

        change = f"{show(self.parameter, self.current_value)} -> {show(self.parameter, self.proposed_value)}"
        return f"{self.regime} {self.parameter} {change}"


MONEY = {"max_digits": 28, "decimal_places": 8}
BPS = {"max_digits": 12, "decimal_places": 2, "null": True, "blank": True}


class FillDriftReport(models.Model):
    """One KST day's paper/live fills against the backtest of that day (analytics/fill_drift.py).

    A re-run of the same day replaces its row. `details` lists every matched fill (prices, bps,
    PnL) and every unmatched one with its reason, the config parts replayed, the regime used.
    """

    day = models.DateField(_("day"), unique=True, help_text=_("The KST day compared."))
    live_trades = models.PositiveIntegerField(
        _("live trades"), default=0, help_text=_("FILLED paper/live trades that day.")
    )
    backtest_trades = models.PositiveIntegerField(
        _("backtest trades"), default=0, help_text=_("Fills the backtest made that day.")
    )
    matched = models.PositiveIntegerField(_("matched"), default=0)
    live_only = models.PositiveIntegerField(
        _("live only"), default=0, help_text=_("Live fills the backtest did not make.")
    )
    backtest_only = models.PositiveIntegerField(
        _("backtest only"), default=0, help_text=_("Backtest fills live did not make.")
    )
    mean_bps = models.DecimalField(
        _("mean drift (bps)"), help_text=_("Mean price drift of matched fills, + = live worse."), **BPS
    )
    mean_abs_bps = models.DecimalField(
        _("mean absolute drift (bps)"), help_text=_("Mean absolute price drift of matched fills."), **BPS
    )
    max_abs_bps = models.DecimalField(
        _("max absolute drift (bps)"), help_text=_("Largest absolute price drift of a matched fill."), **BPS
    )
    live_pnl = models.DecimalField(
        _("live PnL"), default=0, help_text=_("Realised PnL of the live sales, KRW."), **MONEY
    )
    backtest_pnl = models.DecimalField(
        _("backtest PnL"), default=0, help_text=_("Realised PnL of the backtest's sales, KRW."), **MONEY
    )
    details = models.JSONField(_("details"), default=dict, blank=True)
    computed_at = models.DateTimeField(_("computed at"), auto_now=True)

    class Meta:
        db_table = "fill_drift_report"
        verbose_name = _("fill drift report")
        verbose_name_plural = _("fill drift reports")
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"fill drift {self.day}: {self.summary()}"

    @property
    def pnl_difference(self):
        return self.live_pnl - self.backtest_pnl

    def summary(self) -> str:
        """'5 of 6 matched, 1 live only, 0 backtest only, PnL +1,234 KRW vs backtest'."""
        return (
            f"{self.matched} matched, {self.live_only} live only, {self.backtest_only} backtest only, "
            f"PnL {self.pnl_difference:+,.0f} KRW vs the backtest"
        )
