"""Kill All's clean-up in one short statement, where the store allows it: keep what
survives, truncate the rest.

After Kill All, nearly every stored session and index row is one the epoch refuses.
Deleting them in batches costs a write per row in each of the index's B-trees (about
27,000 sessions/s on PostgreSQL, 3,000/s on SQLite). PostgreSQL's ``TRUNCATE`` drops a
table's files instead, whatever their size. So, on PostgreSQL, :func:`run`:

1. evicts the ended sessions from the session cache (``cache`` and ``cached_db``), in
   batches read from the index, holding no lock (each is refused on load meanwhile);
2. then, in one transaction that holds the index table and the store's table
   exclusively (waiting at most :data:`LOCK_WAIT` for them, or giving up):
   copies the rows that survive (issued at or after the epoch: the admin's own
   session, logins since), truncates both tables, and writes the copies back.

That the survivors are exactly the index rows issued since the epoch, and the stored
sessions with such a row, holds because a tracked engine writes a session and its index
row in one transaction (:meth:`~sessions_panel.backends.tracked.TrackedSessionMixin.
_store_and_index`): under the lock, a stored session without its row is one the epoch
refuses anyway (made before the panel, or outside a tracked engine).

Where it does not apply, :func:`run` answers ``None`` and the batches do the work:

- SQLite: truncating frees every page one by one, with the write lock held: 0.72 s at
  1,000,000 sessions (12 s with Debian's ``secure_delete``), longer than a batch may
  hold it;
- the ``file`` and ``signed_cookies`` engines, a store table in another database than
  the index, or a store this database user may not truncate, or one another table
  references (PostgreSQL refuses: the batches then delete what the references allow).

``TRUNCATE`` is not MVCC-safe: a transaction at ``REPEATABLE READ`` or stricter that read
these tables before it committed sees them empty afterwards. Request transactions in
``READ COMMITTED`` (Django's default) are not affected.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import DatabaseError, connections, transaction

from sessions_panel.models import IndexCount, SessionRecord
from sessions_panel.termination.guard import primary, store_class

logger = logging.getLogger("sessions_panel")

#: How long the clean-up waits for the tables (a long transaction reading them, say);
#: past it, it gives up and the batches go on. Writers queue behind a waiting lock.
LOCK_WAIT = "100ms"
#: Ended sessions evicted from the session cache per round trip.
EVICT_BATCH = 5_000

#: The last run's seconds: evicting from the cache, and truncating (locks held).
timings: dict[str, float] = {}

#: How far each epoch's eviction got, in this process (by index primary key): a run
#: cut short by its time limit goes on from there.
_evicted_up_to: dict[float, int] = {}


def _store_table(store: Any) -> Any:
    """The store's model when it is a table in the index's database; ``None`` when the
    store is no table (cache, files, cookies); ``False`` when it is a table in another
    database (no one transaction can hold both)."""
    database = getattr(store, "store_database", None)
    using = database() if database is not None else None
    if using is None:
        return None
    return store.get_model_class() if using == primary() else False


def applies() -> bool:
    """Whether Kill All's clean-up can truncate here (see the module's docstring)."""
    from sessions_panel.backends.tracked import TrackedSessionMixin

    store = store_class()
    if connections[primary()].vendor != "postgresql":
        return False
    if not issubclass(store, TrackedSessionMixin):
        return False
    table = _store_table(store)
    if table is False:
        return False  # a store table in another database: no one transaction for both
    return table is not None or getattr(store, "cache_key_prefix", None) is not None


def _evict(prefix: str, epoch: float, deadline: float | None) -> bool:
    """Delete the ended sessions' cache entries; ``False`` if the time ran out first.

    One read of the index, streamed (a server-side cursor inside a transaction: in
    autocommit it would be computed whole before the first row), in primary key order;
    each batch is deleted from the cache by a second thread while the next is read. A
    query per batch planned and sorted the ended rows again each time: 15 s at 1M."""
    from sessions_panel.termination.sweep import ended_rows

    cache = caches[settings.SESSION_CACHE_ALIAS]
    using = primary()
    rows = (
        ended_rows(epoch)
        .filter(pk__gt=_evicted_up_to.get(epoch, 0))
        .order_by("pk")
        .values_list("pk", "session_key")
    )
    pending: Future[None] | None = None
    with ThreadPoolExecutor(max_workers=1) as deleter, transaction.atomic(using=using):
        for batch in _batches(rows.iterator(chunk_size=EVICT_BATCH)):
            if pending is not None:
                pending.result()  # one batch in flight at most; its errors surface here
            pending = deleter.submit(_delete, cache, [prefix + key for _, key in batch])
            if deadline is not None and time.monotonic() > deadline:
                pending.result()
                _evicted_up_to[epoch] = batch[-1][0]
                return False
        if pending is not None:
            pending.result()
    _evicted_up_to.pop(epoch, None)
    return True


def _batches(rows: Iterator[tuple[int, str]]) -> Iterator[list[tuple[int, str]]]:
    batch: list[tuple[int, str]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == EVICT_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _delete(cache: BaseCache, keys: list[str]) -> None:
    """``cache.delete_many(keys)``; on Django's Redis cache without checking each key
    for memcached's rules, which took two thirds of the time (these keys are the
    session engine's own, checked when they were written)."""
    if isinstance(cache, RedisCache):
        cache._cache.delete_many([cache.make_key(key) for key in keys])
    else:
        cache.delete_many(keys)


def run(epoch: float, deadline: float | None = None) -> int | None:
    """Clean up everything issued before ``epoch`` by truncation; how many sessions
    that removed, ``-1`` if the time ran out before (call again), or ``None`` where it
    does not apply or could not run (the caller deletes in batches instead)."""
    from sessions_panel.termination.sweep import ended_rows

    if not applies():
        return None
    if not ended_rows(epoch).exists():
        return 0  # another process's clean-up got there first
    store = store_class()
    prefix = getattr(store, "cache_key_prefix", None)
    started = time.monotonic()
    if prefix is not None and not _evict(prefix, epoch, deadline):
        return -1
    evicted = time.monotonic()
    if deadline is not None and evicted > deadline:
        return -1
    try:
        count = _truncate(epoch, _store_table(store))
    except DatabaseError:
        logger.warning(
            "Kill All's clean-up could not truncate; it deletes in batches instead",
            exc_info=True,
        )
        return None
    done = time.monotonic()
    logger.info(
        "Kill All's clean-up removed %d sessions: cache evicted in %.1f s, "
        "tables truncated in %.0f ms",
        count,
        evicted - started,
        (done - evicted) * 1000,
    )
    timings.update(evict=evicted - started, truncate=done - evicted)
    return count


def _truncate(epoch: float, table: Any) -> int:
    using = primary()
    connection = connections[using]
    qn = connection.ops.quote_name
    index = qn(SessionRecord._meta.db_table)
    count = qn(IndexCount._meta.db_table)
    issued = qn(str(SessionRecord._meta.get_field("issued").column))
    indexed_key = qn(str(SessionRecord._meta.get_field("session_key").column))
    tables = [index]
    if table is not None:
        store = qn(table._meta.db_table)
        stored_key = qn(table._meta.get_field("session_key").column)
        tables.append(store)
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        (previous,) = cursor.fetchone()
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'")
        cursor.execute(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE")
        cursor.execute(
            f"CREATE TEMPORARY TABLE sessions_panel_kept_rows AS "
            f"SELECT * FROM {index} WHERE {issued} >= %s",
            [epoch],
        )
        if table is not None:
            # The keys as a list, not a join: the planner knows nothing of the new
            # temporary table, and a hash join read the whole store (~1 s at 1M).
            cursor.execute(f"SELECT {indexed_key} FROM sessions_panel_kept_rows")
            kept_keys = [key for (key,) in cursor.fetchall()]
            cursor.execute(
                f"CREATE TEMPORARY TABLE sessions_panel_kept_sessions AS "
                f"SELECT * FROM {store} WHERE {stored_key} = ANY(%s)",
                [kept_keys],
            )
        before = _indexed(cursor, index, count)
        cursor.execute(f"TRUNCATE {', '.join(tables)}")
        cursor.execute(f"INSERT INTO {index} SELECT * FROM sessions_panel_kept_rows")
        kept = cursor.rowcount
        cursor.execute("DROP TABLE sessions_panel_kept_rows")
        if table is not None:
            cursor.execute(f"INSERT INTO {store} SELECT * FROM sessions_panel_kept_sessions")
            cursor.execute("DROP TABLE sessions_panel_kept_sessions")
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])
    return max(0, before - int(kept))


def _indexed(cursor: Any, index: str, count: str) -> int:
    """The index's rows: the triggers' kept total, else a count (under the lock)."""
    cursor.execute(f"SELECT SUM(total) FROM {count}")
    (total,) = cursor.fetchone()
    if total is None:
        cursor.execute(f"SELECT COUNT(*) FROM {index}")
        (total,) = cursor.fetchone()
    return int(total)
