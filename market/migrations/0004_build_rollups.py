"""Fill the chart rollup from the candles already stored (PostgreSQL; SQLite keeps none)."""

from django.db import migrations


def build(apps, schema_editor) -> None:
    from market import rollups

    rollups.rebuild()


class Migration(migrations.Migration):
    dependencies = [("market", "0003_candle_rollup")]

    operations = [migrations.RunPython(build, migrations.RunPython.noop)]
