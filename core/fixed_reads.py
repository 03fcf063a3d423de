"""One-row reads made on every request or bot cycle, as fixed SQL statements.

The ORM builds a query's SQL anew on each call: 0.2-0.3 ms of CPU for a read the database answers
in a fraction of that, several times a page (the session, the user, the kill switch, the newest
row ids, the active configuration). These run the statement as written, on the model's read
database, still fresh on every call. `{table}` and `{pk}` in the SQL are the model's table and
primary key column, quoted; datetime parameters are adapted as the ORM would store them.
"""

from datetime import datetime

from django.db import connections, router
from django.db.models import Model


def first_row(model: type[Model], sql: str, params: list | tuple = ()) -> tuple | None:
    """The first row of `sql` as a tuple, None when there is none."""
    database = connections[router.db_for_read(model)]
    with database.cursor() as cursor:
        cursor.execute(_named(model, database, sql), _adapted(database, params))
        return cursor.fetchone()


def first_instance(model: type[Model], sql: str, params: list | tuple = ()) -> Model | None:
    """The first row of `sql` (every column of the table) as a model instance, None when there is
    none; the fields' converters apply as for any query."""
    manager = model._default_manager
    database = connections[manager.db]
    return next(iter(manager.raw(_named(model, database, sql), _adapted(database, params))), None)


def _named(model: type[Model], database, sql: str) -> str:
    quote, meta = database.ops.quote_name, model._meta
    return sql.format(table=quote(meta.db_table), pk=quote(meta.pk.column))


def _adapted(database, params: list | tuple) -> list:
    adapt = database.ops.adapt_datetimefield_value
    return [adapt(value) if isinstance(value, datetime) else value for value in params]
