"""Market data: 1-minute candles and the regime evaluations made from them."""

from django.db import models

PRICE = {"max_digits": 28, "decimal_places": 8}


class Regime(models.TextChoices):
    BULL = "BULL"
    SIDEWAYS = "SIDEWAYS"
    BEAR = "BEAR"
    UNKNOWN = "UNKNOWN"


class Candle(models.Model):
    """One OHLCV bar; `timestamp` is the bar's open time in UTC.

    The composite primary key (symbol, interval, timestamp) includes the time column, as a
    TimescaleDB hypertable requires, and its btree also serves "newest bars of a symbol" scans
    (PostgreSQL and SQLite walk it backwards), so no second index slows the bulk inserts.
    """

    pk = models.CompositePrimaryKey("symbol", "interval", "timestamp")
    symbol = models.CharField(max_length=20)
    interval = models.CharField(max_length=8, default="1m")
    timestamp = models.DateTimeField()
    open = models.DecimalField(**PRICE)
    high = models.DecimalField(**PRICE)
    low = models.DecimalField(**PRICE)
    close = models.DecimalField(**PRICE)
    volume = models.DecimalField(**PRICE)
    quote_volume = models.DecimalField(null=True, blank=True, **PRICE)

    class Meta:
        db_table = "market_data"

    def __str__(self) -> str:
        return f"{self.symbol} {self.interval} {self.timestamp:%Y-%m-%d %H:%M}Z close={self.close}"


class RegimeHistory(models.Model):
    """One regime evaluation of a symbol (hourly MA50 vs MA200, SPEC 4.2)."""

    coin_symbol = models.CharField(max_length=20)
    regime = models.CharField(max_length=10, choices=Regime.choices)
    ma50 = models.DecimalField(null=True, blank=True, **PRICE)
    ma200 = models.DecimalField(null=True, blank=True, **PRICE)
    diff_pct = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "regime_history"
        verbose_name_plural = "regime history"
        indexes = [
            models.Index(fields=["coin_symbol", "-created_at"], name="regime_symbol_created"),
            models.Index(fields=["-created_at"], name="regime_created"),  # newest of all symbols
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.coin_symbol} {self.regime} @ {self.created_at:%Y-%m-%d %H:%M}"


class CandleRollup(models.Model):
    """1-minute candles aggregated to 5-minute and 1-hour bars (PostgreSQL), kept current by
    every store of candles, so long chart ranges read thousands of rows instead of 500,000.

    `bucket` is the bar's open time in UTC, aligned like date_bin (UTC midnight boundaries).
    """

    pk = models.CompositePrimaryKey("symbol", "bar", "bucket")
    symbol = models.CharField(max_length=20)
    bar = models.CharField(max_length=4)
    bucket = models.DateTimeField()
    open = models.DecimalField(**PRICE)
    high = models.DecimalField(**PRICE)
    low = models.DecimalField(**PRICE)
    close = models.DecimalField(**PRICE)
    volume = models.DecimalField(**PRICE)

    class Meta:
        db_table = "market_data_rollup"

    def __str__(self) -> str:
        return f"{self.symbol} {self.bar} {self.bucket:%Y-%m-%d %H:%M}Z close={self.close}"


class VolatilityFit(models.Model):
    """One good GARCH(1,1) fit of the bellwether: the volatility state the risk manager reads.

    The newest row is the state (Redis only caches it), so a Redis flush does not switch the
    high-volatility size halving off until the next daily fit; the rows are its history.
    """

    symbol = models.CharField(max_length=20)
    fitted_at = models.DateTimeField(help_text="When the fit ran (UTC).")
    current_volatility = models.FloatField(help_text="Forecast 1-minute volatility (fraction of price).")
    long_run_volatility = models.FloatField(help_text="Long-run 1-minute volatility (fraction of price).")
    is_high_volatility = models.BooleanField()
    alpha = models.FloatField()
    beta = models.FloatField()

    class Meta:
        db_table = "volatility_fits"
        indexes = [models.Index(fields=["-fitted_at"], name="volfit_fitted")]
        ordering = ["-fitted_at"]

    def __str__(self) -> str:
        verdict = "HIGH" if self.is_high_volatility else "normal"
        return f"{self.symbol} {self.current_volatility:.6f}/min ({verdict}) @ {self.fitted_at:%Y-%m-%d}"
