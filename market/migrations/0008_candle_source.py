# Each candle records its source (upbit, sim, csv). The column has a database default, so on
# PostgreSQL 11+ adding it changes only the catalog: no row of a multi-million-row table is
# rewritten. Rows stored before this migration read "unknown": nothing recorded where they came
# from (the configured source may have changed since, or a demo may have stored simulated minutes),
# so no source is guessed for them; `backfill --replace` refills such a symbol from a known one.
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("market", "0007_upbit_markets")]

    operations = [
        migrations.AddField(
            model_name="candle",
            name="source",
            field=models.CharField(
                choices=[
                    ("upbit", "Upbit"),
                    ("sim", "simulated"),
                    ("csv", "CSV file"),
                    ("unknown", "unknown (stored before sources were recorded, or loaded around CoinPilot)"),
                ],
                db_default="unknown",
                default="unknown",
                max_length=8,
            ),
        ),
    ]
