"""The user agent a session started with, kept only once it differs from the current one.

"Client changed" compares a session's IP and user agent with what it started with. The
user agent is ~110 bytes and, on nineteen sessions in twenty, never changes: stored
twice on every index row it cost ~110 MB at 1,000,000 sessions, an eighth of the
panel's disk. So ``initial_user_agent`` is NULL while it would repeat ``user_agent``,
and a trigger fills it in, in the statement that first changes ``user_agent``, with
the value being replaced; the writer never has to read the row first.

On a vendor without these triggers the writer stores it on every row, as before
(:func:`kept_by_database`); either way ``SessionRecord.started_with_user_agent`` reads it.
"""

from __future__ import annotations

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper

from sessions_panel.tracking import address_history, triggers

_NAME = "sessions_panel_first_user_agent"


def kept_by_database(using: str | None = None) -> bool:
    from sessions_panel.models import SessionRecord

    vendor = connections[using or router.db_for_write(SessionRecord)].vendor
    return vendor in address_history.VENDORS


def install_sql(connection: BaseDatabaseWrapper) -> list[str]:
    from sessions_panel.models import SessionRecord

    qn = connection.ops.quote_name
    table = qn(SessionRecord._meta.db_table)
    agent = qn(str(SessionRecord._meta.get_field("user_agent").column))
    first = qn(str(SessionRecord._meta.get_field("initial_user_agent").column))
    pk = qn(str(SessionRecord._meta.pk.column))
    when = f"OLD.{agent} <> NEW.{agent} AND NEW.{first} IS NULL AND OLD.{first} IS NULL"
    if connection.vendor == "sqlite":
        return [
            f"CREATE TRIGGER {_NAME} AFTER UPDATE OF {agent} ON {table} WHEN {when} "
            f"BEGIN UPDATE {table} SET {first} = OLD.{agent} WHERE {pk} = NEW.{pk}; END",
        ]
    if connection.vendor != "postgresql":
        return []
    return [
        f"CREATE OR REPLACE FUNCTION {_NAME}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN NEW.{first} := OLD.{agent}; RETURN NEW; END $$",
        f"CREATE TRIGGER {_NAME} BEFORE UPDATE OF {agent} ON {table} "
        f"FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION {_NAME}()",
    ]


def uninstall_sql(connection: BaseDatabaseWrapper) -> list[str]:
    from sessions_panel.models import SessionRecord

    table = connection.ops.quote_name(SessionRecord._meta.db_table)
    if connection.vendor == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {_NAME}"]
    if connection.vendor != "postgresql":
        return []
    return [f"DROP TRIGGER IF EXISTS {_NAME} ON {table}", f"DROP FUNCTION IF EXISTS {_NAME}()"]


def install(using: str) -> None:
    triggers.execute(using, install_sql)


def uninstall(using: str) -> None:
    triggers.execute(using, uninstall_sql)
