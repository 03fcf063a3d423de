"""The AI second opinion's log: one row per verdict, skip or failure."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from market.models import Regime


class AgentDecision(models.Model):
    class Decision(models.TextChoices):
        APPROVED = "APPROVED", _("Approved")
        REJECTED = "REJECTED", _("Rejected")
        SKIPPED = "SKIPPED", _("skipped (pre-filter or guardrail)")

    symbol = models.CharField(_("symbol"), max_length=20)
    decision = models.CharField(_("decision"), max_length=10, choices=Decision.choices)
    analyst_decision = models.CharField(_("analyst's decision"), max_length=10, blank=True)
    guardian_decision = models.CharField(_("guardian's decision"), max_length=10, blank=True)
    reasoning = models.TextField(_("reasoning"), blank=True)
    confidence = models.PositiveSmallIntegerField(_("confidence"), null=True, blank=True)
    model_used = models.CharField(_("model used"), max_length=100, blank=True)
    price_at_decision = models.DecimalField(
        _("price at decision"), max_digits=28, decimal_places=8, null=True, blank=True
    )
    regime = models.CharField(_("regime"), max_length=10, choices=Regime.choices, blank=True)
    latency_ms = models.PositiveIntegerField(_("latency (ms)"), null=True, blank=True)
    input_tokens = models.PositiveIntegerField(_("input tokens"), default=0)
    output_tokens = models.PositiveIntegerField(_("output tokens"), default=0)
    error = models.TextField(_("error"), blank=True)
    # pre-filter or guardrail that skipped it
    skip_reason = models.CharField(_("skip reason"), max_length=40, blank=True)
    # Veto scorecard: the 1m close nearest 1h/4h/24h after the decision (post-exit tracker's
    # rule, +-5 min)
    price_1h = models.DecimalField(
        _("price 1h later"), max_digits=28, decimal_places=8, null=True, blank=True
    )
    price_4h = models.DecimalField(
        _("price 4h later"), max_digits=28, decimal_places=8, null=True, blank=True
    )
    price_24h = models.DecimalField(
        _("price 24h later"), max_digits=28, decimal_places=8, null=True, blank=True
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("AI decision")
        verbose_name_plural = _("AI decisions")
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

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        db_table = "ask_conversations"
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")

    def __str__(self) -> str:
        return f"conversation of {self.user} @ {self.created_at:%Y-%m-%d %H:%M}"


class ChatMessage(models.Model):
    """A question or an answer; an answer keeps its sources, unchecked numbers and tool-call log."""

    class Role(models.TextChoices):
        # Translators: who wrote a chat message: the operator...
        USER = "user", _("User")
        # Translators: ...or CoinPilot's answer.
        ASSISTANT = "assistant", _("Assistant")

    class Status(models.TextChoices):
        OK = "ok", _("OK")
        CALL_LIMIT = "call_limit", _("stopped at the tool-call limit")
        TIME_LIMIT = "time_limit", _("stopped at the time limit")
        TOKEN_LIMIT = "token_limit", _("stopped at the answer length limit")
        PAUSED = "paused", _("AI paused (global block or budget)")
        OFF = "off", _("AI off (no key)")
        ERROR = "error", _("Error")
        INTERRUPTED = "interrupted", _("the page was closed before the end")

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages", verbose_name=_("conversation")
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices)
    text = models.TextField(_("text"), blank=True)
    sources = models.JSONField(_("sources"), default=list, blank=True)  # [{"label", "url", "admin"}]
    unverified = models.JSONField(
        _("unverified numbers"), default=list, blank=True
    )  # [{"text", "start", "end"}]
    # [{"name", "args", "rows", "error", "ms"}]
    tool_calls = models.JSONField(_("tool calls"), default=list, blank=True)
    input_tokens = models.PositiveIntegerField(_("input tokens"), default=0)
    output_tokens = models.PositiveIntegerField(_("output tokens"), default=0)
    model_used = models.CharField(_("model used"), max_length=100, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.OK)
    error = models.TextField(_("error"), blank=True)
    latency_ms = models.PositiveIntegerField(_("latency (ms)"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "ask_messages"
        verbose_name = _("chat message")
        verbose_name_plural = _("chat messages")
        indexes = [models.Index(fields=["conversation", "created_at"], name="ask_message_conv_created")]
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.role}: {self.text[:40]}"


class ChatUsage(models.Model):
    """Tokens of one answered question; kept when the conversation is cleared (the daily budget)."""

    input_tokens = models.PositiveIntegerField(_("input tokens"), default=0)
    output_tokens = models.PositiveIntegerField(_("output tokens"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "ask_usage"
        verbose_name = _("chat usage")
        verbose_name_plural = _("chat usage")
        indexes = [models.Index(fields=["-created_at"], name="ask_usage_created")]

    def __str__(self) -> str:
        return f"{self.input_tokens}+{self.output_tokens} tokens @ {self.created_at:%Y-%m-%d %H:%M}"
