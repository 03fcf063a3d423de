"""Fill the chart rollup from the candles already stored (PostgreSQL; SQLite keeps none).

Frozen SQL, not a call into market.rollups: a migration must do what it did when it was written,
whatever the live module becomes. 5-minute bars from the minutes, then hourly bars from those,
aligned to UTC (origin 2000-01-01), as market.rollups builds them.
"""

from django.db import migrations

LEVELS = [
    ("5m", "300 seconds", "market_data", '"timestamp"', "s.interval = '1m'"),
    ("1h", "3600 seconds", "market_data_rollup", "bucket", "s.bar = '5m'"),
]
BUILD = """
INSERT INTO market_data_rollup (symbol, bar, bucket, open, high, low, close, volume)
SELECT s.symbol, %s, date_bin(%s::interval, s.{time}, TIMESTAMPTZ '2000-01-01') AS b,
       (array_agg(s.open ORDER BY s.{time}))[1], max(s.high), min(s.low),
       (array_agg(s.close ORDER BY s.{time} DESC))[1], sum(s.volume)
FROM {source} s WHERE {where}
GROUP BY s.symbol, b
ON CONFLICT (symbol, bar, bucket) DO UPDATE SET
  open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low,
  close = EXCLUDED.close, volume = EXCLUDED.volume
"""


def build(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for bar, width, source, time, where in LEVELS:
            cursor.execute(BUILD.format(source=source, time=time, where=where), [bar, width])


class Migration(migrations.Migration):
    dependencies = [("market", "0003_candle_rollup")]

    operations = [migrations.RunPython(build, migrations.RunPython.noop)]
