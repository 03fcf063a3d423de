from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import RegimeHistory, UpbitMarket

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


@admin.register(UpbitMarket)
class UpbitMarketAdmin(admin.ModelAdmin):
    """Upbit's market list as last refreshed (a daily job): read-only."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    list_display = ["market", "korean_name", "english_name", "listed", "warning", "cautions", "last_seen"]
    list_filter = ["listed", "warning"]
    search_fields = ["market", "korean_name", "english_name"]

    @admin.display(description=_("caution flags on"))
    def cautions(self, obj: UpbitMarket) -> str:
        flags = obj.caution if isinstance(obj.caution, dict) else {}
        return ", ".join(name for name, on in flags.items() if on is True) or "-"
