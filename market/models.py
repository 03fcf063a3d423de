"""Market data: 1-minute candles and the regime evaluations made from them."""

from django.db import models

PRICE = {"max_digits": 28, "decimal_places": 8}


class Regime(models.TextChoices):
    BULL = "BULL"
    SIDEWAYS = "SIDEWAYS"
    BEAR = "BEAR"
    UNKNOWN = "UNKNOWN"


class CandleSource(models.TextChoices):
    """Where candles came from. A symbol's stored candles all come from one source."""

    UPBIT = "upbit"
    SIM = "sim", "simulated"
    CSV = "csv", "CSV file"
    UNKNOWN = "unknown", "unknown (stored before sources were recorded, or loaded around CoinPilot)"


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
    # A database default: adding the column rewrites no row on PostgreSQL, and rows loaded around
    # CoinPilot (psql COPY) say "unknown" rather than a source they may not be from.
    source = models.CharField(
        max_length=8,
        choices=CandleSource.choices,
        db_default=CandleSource.UNKNOWN,
        default=CandleSource.UNKNOWN,
    )

    class Meta:
        db_table = "market_data"

    def __str__(self) -> str:
        return f"{self.symbol} {self.interval} {self.timestamp:%Y-%m-%d %H:%M}Z close={self.close}"


class RegimeHistory(models.Model):
    """One regime evaluation of a symbol (hourly MA50 vs MA200)."""

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


class UpbitMarket(models.Model):
    """One market of Upbit's market list (`GET /v1/market/all`), refreshed daily.

    Non-KRW markets are kept too (the list as Upbit gives it); CoinPilot trades only KRW ones. A
    market missing from a later list stays as a row with `listed` off: it was delisted.
    """

    market = models.CharField(max_length=20, primary_key=True)
    korean_name = models.CharField(max_length=100, blank=True)
    english_name = models.CharField(max_length=100, blank=True)
    warning = models.BooleanField(default=False, help_text="Upbit investment warning (유의 종목).")
    caution = models.JSONField(default=dict, blank=True, help_text="Upbit caution flags, name -> on.")
    listed = models.BooleanField(default=True, help_text="In Upbit's latest market list.")
    first_seen = models.DateTimeField(help_text="First list it was in (UTC).")
    last_seen = models.DateTimeField(help_text="Latest list it was in (UTC).")
    delisted_at = models.DateTimeField(null=True, blank=True, help_text="First list it was missing from.")
    delisting_alerted = models.BooleanField(
        default=False, help_text="The `system` alert for a position held in it went out."
    )

    class Meta:
        db_table = "upbit_markets"
        ordering = ["market"]

    def __str__(self) -> str:
        return self.market if self.listed else f"{self.market} (delisted)"
