"""The address history ("New IP"), written by the database with the index row.

A request whose IP changed writes the index row (the new address, at once: a change
of client is worth seeing) and the user's address history. As two statements that is
two writes, each taking the write lock (SQLite) or a round trip and a commit
(PostgreSQL), on the one request of a session that is already not the cheap one. A
trigger on the index table adds the history entry in the statement that changes the
row's address, so the request pays for one write.

Only a change of address: a sign-in is compared with the history (the new sign-in
notice) before its session is saved, and that save writes the history itself
(``index_writer.upsert``). On a vendor without these triggers the index writer writes
it itself on a change too (:func:`kept_by_database`).
"""

from __future__ import annotations

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper

from sessions_panel.tracking import triggers

VENDORS = ("sqlite", "postgresql")

_NAME = "sessions_panel_seen_address"


def kept_by_database(using: str | None = None) -> bool:
    from sessions_panel.models import SessionRecord

    return connections[using or router.db_for_write(SessionRecord)].vendor in VENDORS


def _names(connection: BaseDatabaseWrapper) -> dict[str, str]:
    from sessions_panel.models import SeenAddress, SessionRecord

    qn = connection.ops.quote_name

    def column(model: type[SeenAddress] | type[SessionRecord], name: str) -> str:
        return qn(str(model._meta.get_field(name).column))  # type: ignore[union-attr]

    return {
        "index": qn(SessionRecord._meta.db_table),
        "history": qn(SeenAddress._meta.db_table),
        "user": column(SessionRecord, "user"),
        "ip": column(SessionRecord, "ip"),
        "seen": column(SessionRecord, "last_seen"),
        "h_user": column(SeenAddress, "user"),
        "h_ip": column(SeenAddress, "ip"),
        "h_first": column(SeenAddress, "first_seen"),
        "h_last": column(SeenAddress, "last_seen"),
    }


def _upsert(names: dict[str, str]) -> str:
    return (
        f"INSERT INTO {names['history']} ({names['h_user']}, {names['h_ip']}, "
        f"{names['h_first']}, {names['h_last']}) VALUES (NEW.{names['user']}, "
        f"NEW.{names['ip']}, NEW.{names['seen']}, NEW.{names['seen']}) "
        f"ON CONFLICT ({names['h_user']}, {names['h_ip']}) "
        f"DO UPDATE SET {names['h_last']} = excluded.{names['h_last']}"
    )


def install_sql(connection: BaseDatabaseWrapper) -> list[str]:
    names = _names(connection)
    user, ip = names["user"], names["ip"]
    when = (
        f"NEW.{user} IS NOT NULL AND NEW.{ip} IS NOT NULL "
        f"AND (OLD.{ip} IS NULL OR OLD.{ip} <> NEW.{ip})"
    )
    if connection.vendor == "sqlite":
        return [
            f"CREATE TRIGGER {_NAME}_update AFTER UPDATE OF {ip} ON {names['index']} "
            f"WHEN {when} BEGIN {_upsert(names)}; END",
        ]
    if connection.vendor != "postgresql":
        return []
    return [
        f"CREATE OR REPLACE FUNCTION {_NAME}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN {_upsert(names)}; RETURN NULL; END $$",
        f"CREATE TRIGGER {_NAME}_update AFTER UPDATE OF {ip} ON {names['index']} "
        f"FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION {_NAME}()",
    ]


def uninstall_sql(connection: BaseDatabaseWrapper) -> list[str]:
    names = _names(connection)
    if connection.vendor == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {_NAME}_update"]
    if connection.vendor != "postgresql":
        return []
    return [
        f"DROP TRIGGER IF EXISTS {_NAME}_update ON {names['index']}",
        f"DROP FUNCTION IF EXISTS {_NAME}()",
    ]


def install(using: str) -> None:
    triggers.execute(using, install_sql)


def uninstall(using: str) -> None:
    triggers.execute(using, uninstall_sql)
