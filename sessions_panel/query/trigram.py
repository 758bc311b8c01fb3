"""A trigram index over :class:`UserSearchText`: substring search without a table scan.

``LIKE '%x%'`` on four columns of the user table scans all of it (55–100 ms at 200,000
users on SQLite, for a search that finds nothing as much as for one that finds
thousands). A trigram index answers the same question from the index alone:

- SQLite: an FTS5 table with the ``trigram`` tokenizer (SQLite ≥ 3.34), mirrored from
  the panel's table by triggers, queried with a phrase (exact for trigrams: consecutive
  positions, no re-check of the text);
- PostgreSQL: a ``pg_trgm`` GIN index, which serves ``LIKE '%x%'``. ``CREATE EXTENSION``
  may need privileges the site's role lacks: then there is no index.

Either serves only text of at least three characters (:func:`serves`); several such
words ("alice martin") are looked up together, each a substring (FTS5 phrases side by
side, or one ``LIKE`` each). Where there is
no index (another database, no FTS5 or ``pg_trgm``: :func:`usable`), the search scans
the user table as before (:mod:`sessions_panel.query.usermatch`): slower, never wrong.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from django.db import DatabaseError, connections, models, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.expressions import RawSQL

from sessions_panel.models import UserSearchText

logger = logging.getLogger(__name__)

#: Trigrams: shorter text has none, and the index would have to read all of it.
MIN_LENGTH = 3
#: Seconds a "is the index there?" answer is kept (it changes only on a migration).
CHECK_TTL = 60.0

TABLE = UserSearchText._meta.db_table
FTS_TABLE = f"{TABLE}_fts"
TRIGGERS = (f"{TABLE}_ai", f"{TABLE}_ad", f"{TABLE}_au")
PG_INDEX = "sessions_pa_usertext_trgm"

_checked: dict[str, tuple[float, bool]] = {}


def _sqlite_create(connection: BaseDatabaseWrapper) -> list[str]:
    q = connection.ops.quote_name
    table, fts = q(TABLE), q(FTS_TABLE)
    insert = f"INSERT INTO {fts}(rowid, text) VALUES (new.id, new.text);"
    delete = f"DELETE FROM {fts} WHERE rowid = old.id;"
    return [
        # detail=full (the default) keeps positions: a phrase of trigrams is then an
        # exact substring match, answered without reading any text back.
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5(text, tokenize='trigram')",
        f"DELETE FROM {fts}",
        f"INSERT INTO {fts}(rowid, text) SELECT id, text FROM {table}",
        f"CREATE TRIGGER IF NOT EXISTS {q(TRIGGERS[0])} AFTER INSERT ON {table} BEGIN {insert} END",
        f"CREATE TRIGGER IF NOT EXISTS {q(TRIGGERS[1])} AFTER DELETE ON {table} BEGIN {delete} END",
        f"CREATE TRIGGER IF NOT EXISTS {q(TRIGGERS[2])} AFTER UPDATE ON {table} "
        f"BEGIN {delete} {insert} END",
    ]


def _postgresql_create(connection: BaseDatabaseWrapper) -> list[str]:
    q = connection.ops.quote_name
    return [
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        f"CREATE INDEX IF NOT EXISTS {q(PG_INDEX)} ON {q(TABLE)} USING gin (text gin_trgm_ops)",
    ]


def create(connection: BaseDatabaseWrapper) -> bool:
    """Create the index (idempotent); ``False`` where this database cannot have one.

    Runs in a savepoint: a refusal (no FTS5, no privilege for ``pg_trgm``) leaves the
    caller's transaction, e.g. a migration's, usable.
    """
    if connection.vendor == "sqlite":
        statements = _sqlite_create(connection)
    elif connection.vendor == "postgresql":
        statements = _postgresql_create(connection)
    else:
        return False
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    except DatabaseError as error:
        logger.warning(
            "no trigram index for the user search (%s); searching users scans the "
            "user table instead",
            error,
        )
        return False
    finally:
        _checked.pop(connection.alias, None)
    return True


def drop(connection: BaseDatabaseWrapper) -> None:
    q = connection.ops.quote_name
    if connection.vendor == "sqlite":
        statements = [f"DROP TRIGGER IF EXISTS {q(name)}" for name in TRIGGERS]
        statements.append(f"DROP TABLE IF EXISTS {q(FTS_TABLE)}")
    elif connection.vendor == "postgresql":
        statements = [f"DROP INDEX IF EXISTS {q(PG_INDEX)}"]
    else:
        return
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    _checked.pop(connection.alias, None)


def _exists(connection: BaseDatabaseWrapper) -> bool:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            names = [FTS_TABLE, *TRIGGERS]
            marks = ", ".join(["%s"] * len(names))
            cursor.execute(f"SELECT COUNT(*) FROM sqlite_master WHERE name IN ({marks})", names)
            row = cursor.fetchone()
            return bool(row) and row[0] == len(names)  # the triggers keep it true
        if connection.vendor == "postgresql":
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [PG_INDEX])
            row = cursor.fetchone()
            return bool(row and row[0])
    return False


def available(alias: str) -> bool:
    """Whether the index is there (checked at most once a minute per database)."""
    now = time.monotonic()
    known = _checked.get(alias)
    if known is not None and now - known[0] < CHECK_TTL:
        return known[1]
    try:
        found = _exists(connections[alias])
    except DatabaseError:
        found = False
    _checked[alias] = (now, found)
    return found


def serves(needle: str) -> bool:
    """Text the index can answer: three characters or more, no control characters
    (the fields are joined by a newline: text with one must not match across them)."""
    return len(needle) >= MIN_LENGTH and not any(ord(c) < 32 for c in needle)


def usable() -> bool:
    """Whether the index is there on the database of :class:`UserSearchText`."""
    return available(router.db_for_read(UserSearchText))


def _phrase(needle: str) -> str:
    """``needle`` as an FTS5 phrase: quoted text is literal, only its quote doubles."""
    return '"' + needle.replace('"', '""') + '"'


def _terms(needle: str | Sequence[str]) -> list[str]:
    return [needle] if isinstance(needle, str) else list(needle)


def _match(needle: str | Sequence[str]) -> str:
    """An FTS5 query: each term a phrase; phrases side by side must all match (AND)."""
    return " ".join(_phrase(term) for term in _terms(needle))


def _fts_rowids(alias: str, limit: int | None) -> str:
    fts = connections[alias].ops.quote_name(FTS_TABLE)
    # LIMIT inside: an IN (subquery) is computed in full before the outer LIMIT applies.
    return f"SELECT rowid FROM {fts} WHERE {fts} MATCH %s" + (" LIMIT %s" if limit else "")


def user_ids(needle: str | Sequence[str], limit: int | None = None) -> models.QuerySet[Any]:
    """Primary keys of the users whose search text contains ``needle`` (lower-cased;
    several terms: each of them), at most ``limit`` of them. Only where :func:`usable`
    and :func:`serves` (every term) say so."""
    alias = router.db_for_read(UserSearchText)
    texts = UserSearchText.objects.using(alias)
    if connections[alias].vendor == "sqlite":
        params: list[Any] = [_match(needle)] + ([limit] if limit else [])
        texts = texts.filter(pk__in=RawSQL(_fts_rowids(alias, limit), params))
        return texts.values_list("user_id", flat=True)
    for term in _terms(needle):
        texts = texts.filter(text__contains=term)  # escapes %, _ and \
    found = texts.values_list("user_id", flat=True)
    return found[:limit] if limit else found


def count(needle: str | Sequence[str], bound: int) -> int:
    """How many users :func:`user_ids` finds, counted up to ``bound`` (index only)."""
    alias = router.db_for_read(UserSearchText)
    if connections[alias].vendor == "sqlite":
        with connections[alias].cursor() as cursor:
            sql = _fts_rowids(alias, bound)
            cursor.execute(f"SELECT COUNT(*) FROM ({sql})", [_match(needle), bound])
            row = cursor.fetchone()
        return int(row[0]) if row else 0
    return int(user_ids(needle, bound).count())
