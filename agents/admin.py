from django.contrib import admin

from .models import AgentDecision, ChatMessage


@admin.register(AgentDecision)
class AgentDecisionAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "symbol",
        "decision",
        "analyst_decision",
        "guardian_decision",
        "regime",
        "confidence",
        "skip_reason",
        "latency_ms",
        "model_used",
    ]
    list_filter = ["decision", "regime", "skip_reason", "model_used"]
    search_fields = ["symbol", "reasoning", "error"]
    date_hierarchy = "created_at"

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # the decision log is evidence: read-only

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    """Ask CoinPilot's log: every question and answer with its tool calls (and their results)."""

    list_display = [
        "created_at",
        "conversation",
        "role",
        "status",
        "input_tokens",
        "output_tokens",
        "latency_ms",
    ]
    list_filter = ["role", "status"]
    search_fields = ["text"]
    date_hierarchy = "created_at"

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a log: read-only

    def has_add_permission(self, request) -> bool:
        return False
