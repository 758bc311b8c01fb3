"""The one clock every kill decision reads: the database's.

App servers' clocks drift apart (seconds are common, minutes happen). A session
created on a host whose clock runs fast would outlive a Kill All run from a slower
host, and a login on a slow host just after a Kill All would be refused. So the
times that decide a kill — when a tracked engine issued a session key, and every
"not before" epoch — are written by the database itself, inside the statement that
stores them, as seconds since the Unix epoch (a float, compared as numbers whatever
the vendor's date formats).

SQLite is the exception that proves the rule: an embedded database is on the one host
that uses it, so its clock is that host's, and Python's reads it to the microsecond
(SQLite's own "now" stops at the millisecond, too coarse to order a kill and a login).

Times only shown to people (created, last seen) still come from the app host.
"""

from __future__ import annotations

import time
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import FloatField, Func
from django.db.models.sql.compiler import SQLCompiler

#: The database's clock as seconds since the Unix epoch, by vendor. ``clock_timestamp()``
#: rather than ``now()`` on PostgreSQL: ``now()`` is the start of the transaction, which
#: may be long before the statement (a request in ``ATOMIC_REQUESTS``).
SQL = {
    "postgresql": "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)",
    "mysql": "UNIX_TIMESTAMP(NOW(6))",
}


def sql(connection: BaseDatabaseWrapper) -> tuple[str, list[Any]]:
    """The SQL for "now" on this connection's database, and its parameters."""
    if connection.vendor == "sqlite":
        return "%s", [time.time()]
    try:
        return SQL[connection.vendor], []
    except KeyError:
        raise NotImplementedError(
            f"sessions_panel has no database clock for {connection.vendor!r}"
        ) from None


class DatabaseNow(Func):
    """The database's clock as an expression: usable as a value in an insert or update."""

    output_field = FloatField()
    template = ""

    def as_sql(  # type: ignore[override]
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra_context: Any
    ) -> tuple[str, list[Any]]:
        return sql(connection)


def now(using: str) -> float:
    """Read the database's clock (one query): for a decision taken in Python."""
    from django.db import connections

    connection = connections[using]
    now_sql, params = sql(connection)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {now_sql}", params)
        (value,) = cursor.fetchone()
    return float(value)
