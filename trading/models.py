"""Trading state: account, positions, trades, risk state and audit, and the live configuration.

Money and prices are Decimal; every datetime is stored in UTC.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.fixed_reads import first_row
from core.formatting import krw
from market.models import Regime

MONEY = {"max_digits": 28, "decimal_places": 8}
ZERO = Decimal("0")


class Side(models.TextChoices):
    BUY = "BUY", _("Buy")
    SELL = "SELL", _("Sell")


class TradeStatus(models.TextChoices):
    PENDING = "PENDING", _("pending (sent, not booked)")
    FILLED = "FILLED", _("Filled")
    FAILED = "FAILED", _("Failed")
    CANCELLED = "CANCELLED", _("Cancelled")


class TradeMode(models.TextChoices):
    PAPER = "paper", _("Paper trading")
    LIVE = "live", _("Live trading")
    REPLAY = "replay", _("replay (simulated history)")


class ExitReason(models.TextChoices):
    STOP_LOSS = "STOP_LOSS", _("Stop loss")
    TRAILING_STOP = "TRAILING_STOP", _("Trailing stop")
    TAKE_PROFIT = "TAKE_PROFIT", _("Take profit")
    RSI_OVERBOUGHT = "RSI_OVERBOUGHT", _("RSI overbought")
    TIME_LIMIT = "TIME_LIMIT", _("Time limit")
    PARTIAL_TAKE_PROFIT = "PARTIAL_TAKE_PROFIT", _("Partial take profit")
    MANUAL = "MANUAL", _("Manual")
    KILL_SWITCH = "KILL_SWITCH", _("Kill switch")


class Account(models.Model):
    """The paper account's KRW cash balance."""

    name = models.CharField(verbose_name=_("name"), max_length=32, unique=True, default="paper")
    balance = models.DecimalField(verbose_name=_("balance (KRW)"), **MONEY)
    updated_at = models.DateTimeField(verbose_name=_("updated"), auto_now=True)

    class Meta:
        db_table = "account_state"
        verbose_name = _("account")
        verbose_name_plural = _("accounts")

    def __str__(self) -> str:
        return f"{self.name}: {krw(self.balance)}"


class Position(models.Model):
    """An open holding; at most one per symbol."""

    symbol = models.CharField(verbose_name=_("symbol"), max_length=20, unique=True)
    quantity = models.DecimalField(verbose_name=_("quantity"), **MONEY)
    avg_price = models.DecimalField(verbose_name=_("average entry price"), **MONEY)
    regime = models.CharField(
        verbose_name=_("regime"), max_length=10, choices=Regime.choices, help_text=_("Regime at entry.")
    )
    high_water_mark = models.DecimalField(verbose_name=_("highest price since entry"), **MONEY)
    opened_at = models.DateTimeField(
        verbose_name=_("opened"),
    )
    entry_signal = models.JSONField(verbose_name=_("entry signal"), default=dict, blank=True)
    entry_fee = models.DecimalField(
        verbose_name=_("entry fee"), default=ZERO, help_text=_("KRW fee paid on entry."), **MONEY
    )
    initial_quantity = models.DecimalField(
        verbose_name=_("quantity at entry"),
        null=True,
        blank=True,
        help_text=_(
            "Quantity bought at entry; partial take-profit levels sell shares of it. "
            "Empty on positions opened before scale-out existed (the current quantity is used)."
        ),
        **MONEY,
    )
    partials_taken = models.PositiveSmallIntegerField(
        verbose_name=_("scale-out levels sold"),
        default=0,
        help_text=_("Partial take-profit levels already sold (0-3)."),
    )
    updated_at = models.DateTimeField(verbose_name=_("updated"), auto_now=True)

    class Meta:
        db_table = "positions"
        verbose_name = _("position")
        verbose_name_plural = _("positions")
        ordering = ["symbol"]

    def __str__(self) -> str:
        return f"{self.symbol} {self.quantity} @ {self.avg_price}"

    @property
    def cost(self) -> Decimal:
        return self.quantity * self.avg_price

    def unrealized_pnl(self, price: Decimal) -> Decimal:
        return (price - self.avg_price) * self.quantity


class Trade(models.Model):
    """Every order CoinPilot placed, filled or not."""

    symbol = models.CharField(verbose_name=_("symbol"), max_length=20)
    side = models.CharField(verbose_name=_("side"), max_length=4, choices=Side.choices)
    price = models.DecimalField(verbose_name=_("price"), **MONEY)
    quantity = models.DecimalField(verbose_name=_("quantity"), **MONEY)
    fee = models.DecimalField(verbose_name=_("fee"), default=ZERO, **MONEY)
    status = models.CharField(verbose_name=_("status"), max_length=10, choices=TradeStatus.choices)
    strategy_name = models.CharField(verbose_name=_("strategy"), max_length=64, blank=True)
    signal_info = models.JSONField(
        verbose_name=_("signal details"),
        default=dict,
        blank=True,
        help_text=_("Indicators at decision time; on SELL also entry_avg_price."),
    )
    regime = models.CharField(verbose_name=_("regime"), max_length=10, choices=Regime.choices, blank=True)
    exit_reason = models.CharField(
        verbose_name=_("exit reason"), max_length=24, choices=ExitReason.choices, blank=True
    )
    post_exit_prices = models.JSONField(verbose_name=_("prices after the exit"), default=dict, blank=True)
    client_order_id = models.CharField(verbose_name=_("client order ID"), max_length=64, unique=True)
    exchange_order_id = models.CharField(
        verbose_name=_("exchange order ID"), max_length=64, blank=True, help_text=_("Upbit uuid (live).")
    )
    mode = models.CharField(
        verbose_name=_("mode"), max_length=8, choices=TradeMode.choices, default=TradeMode.PAPER
    )
    executed_at = models.DateTimeField(verbose_name=_("executed"), null=True, blank=True)
    expected_slippage_bps = models.DecimalField(
        verbose_name=_("expected slippage (bps)"),
        max_digits=12,
        decimal_places=4,
        null=True,
        blank=True,
        help_text=_(
            "Slippage expected before the order: the order book's walk vs its best price, or "
            "the paper model's fixed bps. Empty when not known (live sells read no book)."
        ),
    )
    realised_slippage_bps = models.DecimalField(
        verbose_name=_("realized slippage (bps)"),
        max_digits=12,
        decimal_places=4,
        null=True,
        blank=True,
        help_text=_(
            "The fill's average price vs the best ask/bid at decision (the decision price when no "
            "book was read), in bps; positive = against us."
        ),
    )
    created_at = models.DateTimeField(verbose_name=_("created"), auto_now_add=True)

    class Meta:
        db_table = "trading_history"
        verbose_name = _("trade")
        verbose_name_plural = _("trades")
        indexes = [
            models.Index(fields=["symbol", "-created_at"], name="trade_symbol_created"),
            models.Index(fields=["side", "status", "-executed_at"], name="trade_side_status_exec"),
            # History lists the newest trades first: a page of 50 without sorting the whole table.
            models.Index(fields=["-created_at"], name="trade_created"),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.side} {self.symbol} {self.quantity} @ {self.price} ({self.status})"

    @property
    def amount(self) -> Decimal:
        return self.price * self.quantity


class DailyRiskState(models.Model):
    """Risk counters of one trading day; the day runs midnight to midnight KST.

    A new day's row continues the previous row's loss streak and cooldown, and within the same
    KST week (from Monday 00:00 KST) its week fields; the daily counters start at zero.
    """

    date = models.DateField(verbose_name=_("date"), unique=True, help_text=_("The KST trading day."))
    starting_equity = models.DecimalField(
        verbose_name=_("starting equity"),
        default=ZERO,
        help_text=_("Cash + positions at cost when the day began."),
        **MONEY,
    )
    total_pnl = models.DecimalField(verbose_name=_("realized PnL"), default=ZERO, **MONEY)
    trade_count = models.PositiveIntegerField(verbose_name=_("trades"), default=0)
    consecutive_losses = models.PositiveIntegerField(verbose_name=_("losses in a row"), default=0)
    cooldown_until = models.DateTimeField(verbose_name=_("cooldown until"), null=True, blank=True)
    is_trading_halted = models.BooleanField(verbose_name=_("trading halted"), default=False)
    halt_reason = models.CharField(verbose_name=_("halt reason"), max_length=200, blank=True)
    week_starting_equity = models.DecimalField(
        verbose_name=_("week's starting equity"),
        default=ZERO,
        help_text=_("Cash + positions at cost when the KST week's first trading day began."),
        **MONEY,
    )
    week_pnl = models.DecimalField(
        verbose_name=_("week's PnL"),
        default=ZERO,
        help_text=_("Realised PnL of the KST week so far."),
        **MONEY,
    )
    is_week_halted = models.BooleanField(
        verbose_name=_("halted for the week"),
        default=False,
        help_text=_("The weekly loss limit was reached: no entries until Monday 00:00 KST."),
    )
    updated_at = models.DateTimeField(verbose_name=_("updated"), auto_now=True)

    class Meta:
        db_table = "daily_risk_state"
        verbose_name = _("daily risk state")
        verbose_name_plural = _("daily risk states")
        ordering = ["-date"]

    def __str__(self) -> str:
        return f"{self.date}: pnl {self.total_pnl}, {self.trade_count} trades"


class RiskAudit(models.Model):
    """A refused order or a limit event."""

    violation_type = models.CharField(verbose_name=_("event type"), max_length=40)
    description = models.TextField(
        verbose_name=_("description"),
    )
    symbol = models.CharField(verbose_name=_("symbol"), max_length=20, blank=True)
    related_order_id = models.CharField(verbose_name=_("related order ID"), max_length=64, blank=True)
    created_at = models.DateTimeField(
        verbose_name=_("created"), default=timezone.now, help_text=_("When the event happened (UTC).")
    )

    class Meta:
        db_table = "risk_audit"
        verbose_name = _("risk event")
        verbose_name_plural = _("risk events")
        indexes = [
            models.Index(fields=["-created_at"], name="riskaudit_created"),
            models.Index(fields=["violation_type"], name="riskaudit_type"),  # the admin's type filter
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.violation_type} {self.symbol} @ {self.created_at:%Y-%m-%d %H:%M}"


class TradingControl(models.Model):
    """Operator switches that must survive restarts (one row)."""

    kill_switch = models.BooleanField(
        verbose_name=_("kill switch"),
        default=False,
        help_text=_("On: no new entries. Exits (stop loss etc.) keep running."),
    )
    reason = models.CharField(verbose_name=_("reason"), max_length=200, blank=True)
    entries_paused = models.BooleanField(
        verbose_name=_("entries paused"),
        default=False,
        help_text=_(
            "On: no new entries, without the kill switch's alarm (an operator's pause). Exits keep running."
        ),
    )
    reconcile_mismatch = models.TextField(
        verbose_name=_("reconciliation mismatch"),
        blank=True,
        help_text=_(
            "Set when live balances differ from Upbit's: no new entries until an operator "
            "clears it (manage.py reconcile --resume). Exits keep running."
        ),
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    changed_at = models.DateTimeField(verbose_name=_("changed"), auto_now=True)

    class Meta:
        db_table = "trading_control"
        verbose_name = _("trading control")
        verbose_name_plural = _("trading controls")

    def __str__(self) -> str:
        return str(_("kill switch ON") if self.kill_switch else _("kill switch off"))

    @classmethod
    def current(cls) -> "TradingControl":
        return cls.objects.get_or_create(pk=1)[0]

    @classmethod
    def kill_switch_state(cls) -> tuple[bool, str]:
        """(on, reason) of the kill switch, (False, "") before the row exists: what every page's
        banner and the Overview and Risk pages read. One fixed statement on the cursor: the ORM
        built it anew on every request, 0.25 ms of CPU of the 0.3 ms the read cost."""
        row = first_row(cls, "SELECT kill_switch, reason FROM {table} WHERE {pk} = %s", [1])
        return (bool(row[0]), row[1]) if row else (False, "")


class VersionedConfig(models.Model):
    """A configuration kept as numbered versions; exactly one is active at a time."""

    version = models.PositiveIntegerField(verbose_name=_("version"), unique=True)
    is_active = models.BooleanField(verbose_name=_("active"), default=False)
    note = models.CharField(verbose_name=_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(verbose_name=_("created"), auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["-version"]

    def __str__(self) -> str:
        if self.is_active:
            return str(_("v%(version)s (active)") % {"version": self.version})
        return f"v{self.version}"


class StrategyConfig(VersionedConfig):
    """Strategy v3.1 parameters: `params` holds one block per regime."""

    symbols = models.JSONField(verbose_name=_("symbols"), default=list)
    params = models.JSONField(verbose_name=_("parameters"), default=dict)

    class Meta(VersionedConfig.Meta):
        db_table = "strategy_config"
        verbose_name = _("strategy configuration")
        verbose_name_plural = _("strategy configurations")
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="one_active_strategy_config"
            )
        ]


class RiskConfig(VersionedConfig):
    """Hard risk limits."""

    max_position_size_pct = models.DecimalField(
        verbose_name=_("position size (%)"), max_digits=6, decimal_places=2, default=Decimal("5")
    )
    max_total_exposure_pct = models.DecimalField(
        verbose_name=_("total exposure (%)"), max_digits=6, decimal_places=2, default=Decimal("20")
    )
    max_concurrent_positions = models.PositiveSmallIntegerField(
        verbose_name=_("open positions at once"), default=3
    )
    max_daily_loss_pct = models.DecimalField(
        verbose_name=_("daily loss limit (%)"), max_digits=6, decimal_places=2, default=Decimal("5")
    )
    max_daily_trades = models.PositiveSmallIntegerField(verbose_name=_("entries per day"), default=10)
    consecutive_loss_limit = models.PositiveSmallIntegerField(
        verbose_name=_("losing streak limit"), default=3
    )
    cooldown_hours = models.DecimalField(
        verbose_name=_("cooldown (hours)"), max_digits=6, decimal_places=2, default=Decimal("2")
    )
    min_order_krw = models.DecimalField(
        verbose_name=_("minimum order (KRW)"), max_digits=14, decimal_places=0, default=Decimal("5000")
    )
    max_weekly_loss_pct = models.DecimalField(
        verbose_name=_("weekly loss limit (%)"), max_digits=6, decimal_places=2, default=Decimal("15")
    )
    daily_loss_includes_unrealized = models.BooleanField(
        verbose_name=_("count unrealized losses in the daily limit"), default=False
    )
    liquidity_warn_slippage_pct = models.DecimalField(
        verbose_name=_("warn above expected slippage (%)"),
        max_digits=6,
        decimal_places=3,
        default=Decimal("0.3"),
    )
    liquidity_warn_levels = models.PositiveSmallIntegerField(
        verbose_name=_("warn above book levels"), default=5
    )

    class Meta(VersionedConfig.Meta):
        db_table = "risk_config"
        verbose_name = _("risk limits")
        verbose_name_plural = _("risk limits")
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="one_active_risk_config"
            )
        ]


class SymbolState(models.Model):
    """Per-symbol bot state that money depends on, kept in the database (Redis only caches).

    `last_decided_bar` is claimed before a symbol is decided on, in one statement for every
    symbol, so a second run of the same slot, or a run after Redis forgot everything, decides on
    no bar twice (docs/architecture.md, "Scheduling guarantees").
    """

    symbol = models.CharField(verbose_name=_("symbol"), max_length=20, unique=True)
    last_decided_bar = models.DateTimeField(
        verbose_name=_("last decided bar"),
        null=True,
        blank=True,
        help_text=_("Open time (UTC) of the newest 1m bar the bot decided on."),
    )
    stale_since = models.DateTimeField(
        verbose_name=_("data stopped since"),
        null=True,
        blank=True,
        help_text=_("Set when the 'data stopped' alert went out; cleared on recovery."),
    )
    unprotected_since = models.DateTimeField(
        verbose_name=_("unprotected since"),
        null=True,
        blank=True,
        help_text=_("Set when the 'position unprotected' alert went out (no candle and no ticker price)."),
    )
    updated_at = models.DateTimeField(verbose_name=_("updated"), auto_now=True)

    class Meta:
        db_table = "symbol_state"
        verbose_name = _("symbol state")
        verbose_name_plural = _("symbol states")
        ordering = ["symbol"]

    def __str__(self) -> str:
        return f"{self.symbol} decided up to {self.last_decided_bar}"
