"""Who else is connected to the test database (PostgreSQL): a connection a thread or a library
leaves open keeps pytest-django from dropping the database at the end of the run."""

from django.db import connection


def other_sessions() -> int:
    """Sessions on this test database besides this thread's own connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # pg_stat_activity is read once per transaction
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]
