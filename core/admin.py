from django.contrib import admin
from django.utils.timezone import localtime
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from .admin_filters import ValueFilter
from .models import JobRun, NotificationLog, NotificationSetting
from .scheduling import get_schedules


class ScheduledJobFilter(ValueFilter):
    """The jobs of the schedule table: Django's own filter listed them with a DISTINCT over every
    run (90 ms with a year of runs)."""

    title = _("job")
    parameter_name = "job"

    def lookups(self, request, model_admin):
        return [(schedule.name, schedule.name) for schedule in get_schedules()]


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    """A record of what happened: viewable, never edited."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    list_display = ["job", "slot", "status", "duration_ms", "worker", "started_at"]
    list_filter = ["status", ScheduledJobFilter]
    show_full_result_count = False  # a filtered list counts its own rows only, not every run too


@admin.register(NotificationSetting)
class NotificationSettingAdmin(admin.ModelAdmin):
    """Per event: switch alerts on/off; see where they go (masked) and whether that webhook is gone."""

    list_display = ["event", "enabled", "webhook", "webhook_state"]
    list_editable = ["enabled"]
    fields = ["event", "enabled", "webhook_gone_at"]
    readonly_fields = ["event", "webhook_gone_at"]
    actions = ["clear_webhook_gone"]

    def has_add_permission(self, request) -> bool:
        return False  # one row per event type, created by the migration

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("Webhook (masked)"))
    def webhook(self, obj: NotificationSetting) -> str:
        from .notifications.config import webhook_url
        from .notifications.discord import mask

        return mask(webhook_url(obj.event)) or gettext("not set: alerts off")

    @admin.display(description=_("Webhook state"))
    def webhook_state(self, obj: NotificationSetting) -> str:
        from .notifications.config import webhook_url
        from .notifications.discord import fingerprint

        url = webhook_url(obj.event)
        if url and obj.webhook_gone == fingerprint(url):
            since = localtime(obj.webhook_gone_at)
            return gettext("answered 404 at %(time)s KST: off until the URL changes") % {
                "time": f"{since:%Y-%m-%d %H:%M}"
            }
        return pgettext("webhook state", "ok") if url else "-"

    @admin.action(description=_("Send again to the current webhook URL (clear a 404)"))
    def clear_webhook_gone(self, request, queryset) -> None:
        queryset.update(webhook_gone="", webhook_gone_at=None)


@admin.register(NotificationLog)
class NotificationLogAdmin(admin.ModelAdmin):
    """What was sent to Discord or failed: read-only history."""

    list_display = ["created_at", "event", "status", "title", "attempts", "last_error", "webhook"]
    list_filter = ["status", "event"]
    search_fields = ["title", "last_error"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
