"""Trading state: account, positions, trades, risk state and audit, and the live configuration.

Money and prices are Decimal; every datetime is stored in UTC.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from market.models import Regime

MONEY = {"max_digits": 28, "decimal_places": 8}
ZERO = Decimal("0")


class Side(models.TextChoices):
    BUY = "BUY"
    SELL = "SELL"


class TradeStatus(models.TextChoices):
    PENDING = "PENDING", "pending (sent, not booked)"
    FILLED = "FILLED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class TradeMode(models.TextChoices):
    PAPER = "paper"
    LIVE = "live"
    REPLAY = "replay", "replay (simulated history)"


class ExitReason(models.TextChoices):
    STOP_LOSS = "STOP_LOSS"
    TRAILING_STOP = "TRAILING_STOP"
    TAKE_PROFIT = "TAKE_PROFIT"
    RSI_OVERBOUGHT = "RSI_OVERBOUGHT"
    TIME_LIMIT = "TIME_LIMIT"
    PARTIAL_TAKE_PROFIT = "PARTIAL_TAKE_PROFIT"
    MANUAL = "MANUAL"
    KILL_SWITCH = "KILL_SWITCH"


class Account(models.Model):
    """The paper account's KRW cash balance."""

    name = models.CharField(max_length=32, unique=True, default="paper")
    balance = models.DecimalField(**MONEY)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "account_state"

    def __str__(self) -> str:
        return f"{self.name}: {self.balance:,.0f} KRW"


class Position(models.Model):
    """An open holding; at most one per symbol."""

    symbol = models.CharField(max_length=20, unique=True)
    quantity = models.DecimalField(**MONEY)
    avg_price = models.DecimalField(**MONEY)
    regime = models.CharField(max_length=10, choices=Regime.choices, help_text="Regime at entry.")
    high_water_mark = models.DecimalField(**MONEY)
    opened_at = models.DateTimeField()
    entry_signal = models.JSONField(default=dict, blank=True)
    entry_fee = models.DecimalField(default=ZERO, help_text="KRW fee paid on entry.", **MONEY)
    initial_quantity = models.DecimalField(
        null=True,
        blank=True,
        help_text="Quantity bought at entry; partial take-profit levels sell shares of it. "
        "Empty on positions opened before scale-out existed (the current quantity is used).",
        **MONEY,
    )
    partials_taken = models.PositiveSmallIntegerField(
        default=0, help_text="Partial take-profit levels already sold (0-3)."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "positions"
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

    symbol = models.CharField(max_length=20)
    side = models.CharField(max_length=4, choices=Side.choices)
    price = models.DecimalField(**MONEY)
    quantity = models.DecimalField(**MONEY)
    fee = models.DecimalField(default=ZERO, **MONEY)
    status = models.CharField(max_length=10, choices=TradeStatus.choices)
    strategy_name = models.CharField(max_length=64, blank=True)
    signal_info = models.JSONField(
        default=dict,
        blank=True,
        help_text="Indicators at decision time; on SELL also entry_avg_price.",
    )
    regime = models.CharField(max_length=10, choices=Regime.choices, blank=True)
    exit_reason = models.CharField(max_length=24, choices=ExitReason.choices, blank=True)
    post_exit_prices = models.JSONField(default=dict, blank=True)
    client_order_id = models.CharField(max_length=64, unique=True)
    exchange_order_id = models.CharField(max_length=64, blank=True, help_text="Upbit uuid (live).")
    mode = models.CharField(max_length=8, choices=TradeMode.choices, default=TradeMode.PAPER)
    executed_at = models.DateTimeField(null=True, blank=True)
    expected_slippage_bps = models.DecimalField(
        max_digits=12,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="Slippage expected before the order: the order book's walk vs its best price, or "
        "the paper model's fixed bps. Empty when not known (live sells read no book).",
    )
    realised_slippage_bps = models.DecimalField(
        max_digits=12,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="The fill's average price vs the best ask/bid at decision (the decision price when no "
        "book was read), in bps; positive = against us.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "trading_history"
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

    date = models.DateField(unique=True, help_text="The KST trading day.")
    starting_equity = models.DecimalField(
        default=ZERO, help_text="Cash + positions at cost when the day began.", **MONEY
    )
    total_pnl = models.DecimalField(default=ZERO, **MONEY)
    trade_count = models.PositiveIntegerField(default=0)
    consecutive_losses = models.PositiveIntegerField(default=0)
    cooldown_until = models.DateTimeField(null=True, blank=True)
    is_trading_halted = models.BooleanField(default=False)
    halt_reason = models.CharField(max_length=200, blank=True)
    week_starting_equity = models.DecimalField(
        default=ZERO,
        help_text="Cash + positions at cost when the KST week's first trading day began.",
        **MONEY,
    )
    week_pnl = models.DecimalField(default=ZERO, help_text="Realised PnL of the KST week so far.", **MONEY)
    is_week_halted = models.BooleanField(
        default=False, help_text="The weekly loss limit was reached: no entries until Monday 00:00 KST."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "daily_risk_state"
        ordering = ["-date"]

    def __str__(self) -> str:
        return f"{self.date}: pnl {self.total_pnl}, {self.trade_count} trades"


class RiskAudit(models.Model):
    """A refused order or a limit event."""

    violation_type = models.CharField(max_length=40)
    description = models.TextField()
    symbol = models.CharField(max_length=20, blank=True)
    related_order_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, help_text="When the event happened (UTC).")

    class Meta:
        db_table = "risk_audit"
        indexes = [models.Index(fields=["-created_at"], name="riskaudit_created")]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.violation_type} {self.symbol} @ {self.created_at:%Y-%m-%d %H:%M}"


class TradingControl(models.Model):
    """Operator switches that must survive restarts (one row)."""

    kill_switch = models.BooleanField(
        default=False, help_text="On: no new entries. Exits (stop loss etc.) keep running."
    )
    reason = models.CharField(max_length=200, blank=True)
    entries_paused = models.BooleanField(
        default=False,
        help_text="On: no new entries, without the kill switch's alarm (an operator's pause). "
        "Exits keep running.",
    )
    reconcile_mismatch = models.TextField(
        blank=True,
        help_text="Set when live balances differ from Upbit's: no new entries until an operator "
        "clears it (manage.py reconcile --resume). Exits keep running.",
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "trading_control"
        verbose_name = "trading control"

    def __str__(self) -> str:
        return f"kill switch {'ON' if self.kill_switch else 'off'}"

    @classmethod
    def current(cls) -> "TradingControl":
        return cls.objects.get_or_create(pk=1)[0]


class VersionedConfig(models.Model):
    """A configuration kept as numbered versions; exactly one is active at a time."""

    version = models.PositiveIntegerField(unique=True)
    is_active = models.BooleanField(default=False)
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"v{self.version}{' (active)' if self.is_active else ''}"


class StrategyConfig(VersionedConfig):
    """Strategy v3.1 parameters: `params` holds one block per regime."""

    symbols = models.JSONField(default=list)
    params = models.JSONField(default=dict)

    class Meta(VersionedConfig.Meta):
        db_table = "strategy_config"
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="one_active_strategy_config"
            )
        ]


class RiskConfig(VersionedConfig):
    """Hard risk limits."""

    max_position_size_pct = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal("5"))
    max_total_exposure_pct = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal("20"))
    max_concurrent_positions = models.PositiveSmallIntegerField(default=3)
    max_daily_loss_pct = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal("5"))
    max_daily_trades = models.PositiveSmallIntegerField(default=10)
    consecutive_loss_limit = models.PositiveSmallIntegerField(default=3)
    cooldown_hours = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal("2"))
    min_order_krw = models.DecimalField(max_digits=14, decimal_places=0, default=Decimal("5000"))
    max_weekly_loss_pct = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal("15"))
    daily_loss_includes_unrealized = models.BooleanField(default=False)
    liquidity_warn_slippage_pct = models.DecimalField(max_digits=6, decimal_places=3, default=Decimal("0.3"))
    liquidity_warn_levels = models.PositiveSmallIntegerField(default=5)

    class Meta(VersionedConfig.Meta):
        db_table = "risk_config"
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

    symbol = models.CharField(max_length=20, unique=True)
    last_decided_bar = models.DateTimeField(
        null=True, blank=True, help_text="Open time (UTC) of the newest 1m bar the bot decided on."
    )
    stale_since = models.DateTimeField(
        null=True, blank=True, help_text="Set when the 'data stopped' alert went out; cleared on recovery."
    )
    unprotected_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set when the 'position unprotected' alert went out (no candle and no ticker price).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "symbol_state"
        ordering = ["symbol"]

    def __str__(self) -> str:
        return f"{self.symbol} decided up to {self.last_decided_bar}"
