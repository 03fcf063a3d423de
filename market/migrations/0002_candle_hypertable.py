"""Turn market_data into a TimescaleDB hypertable when the extension is available.

Plain PostgreSQL and SQLite keep an ordinary table: Timescale is an optimisation, not a need.
"""

import logging

from django.db import migrations

log = logging.getLogger(__name__)


def timescale_available(schema_editor) -> bool:
    if schema_editor.connection.vendor != "postgresql":
        return False
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
        return cursor.fetchone() is not None


def make_hypertable(apps, schema_editor) -> None:
    if not timescale_available(schema_editor):
        log.info("timescaledb not available: market_data stays a plain table")
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    schema_editor.execute(
        "SELECT create_hypertable('market_data', by_range('timestamp', INTERVAL '7 days'), "
        "if_not_exists => TRUE, migrate_data => TRUE)"
    )


class Migration(migrations.Migration):
    # create_hypertable cannot run inside the transaction that created the table on some versions
    atomic = False

    dependencies = [("market", "0001_initial")]

    operations = [migrations.RunPython(make_hypertable, migrations.RunPython.noop)]
