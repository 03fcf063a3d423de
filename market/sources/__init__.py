"""Candle sources, chosen by name: `upbit`, `sim`, or `csv:/path/to/file.csv`."""

from django.conf import settings

from .base import MarketDataSource


def get_source(spec: str | None = None) -> MarketDataSource:
    """The source named by `spec` (default settings.COINPILOT_MARKET_SOURCE)."""
    spec = (spec or settings.COINPILOT_MARKET_SOURCE).strip()
    if spec == "sim":
        from .simulated import SimulatedSource

        return SimulatedSource(seed=settings.COINPILOT_SIM_SEED)
    if spec == "upbit":
        from .upbit import UpbitSource

        return UpbitSource()
    if spec.startswith("csv:") and len(spec) > 4:
        from .csv import CsvSource

        return CsvSource(spec[4:])
    raise ValueError(f"unknown market source {spec!r}: use upbit, sim or csv:PATH")
