from django.contrib import admin

from .models import JobRun


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = ["job", "slot", "status", "duration_ms", "worker", "started_at"]
    list_filter = ["status", "job"]
