"""The candle table's primary key also carries each bar's prices and volume (issue 18).

The bot cycle reads every symbol's newest 1,000 bars each minute. The collector stores all symbols'
bars of a minute together, so one symbol's window lies on about 1,000 table pages. With open, high,
low, close and volume in the key's btree (INCLUDE: stored in its leaves, not part of the key), the
window is read from about 15 index pages a symbol and no table page: an index-only scan.

An index-only scan skips only the table pages the visibility map marks all-visible, and vacuum sets
those marks. By default PostgreSQL vacuums an insert-only table after it grows by 20 % (days of
minutes on a full table), so the newest bars, the ones every cycle reads, would stay unmarked. The
table's own settings vacuum it after every 5,000 new rows (50 minutes of 100 symbols); such a vacuum
visits only the pages written since the last one.

PostgreSQL only, and not on a TimescaleDB hypertable (its chunks carry their own keys and settings):
SQLite and a hypertable keep the plain key. Frozen SQL, as every migration here.
"""

import logging

from django.db import migrations

log = logging.getLogger(__name__)

COVERING = (
    "ALTER TABLE market_data DROP CONSTRAINT market_data_pkey, "
    'ADD CONSTRAINT market_data_pkey PRIMARY KEY (symbol, "interval", "timestamp") '
    "INCLUDE (open, high, low, close, volume)"
)
PLAIN = (
    "ALTER TABLE market_data DROP CONSTRAINT market_data_pkey, "
    'ADD CONSTRAINT market_data_pkey PRIMARY KEY (symbol, "interval", "timestamp")'
)
VACUUM_OFTEN = (
    "ALTER TABLE market_data SET "
    "(autovacuum_vacuum_insert_threshold = 5000, autovacuum_vacuum_insert_scale_factor = 0)"
)
VACUUM_AS_DEFAULT = (
    "ALTER TABLE market_data RESET (autovacuum_vacuum_insert_threshold, autovacuum_vacuum_insert_scale_factor)"
)


def plain_postgresql_table(schema_editor) -> bool:
    if schema_editor.connection.vendor != "postgresql":
        return False
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('_timescaledb_catalog.hypertable') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return True
        cursor.execute("SELECT 1 FROM _timescaledb_catalog.hypertable WHERE table_name = 'market_data'")
        if cursor.fetchone() is None:
            return True
    log.info("market_data is a TimescaleDB hypertable: its primary key stays as it is")
    return False


def cover(apps, schema_editor) -> None:
    if plain_postgresql_table(schema_editor):
        schema_editor.execute(COVERING)
        schema_editor.execute(VACUUM_OFTEN)


def uncover(apps, schema_editor) -> None:
    if plain_postgresql_table(schema_editor):
        schema_editor.execute(PLAIN)
        schema_editor.execute(VACUUM_AS_DEFAULT)


class Migration(migrations.Migration):
    dependencies = [("market", "0010_rollup_hours_only")]

    operations = [migrations.RunPython(cover, uncover)]
