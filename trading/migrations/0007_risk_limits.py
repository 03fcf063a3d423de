# The weekly loss limit and the option for the daily limit to count unrealised losses (RiskConfig),
# and the week's numbers carried on each day's risk row (DailyRiskState), filled in for the rows
# that exist already so the current week's limit counts its earlier days.
from datetime import timedelta
from decimal import Decimal

from django.db import migrations, models


def fill_weeks(apps, schema_editor):
    DailyRiskState = apps.get_model("trading", "DailyRiskState")
    week, equity, pnl = None, Decimal(0), Decimal(0)
    for row in DailyRiskState.objects.order_by("date"):
        monday = row.date - timedelta(days=row.date.weekday())
        if monday != week:
            week, equity, pnl = monday, row.starting_equity, Decimal(0)
        pnl += row.total_pnl
        row.week_starting_equity, row.week_pnl = equity, pnl
        row.save(update_fields=["week_starting_equity", "week_pnl"])


class Migration(migrations.Migration):
    dependencies = [("trading", "0006_symbol_state")]

    operations = [
        migrations.AddField(
            model_name="riskconfig",
            name="max_weekly_loss_pct",
            field=models.DecimalField(decimal_places=2, default=Decimal("15"), max_digits=6),
        ),
        migrations.AddField(
            model_name="riskconfig",
            name="daily_loss_includes_unrealized",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="dailyriskstate",
            name="week_starting_equity",
            field=models.DecimalField(
                decimal_places=8,
                default=Decimal("0"),
                help_text="Cash + positions at cost when the KST week's first trading day began.",
                max_digits=28,
            ),
        ),
        migrations.AddField(
            model_name="dailyriskstate",
            name="week_pnl",
            field=models.DecimalField(
                decimal_places=8,
                default=Decimal("0"),
                help_text="Realised PnL of the KST week so far.",
                max_digits=28,
            ),
        ),
        migrations.AddField(
            model_name="dailyriskstate",
            name="is_week_halted",
            field=models.BooleanField(
                default=False,
                help_text="The weekly loss limit was reached: no entries until Monday 00:00 KST.",
            ),
        ),
        migrations.RunPython(fill_weeks, migrations.RunPython.noop),
    ]
