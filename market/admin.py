from django.contrib import admin

from .models import RegimeHistory

# Candle has a composite primary key, which Django's admin cannot show; the Market page does.


@admin.register(RegimeHistory)
class RegimeHistoryAdmin(admin.ModelAdmin):
    """A record of what happened: viewable, never edited."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    list_display = ["coin_symbol", "regime", "ma50", "ma200", "diff_pct", "created_at"]
    list_filter = ["regime", "coin_symbol"]
