"""Pre-filter: cases where asking the LLM is pointless and the buy is skipped (pure)."""

from .context import HOURLY_CANDLES, Context

SHORT_CONTEXT = "short_context"
FALLING_KNIFE = "bear_falling_knife"
THIN_VOLUME = "thin_volume"


def check(
    ctx: Context, regime: str, *, max_drop_pct_6h: float | None, thin_volume_ratio: float
) -> str | None:
    """The reason to skip the agent, or None to ask it."""
    hourly = ctx.hourly
    if len(hourly) < HOURLY_CANDLES:
        return SHORT_CONTEXT
    change = ctx.drop_pct(6)
    if regime == "BEAR" and max_drop_pct_6h is not None and change is not None and change < -max_drop_pct_6h:
        return FALLING_KNIFE
    recent, overall = hourly["volume"].iloc[-6:].mean(), hourly["volume"].mean()
    if overall <= 0 or recent < thin_volume_ratio * overall:
        return THIN_VOLUME
    return None


def describe(reason: str, ctx: Context) -> str:
    """A sentence for the decision log."""
    if reason == SHORT_CONTEXT:
        return f"pre-filter: {len(ctx.hourly)} hourly context candles < {HOURLY_CANDLES}"
    if reason == FALLING_KNIFE:
        return f"pre-filter: BEAR falling knife, {ctx.drop_pct(6):.2f}% over the last 6 hourly candles"
    return "pre-filter: volume of the last 6 hours too thin against the 24-hour average"
