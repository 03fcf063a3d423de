"""The chart rollup keeps hourly bars only (issue 18): its 5-minute bars go.

Frozen SQL, not a call into market.rollups. Going back rebuilds the 5-minute bars from the minutes
(PostgreSQL; SQLite keeps no rollup), as migration 0004 built them.
"""

from django.db import migrations

DROP = "DELETE FROM market_data_rollup WHERE bar = '5m'"
BUILD_FIVES = """
INSERT INTO market_data_rollup (symbol, bar, bucket, open, high, low, close, volume)
SELECT s.symbol, '5m', date_bin('300 seconds'::interval, s."timestamp", TIMESTAMPTZ '2000-01-01') AS b,
       (array_agg(s.open ORDER BY s."timestamp"))[1], max(s.high), min(s.low),
       (array_agg(s.close ORDER BY s."timestamp" DESC))[1], sum(s.volume)
FROM market_data s WHERE s.interval = '1m'
GROUP BY s.symbol, b
ON CONFLICT (symbol, bar, bucket) DO NOTHING
"""


def drop_fives(apps, schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(DROP)


def build_fives(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(BUILD_FIVES)


class Migration(migrations.Migration):
    dependencies = [("market", "0009_translatable_labels")]

    operations = [migrations.RunPython(drop_fives, build_fives)]
