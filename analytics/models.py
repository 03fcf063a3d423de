"""Tuning suggestions kept from the weekly exit reports, so an operator can apply one later."""

from django.conf import settings
from django.db import models


class TuningSuggestion(models.Model):
    """One rule-based proposal: change `parameter` of `regime` from current to proposed value.

    Nothing applies it automatically: an operator does, from the admin, which stores a new
    strategy version and records who did it and which version came out.
    """

    report_date = models.DateField(help_text="The KST day of the weekly report that made it.")
    regime = models.CharField(max_length=10)
    parameter = models.CharField(max_length=40)
    current_value = models.FloatField()
    proposed_value = models.FloatField()
    reason = models.CharField(max_length=300)
    strategy_version = models.PositiveIntegerField(help_text="The strategy version it was computed against.")
    created_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    applied_version = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        db_table = "tuning_suggestion"
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
