# Upbit's market list, cached in the database (validation of symbols, warning/caution flags,
# delisting).
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("market", "0006_volatility_fits")]

    operations = [
        migrations.CreateModel(
            name="UpbitMarket",
            fields=[
                ("market", models.CharField(max_length=20, primary_key=True, serialize=False)),
                ("korean_name", models.CharField(blank=True, max_length=100)),
                ("english_name", models.CharField(blank=True, max_length=100)),
                (
                    "warning",
                    models.BooleanField(default=False, help_text="Upbit investment warning (유의 종목)."),
                ),
                (
                    "caution",
                    models.JSONField(blank=True, default=dict, help_text="Upbit caution flags, name -> on."),
                ),
                ("listed", models.BooleanField(default=True, help_text="In Upbit's latest market list.")),
                ("first_seen", models.DateTimeField(help_text="First list it was in (UTC).")),
                ("last_seen", models.DateTimeField(help_text="Latest list it was in (UTC).")),
                (
                    "delisted_at",
                    models.DateTimeField(blank=True, help_text="First list it was missing from.", null=True),
                ),
                (
                    "delisting_alerted",
                    models.BooleanField(
                        default=False, help_text="The `system` alert for a position held in it went out."
                    ),
                ),
            ],
            options={"db_table": "upbit_markets", "ordering": ["market"]},
        ),
    ]
