# Written by hand: a storage parameter of PostgreSQL, nothing for SQLite.

from django.db import migrations

# Trades are updated after they are inserted (the post-exit tracker merges price windows into
# post_exit_prices, a column no index covers). With free room left on each page PostgreSQL can
# write the new row version on the same page without touching any of the table's indexes (a HOT
# update); with full pages every such update also writes all five indexes. Pages filled before
# this keep no room until the table is rewritten (VACUUM FULL trading_history), which a small
# table does not need: rows are updated mostly within a day of their insertion.
FILLFACTOR = 80


def set_fillfactor(apps, schema_editor, value: int = FILLFACTOR) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE trading_history SET (fillfactor = {int(value)})")


def reset_fillfactor(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE trading_history RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("trading", "0009_position_management")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor)]
