from django.contrib import admin

from .models import Account, DailyRiskState, Position, RiskAudit, RiskConfig, StrategyConfig, Trade


@admin.register(Trade)
class TradeAdmin(admin.ModelAdmin):
    list_display = ["created_at", "symbol", "side", "price", "quantity", "fee", "status", "exit_reason"]
    list_filter = ["side", "status", "exit_reason", "regime", "symbol"]
    search_fields = ["symbol", "client_order_id"]


@admin.register(Position)
class PositionAdmin(admin.ModelAdmin):
    list_display = ["symbol", "quantity", "avg_price", "regime", "high_water_mark", "opened_at"]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["name", "balance", "updated_at"]


@admin.register(DailyRiskState)
class DailyRiskStateAdmin(admin.ModelAdmin):
    list_display = ["date", "total_pnl", "trade_count", "consecutive_losses", "is_trading_halted"]


@admin.register(RiskAudit)
class RiskAuditAdmin(admin.ModelAdmin):
    list_display = ["created_at", "violation_type", "symbol", "description"]
    list_filter = ["violation_type"]


@admin.register(StrategyConfig)
class StrategyConfigAdmin(admin.ModelAdmin):
    list_display = ["version", "is_active", "note", "created_by", "created_at"]


@admin.register(RiskConfig)
class RiskConfigAdmin(admin.ModelAdmin):
    list_display = ["version", "is_active", "max_position_size_pct", "max_daily_loss_pct", "created_at"]
