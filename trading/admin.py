import yaml
from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html_join

from . import config
from .control import flatten_all, set_kill_switch
from .models import (
    Account,
    DailyRiskState,
    ExitReason,
    Position,
    RiskAudit,
    RiskConfig,
    StrategyConfig,
    Trade,
    TradingControl,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Money history is never edited by hand: it changes only through the booking functions."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "symbol", "side", "price", "quantity", "fee", "status", "exit_reason"]
    list_filter = ["side", "status", "exit_reason", "regime", "symbol"]
    search_fields = ["symbol", "client_order_id"]


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = ["symbol", "quantity", "avg_price", "regime", "high_water_mark", "opened_at"]
    actions = ["close_at_market"]

    @admin.action(description="Close the selected positions at market (exit reason MANUAL)")
    def close_at_market(self, request, queryset) -> None:
        for line in flatten_all([p.symbol for p in queryset], reason=ExitReason.MANUAL):
            self.message_user(request, line)


@admin.register(TradingControl)
class TradingControlAdmin(admin.ModelAdmin):
    """The kill switch: saving goes through the same function as `manage.py killswitch`."""

    list_display = ["__str__", "reason", "reconcile_mismatch", "changed_by", "changed_at"]
    fields = ["kill_switch", "reason", "reconcile_mismatch"]
    readonly_fields = ["reconcile_mismatch"]  # set by reconciliation; cleared with the action below
    actions = ["resume_after_reconciliation"]

    @admin.action(description="Resume entries after a reconciliation mismatch (I fixed the cause)")
    def resume_after_reconciliation(self, request, queryset) -> None:
        from .reconcile import resume

        resume(user=request.user)
        self.message_user(
            request, "reconciliation hold cleared; the next live cycle checks the balances again"
        )

    def has_add_permission(self, request) -> bool:
        return not TradingControl.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        obj.pk = set_kill_switch(obj.kill_switch, reason=obj.reason, user=request.user).pk


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["name", "balance", "updated_at"]


@admin.register(DailyRiskState)
class DailyRiskStateAdmin(ReadOnlyAdmin):
    list_display = ["date", "total_pnl", "trade_count", "consecutive_losses", "is_trading_halted"]


@admin.register(RiskAudit)
class RiskAuditAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "violation_type", "symbol", "description"]
    list_filter = ["violation_type"]


# --- Versioned configuration: every save is a new version; nothing is edited in place ----------

VERSION_HELP = (
    "Saving stores a NEW version and makes it active; the bot uses it from its next cycle. "
    "The version you started from stays in the history unchanged."
)


def _lines(changes: list[str]):
    return format_html_join("", "<div>{}</div>", ((c,) for c in changes[:12]))


class VersionedAdmin(admin.ModelAdmin):
    readonly_fields = ["version", "is_active", "created_by", "created_at", "changes"]
    list_filter = ["is_active"]
    actions = ["reactivate"]

    def has_delete_permission(self, request, obj=None):
        return False  # the history is the audit trail

    def previous(self, obj):
        return type(obj).objects.filter(version__lt=obj.version).order_by("-version").first()

    @admin.display(description="changes from the previous version")
    def changes(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        return _lines(self.diff(self.previous(obj), obj))

    def save_model(self, request, obj, form, change):
        config.store_new_version(obj, request.user, form.cleaned_data.get("note", ""))

    @admin.action(description="Make the selected version active again (stored as a new version)")
    def reactivate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version.", messages.ERROR)
            return
        row = queryset.get()
        new = config.store_new_version(row, request.user, f"copy of v{row.version}")
        self.message_user(request, f"v{new.version} (a copy of the chosen version) is now active.")


class StrategyConfigForm(forms.ModelForm):
    symbols_text = forms.CharField(
        label="Symbols", help_text="Upbit KRW markets, comma-separated, e.g. KRW-BTC, KRW-ETH"
    )
    params_yaml = forms.CharField(
        label="Parameters per regime (YAML)",
        widget=forms.Textarea(attrs={"rows": 40, "cols": 90, "style": "font-family: monospace"}),
        help_text="One block per regime (BULL, SIDEWAYS, BEAR); see config/strategy_v3.yaml.",
    )

    class Meta:
        model = StrategyConfig
        fields = ["note"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        source = self.instance if self.instance.pk else None
        data = config.load_defaults()
        symbols = source.symbols if source else data["symbols"]
        params = source.params if source else data["regimes"]
        self.fields["symbols_text"].initial = ", ".join(symbols)
        self.fields["params_yaml"].initial = yaml.safe_dump(params, sort_keys=False)

    def clean(self):
        cleaned = super().clean()
        symbols = [s.strip() for s in cleaned.get("symbols_text", "").split(",") if s.strip()]
        try:
            params = yaml.safe_load(cleaned.get("params_yaml", ""))
        except yaml.YAMLError as exc:
            raise forms.ValidationError(f"The parameters are not valid YAML: {exc}") from exc
        try:
            config.parse_strategy(symbols, params)
        except config.ConfigError as exc:
            raise forms.ValidationError(exc.messages) from exc
        self.instance.symbols, self.instance.params = symbols, params
        return cleaned


@admin.register(StrategyConfig)
class StrategyConfigAdmin(VersionedAdmin):
    form = StrategyConfigForm
    list_display = ["version", "is_active", "note", "created_by", "created_at", "changes"]
    fieldsets = [
        (None, {"fields": ["symbols_text", "params_yaml", "note"], "description": VERSION_HELP}),
        ("Version", {"fields": ["version", "is_active", "created_by", "created_at", "changes"]}),
    ]

    def diff(self, old, new):
        return config.diff_strategy(old, new)


class RiskConfigForm(forms.ModelForm):
    class Meta:
        model = RiskConfig
        fields = [*config.RISK_FIELDS, "note"]

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            try:
                config.parse_risk(cleaned)
            except config.ConfigError as exc:
                raise forms.ValidationError(exc.messages) from exc
        return cleaned


@admin.register(RiskConfig)
class RiskConfigAdmin(VersionedAdmin):
    form = RiskConfigForm
    list_display = [
        "version", "is_active", "max_position_size_pct", "max_daily_loss_pct", "max_concurrent_positions",
        "note", "created_by", "created_at", "changes",
    ]  # fmt: skip
    fieldsets = [
        (None, {"fields": [*config.RISK_FIELDS, "note"], "description": VERSION_HELP}),
        ("Version", {"fields": ["version", "is_active", "created_by", "created_at", "changes"]}),
    ]

    def diff(self, old, new):
        return config.diff_risk(old, new)
