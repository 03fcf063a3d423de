"""The AI second opinion's log: one row per verdict, skip or failure."""

from django.db import models

from market.models import Regime


class AgentDecision(models.Model):
    class Decision(models.TextChoices):
        APPROVED = "APPROVED"
        REJECTED = "REJECTED"
        SKIPPED = "SKIPPED", "skipped (pre-filter or guardrail)"

    symbol = models.CharField(max_length=20)
    decision = models.CharField(max_length=10, choices=Decision.choices)
    analyst_decision = models.CharField(max_length=10, blank=True)
    guardian_decision = models.CharField(max_length=10, blank=True)
    reasoning = models.TextField(blank=True)
    confidence = models.PositiveSmallIntegerField(null=True, blank=True)
    model_used = models.CharField(max_length=100, blank=True)
    price_at_decision = models.DecimalField(max_digits=28, decimal_places=8, null=True, blank=True)
    regime = models.CharField(max_length=10, choices=Regime.choices, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    skip_reason = models.CharField(max_length=40, blank=True)  # pre-filter or guardrail that skipped it
    # Veto scorecard: the 1m close nearest 1h/4h/24h after the decision (SPEC 9.1 rule, +-5 min)
    price_1h = models.DecimalField(max_digits=28, decimal_places=8, null=True, blank=True)
    price_4h = models.DecimalField(max_digits=28, decimal_places=8, null=True, blank=True)
    price_24h = models.DecimalField(max_digits=28, decimal_places=8, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "agent_decisions"
        indexes = [
            models.Index(fields=["-created_at"], name="decision_created"),
            models.Index(fields=["symbol", "-created_at"], name="decision_symbol_created"),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.symbol} {self.decision} @ {self.created_at:%Y-%m-%d %H:%M}"
