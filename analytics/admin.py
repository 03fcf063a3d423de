"""Tuning suggestions from the weekly exit reports; an operator applies one, never the bot."""

from django.contrib import admin, messages
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import TuningSuggestion
from .suggestions import SuggestionError, apply_suggestion


@admin.register(TuningSuggestion)
class TuningSuggestionAdmin(admin.ModelAdmin):
    list_display = ["report_date", "regime", "parameter", "current_value", "proposed_value", "reason"]
    list_display += ["strategy_version", "applied_version", "applied_by", "applied_at"]
    list_filter = ["report_date", "regime", "parameter"]
    actions = ["apply"]

    def has_add_permission(self, request) -> bool:
        return False  # made by the weekly report only

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a suggestion is evidence: read-only; applying is the action below

    @admin.action(description=_("Apply this suggestion as a new strategy version"), permissions=["view"])
    def apply(self, request, queryset) -> None:
        if queryset.count() != 1:
            self.message_user(request, gettext("Select exactly one suggestion to apply."), messages.ERROR)
            return
        suggestion = queryset.get()
        if not request.user.has_perm("trading.add_strategyconfig"):
            self.message_user(request, gettext("You may not create strategy versions."), messages.ERROR)
            return
        try:
            version = apply_suggestion(suggestion, request.user)
        except SuggestionError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(
            request,
            gettext("Strategy v%(version)s is now active: %(suggestion)s.")
            % {"version": version.version, "suggestion": suggestion},
        )
