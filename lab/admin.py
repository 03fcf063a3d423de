from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .models import LookaheadCheck, Study


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    """Studies are started from the Lab page or `manage.py optimize`; here they are read and cancelled."""

    list_display = (
        "id",
        "status",
        "symbols",
        "objectives",
        "n_trials",
        "created_by",
        "created_at",
        "promoted_config",
    )
    list_filter = ("status",)
    actions = ["cancel"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_cancel_permission(self, request) -> bool:
        return request.user.has_perm("trading.change_strategyconfig")  # as starting one

    @admin.action(
        description=_("Cancel the selected studies (a running trial finishes)"), permissions=["cancel"]
    )
    def cancel(self, request, queryset) -> None:
        from .study import cancel_study  # Optuna's storage takes a second to import: not at start-up

        stopped = sum(cancel_study(study) for study in queryset)
        self.message_user(
            request, ngettext("%(n)s study cancelled", "%(n)s studies cancelled", stopped) % {"n": stopped}
        )


@admin.register(LookaheadCheck)
class LookaheadCheckAdmin(admin.ModelAdmin):
    """Checks are asked from the Lab page; here they are read."""

    list_display = ("id", "status", "passed", "config_version", "symbols", "start", "end", "created_by")
    list_filter = ("status", "passed")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
