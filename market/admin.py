from django.contrib import admin

from .models import RegimeHistory

# Candle has a composite primary key, which Django's admin cannot show; the Market page does.


@admin.register(RegimeHistory)
class RegimeHistoryAdmin(admin.ModelAdmin):
    list_display = ["coin_symbol", "regime", "ma50", "ma200", "diff_pct", "created_at"]
    list_filter = ["regime", "coin_symbol"]
