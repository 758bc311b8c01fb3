"""How many rows the session index holds, kept by the database itself.

The badge says how many sessions are live, on every page and every refresh. A
``COUNT(*)`` over a million rows reads the whole expiry index (13–46 ms on SQLite,
80 ms on PostgreSQL), and a cached count is stale on every other host after a kill.
So triggers on the index table keep :class:`~sessions_panel.models.IndexCount` exact
in the same transaction as each insert and delete, whatever host, process or raw
statement writes (PostgreSQL: statement-level, from the transition tables, spread over
:data:`SLOTS` rows so that concurrent logins do not queue on one row; ``TRUNCATE``
sets it to 0. SQLite: one row, which its single writer serialises anyway).

Live sessions are then that total less the rows that have expired but are not pruned
yet: a range of the expiry index at its low end, counted up to :data:`EXPIRED_CAP`.
With more than that waiting for ``prune``, while a Kill All's clean-up is under way
(the total still holds the rows it ended), or on a database without the triggers (a
vendor this SQL was not written for, or tables emptied by a test's flush), the answer
is ``None`` and the caller counts the old way.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from sessions_panel.tracking import triggers

#: Rows the PostgreSQL triggers spread the total over (by backend process).
SLOTS = 8
#: Expired rows counted before giving up on the counter (``prune`` clears them).
EXPIRED_CAP = 10_000
#: The vendors whose triggers are written here.
VENDORS = ("sqlite", "postgresql")

_PREFIX = "sessions_panel_count"


def _tables(connection: BaseDatabaseWrapper) -> tuple[str, str]:
    from sessions_panel.models import IndexCount, SessionRecord

    qn = connection.ops.quote_name
    return qn(SessionRecord._meta.db_table), qn(IndexCount._meta.db_table)


def _sweeps(connection: BaseDatabaseWrapper) -> str:
    from sessions_panel.models import Sweep

    return connection.ops.quote_name(Sweep._meta.db_table)


def _sqlite_trigger(connection: BaseDatabaseWrapper, event: str) -> str:
    index, count = _tables(connection)
    sign = "+" if event == "INSERT" else "-"
    return (
        f"CREATE TRIGGER {_PREFIX}_{event.lower()} AFTER {event} ON {index} "
        f"BEGIN UPDATE {count} SET total = total {sign} 1 WHERE slot = 0; END"
    )


def install_sql(connection: BaseDatabaseWrapper) -> list[str]:
    """The statements that create the triggers on this connection's vendor."""
    index, count = _tables(connection)
    if connection.vendor == "sqlite":
        return [_sqlite_trigger(connection, "INSERT"), _sqlite_trigger(connection, "DELETE")]
    if connection.vendor != "postgresql":
        return []
    slot = f"pg_backend_pid() % {SLOTS}"
    statements = []
    for event, rows, sign in (("insert", "new_rows", "+"), ("delete", "old_rows", "-")):
        statements += [
            f"CREATE OR REPLACE FUNCTION {_PREFIX}_{event}() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN UPDATE {count} SET total = total {sign} "
            f"(SELECT COUNT(*) FROM {rows}) WHERE slot = {slot}; RETURN NULL; END $$",
            f"CREATE TRIGGER {_PREFIX}_{event} AFTER {event.upper()} ON {index} "
            f"REFERENCING {'NEW' if event == 'insert' else 'OLD'} TABLE AS {rows} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {_PREFIX}_{event}()",
        ]
    statements += [
        f"CREATE OR REPLACE FUNCTION {_PREFIX}_truncate() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$ BEGIN UPDATE {count} SET total = 0; RETURN NULL; END $$",
        f"CREATE TRIGGER {_PREFIX}_truncate AFTER TRUNCATE ON {index} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {_PREFIX}_truncate()",
    ]
    return statements


def uninstall_sql(connection: BaseDatabaseWrapper) -> list[str]:
    index, _ = _tables(connection)
    if connection.vendor == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {_PREFIX}_{event}" for event in ("insert", "delete")]
    if connection.vendor != "postgresql":
        return []
    events = ("insert", "delete", "truncate")
    return [f"DROP TRIGGER IF EXISTS {_PREFIX}_{e} ON {index}" for e in events] + [
        f"DROP FUNCTION IF EXISTS {_PREFIX}_{e}()" for e in events
    ]


def install(using: str) -> None:
    """Create the triggers, then count what is there (in one transaction, so no write
    slips between the two)."""
    connection = connections[using]
    if connection.vendor not in VENDORS:
        return
    triggers.execute(using, install_sql)
    reconcile(using)


def uninstall(using: str) -> None:
    triggers.execute(using, uninstall_sql)


def reconcile(using: str) -> None:
    """Set the total to an exact count (``prune`` runs this; so does the migration).

    PostgreSQL: writers of the index wait while it counts (``SHARE`` lock), so none
    is missed or counted twice; readers do not. SQLite has one writer at a time.
    """
    connection = connections[using]
    if connection.vendor not in VENDORS:
        return
    index, count = _tables(connection)
    with transaction.atomic(using=using), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"LOCK TABLE {index} IN SHARE MODE")
        cursor.execute(f"DELETE FROM {count}")
        cursor.execute(f"INSERT INTO {count} (slot, total) SELECT 0, COUNT(*) FROM {index}")
        slots = SLOTS if connection.vendor == "postgresql" else 1
        for slot in range(1, slots):
            cursor.execute(f"INSERT INTO {count} (slot, total) VALUES (%s, 0)", [slot])


def maintained(using: str) -> bool:
    """Whether this database keeps the count (its triggers exist and it has its rows)."""
    connection = connections[using]
    if connection.vendor not in VENDORS:
        return False
    _, count = _tables(connection)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {count}")
        (rows,) = cursor.fetchone()
    return bool(rows)


def live(now: datetime, using: str) -> int | None:
    """Live index rows: the kept total less expired rows not pruned yet; one statement.

    ``None`` when the count is not kept here, or when too many expired rows wait for
    ``prune`` to count them cheaply.
    """
    connection = connections[using]
    if connection.vendor not in VENDORS:
        return None
    from sessions_panel.models import SessionRecord

    index, count = _tables(connection)
    field = SessionRecord._meta.get_field("expiry")
    expiry = connection.ops.quote_name(str(field.column))
    sql = (
        f"SELECT (SELECT SUM(total) FROM {count}), (SELECT COUNT(*) FROM {count}), "
        f"(SELECT COUNT(*) FROM (SELECT 1 FROM {index} WHERE {expiry} <= %s "
        f"LIMIT {EXPIRED_CAP + 1}) expired), (SELECT COUNT(*) FROM {_sweeps(connection)})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [field.get_db_prep_value(now, connection)])
        total, slots, expired, sweeping = cursor.fetchone()
    if not slots or total is None or expired > EXPIRED_CAP or sweeping:
        # While a Kill All's clean-up runs, the total still holds the rows it ended.
        return None
    return max(0, int(total) - int(expired))
