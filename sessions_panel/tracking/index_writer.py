"""Keeping the session index exact: the writes the tracked engines make.

Each function takes what the engine knows at that moment (key, decoded data, expiry,
request metadata) and turns it into one statement on :class:`SessionRecord`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import SESSION_KEY, get_user_model
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from sessions_panel.models import SeenAddress, SessionRecord, short_id_for, sweep_epoch
from sessions_panel.tracking import (
    address_history,
    clock,
    first_user_agent,
    index_count,
    revocation,
)
from sessions_panel.tracking.client import ClientInfo, RequestClient, resolved
from sessions_panel.tracking.clock import DatabaseNow

METADATA_FIELDS = ("ip", "user_agent", "application")


class RecentlySeen:
    """Per-process memory of sessions whose "last seen" is known to be fresh.

    It spares the index read on most requests: within the interval this process
    already knows the row is fresh. Across processes each one writes at most once per
    interval. Bounded (least recently used entries go first). It also keeps the
    fingerprint of the client last seen (see ``client.RequestClient``), so an
    unchanged client is recognised without parsing its IP and user agent again.
    """

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._entries: OrderedDict[str, tuple[float, str | None, str, Hashable]] = OrderedDict()
        self._lock = threading.Lock()

    def fresh(self, key: str, client: ClientInfo | RequestClient | None, interval: int) -> bool:
        with self._lock:
            entry = self._entries.get(key)
        if entry is None:
            return False
        seen_at, ip, user_agent, fingerprint = entry
        if time.monotonic() - seen_at >= interval:
            return False
        if client is None:
            return True
        if not isinstance(client, RequestClient):
            return (client.ip, client.user_agent) == (ip, user_agent)
        current = client.fingerprint
        if current == fingerprint:
            return True
        if (client.ip, client.user_agent) != (ip, user_agent):
            return False
        with self._lock:  # same client, other raw headers: recognise these next time
            if self._entries.get(key) is entry:
                self._entries[key] = (seen_at, ip, user_agent, current)
        return True

    def remember(
        self, key: str, client: ClientInfo | RequestClient | None, age: float = 0.0
    ) -> None:
        ip, user_agent = (client.ip, client.user_agent) if client else (None, "")
        fingerprint = client.fingerprint if isinstance(client, RequestClient) else None
        with self._lock:
            self._entries[key] = (time.monotonic() - age, ip, user_agent, fingerprint)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def client_of(self, key: str) -> tuple[str | None, str] | None:
        """The IP and user agent this process last wrote or read for ``key`` (whatever
        its age), or ``None`` if it does not remember the row."""
        with self._lock:
            entry = self._entries.get(key)
        return None if entry is None else (entry[1], entry[2])

    def forget(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


recently_seen = RecentlySeen()


def user_id_from(data: Mapping[str, Any]) -> Any:
    """The authenticated user's primary key in session data, or ``None`` for a guest."""
    raw = data.get(SESSION_KEY)
    if raw is None:
        return None
    try:
        return get_user_model()._meta.pk.to_python(raw)
    except (ValidationError, TypeError, ValueError):
        return None


def _metadata(client: ClientInfo | None) -> dict[str, Any]:
    if client is None:
        return {}
    values: dict[str, Any] = {"ip": client.ip, "user_agent": client.user_agent}
    if client.application is not None:
        values["application"] = client.application
    return values


def upsert(
    session_key: str,
    data: Mapping[str, Any],
    expiry: datetime,
    client: ClientInfo | None,
    *,
    issued: bool = False,
) -> None:
    """Insert or refresh the row of a session the store has just saved.

    ``issued``: the store has just created this key, so the row takes the database's
    clock as the key's issue time. An existing row keeps its issue time; a row made by
    any other save gets none (a session the index lost or never saw counts as older
    than every epoch).
    """
    now = timezone.now()
    metadata = _metadata(client)
    record = SessionRecord(
        session_key=session_key,
        short_id=short_id_for(session_key),
        user_id=user_id_from(data),
        created=now,
        last_seen=now,
        expiry=expiry,
        issued=DatabaseNow() if issued else None,
        # "Last seen" by the database's clock, for IDLE_TIMEOUT (one clock decides).
        seen=DatabaseNow(),
        initial_ip=metadata.get("ip"),
        # The same as ``user_agent``: NULL says so where the database keeps it
        # (first_user_agent), the value itself elsewhere.
        initial_user_agent=(
            None if first_user_agent.kept_by_database() else metadata.get("user_agent", "")
        ),
        **metadata,
    )
    SessionRecord.objects.bulk_create(
        [record],
        update_conflicts=True,
        unique_fields=["session_key"],
        update_fields=["user", "last_seen", "seen", "expiry", *metadata],
    )
    forget_live_count()
    _note_application(record.application)
    note_address(record.user_id, record.ip)
    recently_seen.remember(session_key, client)


def note_address(user_id: Any, ip: str | None, now: datetime | None = None) -> None:
    """Add ``ip`` to the user's address history (what "New IP" compares against)."""
    if user_id is None or ip is None:
        return
    now = now or timezone.now()
    SeenAddress.objects.bulk_create(
        [SeenAddress(user_id=user_id, ip=ip, first_seen=now, last_seen=now)],
        update_conflicts=True,
        unique_fields=["user", "ip"],
        update_fields=["last_seen"],
    )


LIVE_COUNT_KEY = "sessions_panel:live-count"
#: Seconds another process's new sessions may be missing from the badge.
LIVE_COUNT_TTL = 5


def live_count(now: datetime | None = None, *, using: str | None = None) -> int:
    """The number of live sessions: the count the database keeps
    (:mod:`~sessions_panel.tracking.index_count`), exact and without a scan; where it
    is not kept, counted at most every few seconds.

    ``count(*)`` over a million live rows reads the whole expiry index (~30 ms); the
    badge refreshes every 15 s per open page. This process's own writes invalidate it.
    """
    alias = using or router.db_for_read(SessionRecord)
    kept = index_count.live(now or timezone.now(), alias)
    if kept is not None:
        return kept
    if sweep_epoch(alias) is not None:
        # A Kill All's clean-up: the survivors, found through the ``issued`` index.
        return SessionRecord.objects.db_manager(alias).live(now).count()
    cache = caches["default"]
    try:
        cached = cache.get(LIVE_COUNT_KEY)
    except Exception:
        cached = None
    if isinstance(cached, int):
        return cached
    count = SessionRecord.objects.db_manager(using).live(now).count()
    with contextlib.suppress(Exception):
        cache.set(LIVE_COUNT_KEY, count, LIVE_COUNT_TTL)
    return count


APPLICATIONS_KEY = "sessions_panel:applications"


def _note_application(name: str) -> None:
    """A new application name makes the cached list of names (for search) stale."""
    if not name:
        return
    with contextlib.suppress(Exception):
        cache = caches["default"]
        names = cache.get(APPLICATIONS_KEY)
        if isinstance(names, list) and name not in names:
            cache.delete(APPLICATIONS_KEY)


def forget_live_count() -> None:
    with contextlib.suppress(Exception):
        caches["default"].delete(LIVE_COUNT_KEY)


def remove(session_key: str) -> int:
    """Drop the row of ``session_key``; returns how many rows went (0 or 1)."""
    forget_live_count()
    recently_seen.forget(session_key)
    deleted, _ = SessionRecord.objects.filter(session_key=session_key).delete()
    return deleted


def carry_login(old_key: str, new_key: str) -> None:
    """A re-keyed session keeps its login time (``ABSOLUTE_LIFETIME`` counts from the
    login, not from the last ``cycle_key``): copied from the old key's row."""
    rows = SessionRecord.objects.using(router.db_for_write(SessionRecord))  # not a replica
    logged_in = rows.filter(session_key=old_key).values_list("logged_in", flat=True).first()
    if logged_in is not None:
        rows.filter(session_key=new_key).update(logged_in=logged_in)


def remove_many(session_keys: list[str]) -> None:
    forget_live_count()
    recently_seen.forget(*session_keys)
    SessionRecord.objects.filter(session_key__in=session_keys).delete()


def prune(now: datetime | None = None) -> int:
    """Drop index rows whose session has expired; returns how many."""
    deleted, _ = SessionRecord.objects.filter(expiry__lte=now or timezone.now()).delete()
    return deleted


_rewrite_sqls: dict[tuple[str, tuple[str, ...], str], str] = {}


def _rewrite_sql(connection: BaseDatabaseWrapper, columns: tuple[str, ...], now_sql: str) -> str:
    """The statement :func:`_write_client` runs: the client's ``columns`` and last seen
    set, and the first client too if the row never had one (indexed by a backfill or
    outside a request: the first client seen is what it started with, not a change),
    decided in SQL from the row's own values so that no read is needed first. Plain
    SQL: the ORM's ``Case`` costs twice the write."""
    qn = connection.ops.quote_name
    column = {
        name: qn(str(SessionRecord._meta.get_field(name).column))  # type: ignore[union-attr]
        for name in (
            *columns,
            "last_seen",
            "seen",
            "initial_ip",
            "initial_user_agent",
            "user_agent",
            "session_key",
        )
    }
    first_ip, first_agent, agent = (
        column["initial_ip"],
        column["initial_user_agent"],
        column["user_agent"],
    )
    no_client = (
        f"{first_ip} IS NULL AND ({first_agent} = '' OR ({first_agent} IS NULL AND {agent} = ''))"
    )
    sets = ", ".join(f"{column[name]} = %s" for name in columns)
    return (
        f"UPDATE {qn(SessionRecord._meta.db_table)} SET {column['last_seen']} = %s, "
        f"{column['seen']} = {now_sql}, {sets}, "
        f"{first_ip} = CASE WHEN {no_client} THEN %s ELSE {first_ip} END, "
        f"{first_agent} = CASE WHEN {no_client} THEN %s ELSE {first_agent} END "
        f"WHERE {column['session_key']} = %s"
    )


def _write_client(session_key: str, info: ClientInfo, now: datetime) -> int:
    """Write ``info`` and last seen on the row (one statement); returns rows written."""
    values = _metadata(info)
    connection = connections[router.db_for_write(SessionRecord)]
    now_sql, now_params = clock.sql(connection)
    field = SessionRecord._meta.get_field

    def prep(name: str, value: Any) -> Any:
        return field(name).get_db_prep_save(value, connection)  # type: ignore[union-attr]

    params = [
        prep("last_seen", now),
        *now_params,
        *(prep(name, value) for name, value in values.items()),
        prep("initial_ip", info.ip),
        prep("initial_user_agent", info.user_agent),
        session_key,
    ]
    with connection.cursor() as cursor:
        shape = (connection.vendor, tuple(values), now_sql)
        sql = _rewrite_sqls.get(shape)
        if sql is None:
            sql = _rewrite_sqls[shape] = _rewrite_sql(connection, shape[1], now_sql)
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def _rewrite_changed_client(
    session_key: str,
    data: Mapping[str, Any],
    client: ClientInfo | RequestClient | None,
    now: datetime,
) -> bool:
    """A client other than the one this process last saw for a row it knows: write the
    new client at once without reading the row first (one statement, not two; the
    case of a phone moving between networks). ``False`` when it cannot tell (a row
    this process does not remember, or the same client) or the row is gone."""
    remembered = recently_seen.client_of(session_key)
    info = resolved(client)
    if remembered is None or info is None or (info.ip, info.user_agent) == remembered:
        return False
    if not _write_client(session_key, info, now):
        recently_seen.forget(session_key)
        return False  # gone meanwhile (killed, expired): the reading path decides
    if info.ip != remembered[0] and not address_history.kept_by_database():
        note_address(user_id_from(data), info.ip, now)
    recently_seen.remember(session_key, client)
    return True


def touch(
    session_key: str,
    data: Mapping[str, Any],
    expiry: Callable[[], datetime],
    client: ClientInfo | RequestClient | None,
    interval: int,
) -> bool:
    """Note that a session was used; returns whether the index was written.

    No query when this process knows the row is fresh (:data:`recently_seen`); one
    write and no read when it knows the row and the client changed; otherwise one
    indexed read. A write only when "last seen" is older than
    ``interval`` seconds, when the client's IP or user agent changed (worth seeing at
    once), or when the session was never indexed (created before the tracked engine
    was installed). The expiry is left as stored: touching never extends a session.
    """
    if recently_seen.fresh(session_key, client, interval):
        return False
    now = timezone.now()
    if _rewrite_changed_client(session_key, data, client, now):
        return True
    row = (
        SessionRecord.objects.filter(session_key=session_key)
        .values_list("last_seen", "ip", "user_agent")
        .first()
    )
    info = resolved(client)
    if row is None:
        upsert(session_key, data, expiry(), info)
        # The row may be gone because a kill purged it while this request ran: a row
        # made now for a killed session would be listed (and counted) as alive.
        if revocation.refusal(session_key, user_id_from(data)) is not None:
            remove(session_key)
            return False
        return True
    last_seen, ip, user_agent = row
    changed = info is not None and (info.ip, info.user_agent) != (ip, user_agent)
    age = now - last_seen
    if not changed and age < timedelta(seconds=interval):
        recently_seen.remember(session_key, client, age=age.total_seconds())
        return False
    if info is not None:
        _write_client(session_key, info, now)
    else:
        SessionRecord.objects.filter(session_key=session_key).update(
            last_seen=now, seen=DatabaseNow()
        )
    if info is not None and info.ip != ip and not address_history.kept_by_database():
        # Where the database's trigger does not write it with the row, in one statement.
        note_address(user_id_from(data), info.ip, now)
    recently_seen.remember(session_key, client)
    return True
