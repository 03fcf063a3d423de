# Expected and realised slippage on every trade, and the operator's order-book warning
# thresholds in the risk config (existing versions get the defaults: 0.3 % and 5 levels).
from decimal import Decimal

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("trading", "0007_risk_limits")]

    operations = [
        migrations.AddField(
            model_name="trade",
            name="expected_slippage_bps",
            field=models.DecimalField(
                blank=True,
                decimal_places=4,
                help_text="Slippage expected before the order: the order book's walk vs its best price, "
                "or the paper model's fixed bps. Empty when not known (live sells read no book).",
                max_digits=12,
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="trade",
            name="realised_slippage_bps",
            field=models.DecimalField(
                blank=True,
                decimal_places=4,
                help_text="The fill's average price vs the best ask/bid at decision (the decision price "
                "when no book was read), in bps; positive = against us.",
                max_digits=12,
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="riskconfig",
            name="liquidity_warn_slippage_pct",
            field=models.DecimalField(decimal_places=3, default=Decimal("0.3"), max_digits=6),
        ),
        migrations.AddField(
            model_name="riskconfig",
            name="liquidity_warn_levels",
            field=models.PositiveSmallIntegerField(default=5),
        ),
    ]
