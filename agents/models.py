"""The AI second opinion's log: one row per verdict, skip or failure."""

from django.conf import settings
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
    # Veto scorecard: the 1m close nearest 1h/4h/24h after the decision (post-exit tracker's
    # rule, +-5 min)
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


class Conversation(models.Model):
    """One operator's "Ask CoinPilot" conversation."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "ask_conversations"

    def __str__(self) -> str:
        return f"conversation of {self.user} @ {self.created_at:%Y-%m-%d %H:%M}"


class ChatMessage(models.Model):
    """A question or an answer; an answer keeps its sources, unchecked numbers and tool-call log."""

    class Role(models.TextChoices):
        USER = "user"
        ASSISTANT = "assistant"

    class Status(models.TextChoices):
        OK = "ok"
        CALL_LIMIT = "call_limit", "stopped at the tool-call limit"
        TIME_LIMIT = "time_limit", "stopped at the time limit"
        TOKEN_LIMIT = "token_limit", "stopped at the answer length limit"
        PAUSED = "paused", "AI paused (global block or budget)"
        OFF = "off", "AI off (no key)"
        ERROR = "error"
        INTERRUPTED = "interrupted", "the page was closed before the end"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=10, choices=Role.choices)
    text = models.TextField(blank=True)
    sources = models.JSONField(default=list, blank=True)  # [{"label", "url", "admin"}]
    unverified = models.JSONField(default=list, blank=True)  # [{"text", "start", "end"}]
    tool_calls = models.JSONField(default=list, blank=True)  # [{"name", "args", "rows", "error", "ms"}]
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    model_used = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OK)
    error = models.TextField(blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "ask_messages"
        indexes = [models.Index(fields=["conversation", "created_at"], name="ask_message_conv_created")]
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.role}: {self.text[:40]}"


class ChatUsage(models.Model):
    """Tokens of one answered question; kept when the conversation is cleared (the daily budget)."""

    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "ask_usage"
        indexes = [models.Index(fields=["-created_at"], name="ask_usage_created")]

    def __str__(self) -> str:
        return f"{self.input_tokens}+{self.output_tokens} tokens @ {self.created_at:%Y-%m-%d %H:%M}"
