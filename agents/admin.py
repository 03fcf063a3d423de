from django.contrib import admin

from .models import AgentDecision


@admin.register(AgentDecision)
class AgentDecisionAdmin(admin.ModelAdmin):
    list_display = ["created_at", "symbol", "decision", "regime", "confidence", "model_used"]
    list_filter = ["decision", "regime"]
