import yaml
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.admin_filters import IndexedValuesFilter
from market.candles import latest_closes

from . import config
from .admin_forms import REGIME_HELP, RiskConfigForm, StrategyConfigForm, regime_rows, risk_groups
from .control import flatten_all, set_kill_switch
from .dashboard import positions_marked
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

    @admin.action(description=gettext_lazy("Close the selected positions at market (exit reason MANUAL)"))
    def close_at_market(self, request, queryset):
        symbols = [p.symbol for p in queryset]
        if request.POST.get("confirm") != "yes":
            return confirm_close(
                request,
                action="close_at_market",
                selected=queryset,
                symbols=symbols,
                title=_("Sell these positions at market?"),
                explanation=_(
                    "Each is sold now at market (paper or live, as the bot trades), exit reason MANUAL."
                ),
                button=_("Yes, sell them at market"),
                cancel_url=reverse("admin:trading_position_changelist"),
            )
        for line in flatten_all(symbols, reason=ExitReason.MANUAL):
            self.message_user(request, line)
        return None


def confirm_close(request, *, action: str, selected, symbols: list[str] | None, **texts) -> TemplateResponse:
    """The second step of an admin action that sells at market: what would be sold, at what value."""
    held = symbols if symbols is not None else list(Position.objects.values_list("symbol", flat=True))
    context = {
        **admin.site.each_context(request),
        **texts,
        "action": action,
        "selected": [obj.pk for obj in selected],
        "positions": positions_marked(latest_closes(held), held),
    }
    return TemplateResponse(request, "admin/trading/confirm_close.html", context)


@admin.register(TradingControl)
class TradingControlAdmin(admin.ModelAdmin):
    """The kill switch: saving goes through the same function as `manage.py killswitch`."""

    list_display = ["__str__", "reason", "reconcile_mismatch", "changed_by", "changed_at"]
    fields = ["kill_switch", "reason", "reconcile_mismatch"]
    readonly_fields = ["reconcile_mismatch"]  # set by reconciliation; cleared with the action below
    actions = ["kill_and_flatten", "resume_after_reconciliation"]

    @admin.action(description=gettext_lazy("Kill switch ON and close every position at market"))
    def kill_and_flatten(self, request, queryset):
        if request.POST.get("confirm") != "yes":
            return confirm_close(
                request,
                action="kill_and_flatten",
                selected=queryset,
                symbols=None,
                title=_("Turn the kill switch on and sell every position at market?"),
                explanation=_(
                    "No new entry is made until the kill switch is turned off, and every open "
                    "position below is sold now at market (exit reason KILL_SWITCH)."
                ),
                button=_("Yes, stop and sell everything"),
                cancel_url=reverse("admin:trading_tradingcontrol_changelist"),
            )
        set_kill_switch(True, reason="kill switch and flatten all (admin)", user=request.user)
        self.message_user(request, _("kill switch ON: no new entries"))
        for line in flatten_all(reason=ExitReason.KILL_SWITCH):
            self.message_user(request, line)
        return None

    @admin.action(
        description=gettext_lazy("Resume entries after a reconciliation mismatch (I fixed the cause)")
    )
    def resume_after_reconciliation(self, request, queryset) -> None:
        from .reconcile import resume

        resume(user=request.user)
        self.message_user(
            request, _("reconciliation hold cleared; the next live cycle checks the balances again")
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


class EventTypeFilter(IndexedValuesFilter):
    title = gettext_lazy("event type")
    parameter_name = "violation_type"


@admin.register(RiskAudit)
class RiskAuditAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "violation_type", "symbol", "description"]
    list_filter = [EventTypeFilter]  # Django's own listed the types with a DISTINCT over every event
    show_full_result_count = False  # a filtered list counts its own rows only, not every event too


# --- Versioned configuration: every save is a new version; nothing is edited in place ----------

VERSION_HELP = gettext_lazy(
    "Saving stores a NEW version and makes it active; the bot uses it from its next cycle. "
    "The version you started from stays in the history unchanged."
)
RAW_TITLE = gettext_lazy("Advanced: the stored parameters as YAML (read-only)")
# One title per regime (not "%(regime)s regime"): Korean names the regime in one word.
REGIME_TITLES = {
    "BULL": gettext_lazy("BULL regime"),
    "SIDEWAYS": gettext_lazy("SIDEWAYS regime"),
    "BEAR": gettext_lazy("BEAR regime"),
}
VERSION_FIELDS = [
    "version",
    "is_active",
    "created_by",
    "created_at",
    "changes",
    "changes_from_active",
]


def _lines(changes: list[str]):
    return format_html_join("", "<div>{}</div>", ((c,) for c in changes[:12]))


class VersionedAdmin(admin.ModelAdmin):
    readonly_fields = VERSION_FIELDS
    list_filter = ["is_active"]
    actions = ["reactivate"]
    change_form_template = "admin/trading/versioned_change_form.html"

    def has_delete_permission(self, request, obj=None):
        return False  # the history is the audit trail

    def previous(self, obj):
        return type(obj).objects.filter(version__lt=obj.version).order_by("-version").first()

    @admin.display(description=gettext_lazy("changes from the previous version"))
    def changes(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        return _lines(self.diff(self.previous(obj), obj))

    @admin.display(description=gettext_lazy("differences from the active version"))
    def changes_from_active(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        if obj.is_active:
            return _("this is the active version")
        active = config.active_row(type(obj))
        if active is None:
            return _("no version is active")
        # Translators: one changed setting, then which version it is compared with ("-> this": this version).
        compared = _("%(change)s (v%(version)s -> this)")
        lines = [compared % {"change": line, "version": active.version} for line in self.diff(active, obj)]
        if lines:
            return _lines(lines)
        return _("same settings as the active v%(version)s") % {"version": active.version}

    def save_model(self, request, obj, form, change):
        config.store_new_version(obj, request.user, form.cleaned_data.get("note", ""))

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_restore"
        view = self.admin_site.admin_view(self.restore_view)
        return [path("<path:object_id>/restore/", view, name=name), *super().get_urls()]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk and not obj.is_active and self.has_change_permission(request, obj):
            context["restore_url"] = reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_restore", args=[obj.pk]
            )
            context["restore_version"] = obj.version
        return super().render_change_form(request, context, add, change, form_url, obj)

    def restore(self, request, row) -> None:
        """Copy `row` as the new active version (the button and the action), or say why not."""
        try:
            new = config.restore_version(row, request.user)
        except config.ConfigError as exc:
            text = _("Could not restore v%(version)s: %(reasons)s")
            self.message_user(
                request, text % {"version": row.version, "reasons": "; ".join(exc.messages)}, messages.ERROR
            )
            return
        self.log_addition(request, new, f"Restored from v{row.version}.")
        self.message_user(
            request,
            _("Restored v%(old)s as v%(new)s, now active; the bot uses it from its next cycle.")
            % {"old": row.version, "new": new.version},
            messages.SUCCESS,
        )

    def restore_view(self, request, object_id):
        """The 'Restore this version' button: POST only, staff with change permission."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        row = self.get_object(request, unquote(object_id))
        if row is None:
            raise Http404(f"{self.opts.verbose_name} {object_id} does not exist")
        if not self.has_change_permission(request, row):
            raise PermissionDenied
        self.restore(request, row)
        return redirect(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")

    @admin.action(
        description=gettext_lazy("Make the selected version active again (stored as a new version)")
    )
    def reactivate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one version."), messages.ERROR)
            return
        self.restore(request, queryset.get())


@admin.register(StrategyConfig)
class StrategyConfigAdmin(VersionedAdmin):
    form = StrategyConfigForm
    list_display = ["version", "is_active", "note", "created_by", "created_at", "changes"]
    readonly_fields = [*VersionedAdmin.readonly_fields, "raw_params"]

    def get_fieldsets(self, request, obj=None):
        regimes = [
            (REGIME_TITLES[regime], {"fields": regime_rows(regime), "description": REGIME_HELP[regime]})
            for regime in config.TRADING_REGIMES
        ]
        return [
            (None, {"fields": ["symbols", "note"], "description": VERSION_HELP}),
            *regimes,
            (_("Version"), {"fields": VERSION_FIELDS}),
            (RAW_TITLE, {"fields": ["raw_params"], "classes": ["collapse"]}),
        ]

    @admin.display(description=gettext_lazy("parameters (YAML)"))
    def raw_params(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        text = yaml.safe_dump({"symbols": obj.symbols, "regimes": obj.params}, sort_keys=False)
        return format_html("<pre>{}</pre>", text)

    def diff(self, old, new):
        return config.diff_strategy(old, new)


@admin.register(RiskConfig)
class RiskConfigAdmin(VersionedAdmin):
    form = RiskConfigForm
    list_display = [
        "version", "is_active", "max_position_size_pct", "max_daily_loss_pct", "max_concurrent_positions",
        "note", "created_by", "created_at", "changes",
    ]  # fmt: skip

    def get_fieldsets(self, request, obj=None):
        groups = [(title, {"fields": names}) for title, names in risk_groups().items()]
        return [
            (None, {"fields": ["note"], "description": VERSION_HELP}),
            *groups,
            (_("Version"), {"fields": VERSION_FIELDS}),
        ]

    def diff(self, old, new):
        return config.diff_risk(old, new)
