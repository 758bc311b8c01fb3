"""django-qsessions and django-user-sessions: their own admin, seeded with ours' data.

Neither ships a page of its own for staff; what they offer is a ``ModelAdmin`` over
their session model, so that is what is measured: the changelist (``?q=`` search,
``?p=`` pages, Django's paginator count), the delete confirmation POST for one session
(followed by the changelist GET the redirect leads to), and the "Delete selected"
action over every session for Kill All.

Seeding copies ours' freshly seeded database (``bench/seed.py``'s output) row for row:
the same users (same ids, names and password hashes), the same session keys, expiry
dates, owners, addresses, user agents and times, the same session data. Each peer's
own columns are filled as its engine would fill them: django-qsessions also keeps the
address and user agent inside the session data (so those rows are re-encoded, as its
``save()`` would have), and on PostgreSQL + Redis its ``cached_db`` engine gets the
cache entries a live site would hold. Rows go in with ``executemany`` (SQLite) or
``COPY`` (PostgreSQL) in one transaction, with every index in place.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from importlib import import_module
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.core.management.color import no_style
from django.db import connection, transaction

from bench.peers.settings_base import WORK_DIR
from bench.peers.system import ADMIN_USERNAME, DEEP_PAGE, System

BATCH = 20_000
USER_COLUMNS = (
    "id", "password", "last_login", "is_superuser", "username", "first_name", "last_name",
    "email", "is_staff", "is_active", "date_joined",
)  # fmt: skip
SOURCE_SESSIONS = (
    "SELECT s.session_key, s.session_data, s.expire_date, r.user_id, r.ip, r.user_agent, "
    "r.created, r.last_seen FROM django_session s "
    "JOIN sessions_panel_sessionrecord r ON r.session_key = s.session_key ORDER BY r.id"
)


def source_batches(sql: str, params: Sequence[Any] = ()) -> Iterator[list[tuple[Any, ...]]]:
    """Rows of ours' database (seeded just before), in batches, read-only."""
    if connection.vendor == "sqlite":
        path = WORK_DIR / "ours.sqlite3"
        lite = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            cursor = lite.execute(sql.replace("%s", "?"), params)
            while batch := cursor.fetchmany(BATCH):
                yield batch
        finally:
            lite.close()
        return
    import psycopg

    own = settings.DATABASES["default"]
    with (
        psycopg.connect(
            dbname="peers_ours",
            user=own["USER"],
            password=own["PASSWORD"] or None,
            host=own["HOST"],
            port=own["PORT"],
        ) as pg,
        pg.cursor(name="peers_source") as cursor,
    ):
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(BATCH):
            yield batch


def write(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Bulk rows into one of this system's tables: ``executemany`` or ``COPY``."""
    quote_name = connection.ops.quote_name
    names = ", ".join(quote_name(c) for c in columns)
    raw = connection.connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {quote_name(table)} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in columns)
            cursor.executemany(f"INSERT INTO {quote_name(table)} ({names}) VALUES ({marks})", rows)
    finally:
        cursor.close()


def as_datetime(value: Any) -> datetime:
    """A source timestamp (text on SQLite, aware on PostgreSQL) as an aware datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


def plain_ip(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """The address as text: psycopg reads PostgreSQL's ``inet`` as an ``ipaddress`` object,
    which the session data (JSON) cannot hold."""
    ip = row[4]
    return row if ip is None or isinstance(ip, str) else (*row[:4], str(ip), *row[5:])


class AdminPeer(System):
    """A peer measured through its ``ModelAdmin`` on the stock admin site."""

    app_label = ""
    #: Its session table's columns, in the order :meth:`session_row` gives them.
    columns: tuple[str, ...] = ()

    @property
    def session_table_prefixes(self) -> tuple[str, ...]:  # type: ignore[override]
        return (f"{self.app_label}_session",)

    def session_model(self) -> Any:
        from django.apps import apps

        return apps.get_model(self.app_label, "Session")

    def page_url(self, query: str = "") -> str:
        url = f"/admin/{self.app_label}/session/"
        return f"{url}?{query}" if query else url

    def rows_in(self, body: bytes) -> int:
        return body.count(b'name="_selected_action"')

    def session_row(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        raise NotImplementedError

    # -- seeding --------------------------------------------------------------------------

    def seed(self) -> dict[str, Any]:
        started = time.perf_counter()
        User = get_user_model()
        table = self.session_model()._meta.db_table
        users = sessions = 0
        with transaction.atomic():
            t = time.perf_counter()
            user_sql = (
                f"SELECT {', '.join(USER_COLUMNS)} FROM auth_user WHERE username <> %s ORDER BY id"
            )
            for batch in source_batches(user_sql, [ADMIN_USERNAME]):
                write(User._meta.db_table, USER_COLUMNS, batch)
                users += len(batch)
            self.log(f"  {users:,} users copied in {time.perf_counter() - t:.1f} s")
            t = time.perf_counter()
            for batch in source_batches(SOURCE_SESSIONS):
                rows = [self.session_row(plain_ip(row)) for row in batch]
                write(table, self.columns, rows)
                self.after_batch()
                sessions += len(batch)
                rate = sessions / (time.perf_counter() - t)
                self.log(f"  {sessions:,} sessions ({rate:,.0f}/s)")
            with connection.cursor() as cursor:
                for sql in connection.ops.sequence_reset_sql(no_style(), [User]):
                    cursor.execute(sql)
        if connection.vendor == "postgresql":
            t = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
            self.log(f"  VACUUM ANALYZE in {time.perf_counter() - t:.1f} s")
        return {
            "sessions": sessions,
            "users": users,
            "seed_seconds": time.perf_counter() - started,
        }

    def after_batch(self) -> None:
        """What the engine keeps besides the table (qsessions: the cache entries)."""

    # -- the admin's pages -----------------------------------------------------------------

    def prepare(self) -> None:
        key = self.login()
        self.web = browser = self.browser(key)
        self.calls["page1"] = self.get_ok(browser, self.page_url())
        self.calls["deep"] = self.get_ok(browser, self.page_url(f"p={DEEP_PAGE}"))
        for scenario, term in self.searches().items():
            self.calls[scenario] = self.get_ok(browser, self.page_url(urlencode({"q": term})))
        page = browser.get(self.page_url())
        if page.status != 200 or self.rows_in(page.body) != min(50, self.n):
            raise RuntimeError(
                f"{self.label}: page 1 answered {page.status} with {self.rows_in(page.body)} rows"
            )
        victims = iter(self.victim_keys())

        def kill_one() -> None:
            """The delete confirmation's POST, then the changelist: where the admin goes
            to see the list again (django-qsessions redirects to the admin's index, as
            its admin has no change permission; the changelist is one more click)."""
            victim = next(victims)
            response = browser.post(
                f"{self.page_url()}{quote(victim)}/delete/",
                {"csrfmiddlewaretoken": browser.csrf_token, "post": "yes"},
            )
            if response.status != 302:
                raise RuntimeError(f"{self.label}: delete answered {response.status}")
            after = browser.get(self.page_url())
            if after.status != 200 or not self.rows_in(after.body):
                raise RuntimeError(f"{self.label}: changelist after delete: {after.status}")
            self.killed.append(victim)

        self.calls["kill_one"] = kill_one

    def kill_all(self, mode: str = "admin") -> dict[str, Any]:
        """``admin``: the "Delete selected sessions" action over every session ("select
        all N"), confirmed: one POST, which collects, logs and deletes every row (the
        admin's own session goes too: the peers keep none). ``queryset``: what a
        developer runs in a shell instead, ``Session.objects.all().delete()`` (for
        django-qsessions its queryset also deletes each cache entry)."""
        before = self.live_sessions()
        t = time.perf_counter()
        if mode == "queryset":
            self.session_model().objects.all().delete()
            how = f"`{self.app_label}.models.Session.objects.all().delete()` in the process"
        else:
            data = {
                "csrfmiddlewaretoken": self.web.csrf_token,
                "action": "delete_selected",
                "select_across": "1",
                "index": "0",
                "_selected_action": self.victim_keys(1),
                "post": "yes",
            }
            response = self.web.post(self.page_url(), data)
            if response.status != 302:
                raise RuntimeError(f"{self.label}: delete selected answered {response.status}")
            how = (
                'the changelist\'s confirmed "Delete selected" POST over all sessions (Django '
                "collects and logs every one, then deletes)"
            )
        seconds = time.perf_counter() - t
        left = self.session_model().objects.count()
        return {
            "ms": seconds * 1000,
            "note": f"{self.label}: {how}; {before:,} live sessions before, {left:,} rows left",
        }


class QSessions(AdminPeer):
    label = "django-qsessions"
    app_label = "qsessions"
    columns = (
        "session_key", "session_data", "expire_date", "user_id", "user_agent", "created_at",
        "updated_at", "ip",
    )  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from qsessions import IP_SESSION_KEY, USER_AGENT_SESSION_KEY

        self.keys = (IP_SESSION_KEY, USER_AGENT_SESSION_KEY)
        self.store = import_module(settings.SESSION_ENGINE).SessionStore()
        self.decoded: dict[str, dict[str, Any]] = {}
        self.cache_entries: list[tuple[str, dict[str, Any], int]] = []
        self.cached = hasattr(self.store, "cache_key_prefix")
        self.now = time.time()

    def session_row(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        """Its ``save()`` writes the address and user agent into the data too."""
        key, data, expire, user_id, ip, agent, created, last_seen = row
        agent = agent[:300] if agent else agent
        payload = self.decoded.get(data)
        if payload is None:
            payload = self.decoded[data] = self.store.decode(data)
        payload = {**payload, self.keys[0]: ip, self.keys[1]: agent}
        if self.cached:
            ttl = int(as_datetime(expire).timestamp() - self.now)
            self.cache_entries.append((key, payload, ttl))
        return (key, self.store.encode(payload), expire, user_id, agent, created, last_seen, ip)

    def after_batch(self) -> None:
        """The ``cached_db`` engine's entries of the batch, one Redis pipeline per 10,000."""
        if not self.cache_entries:
            return
        cache: Any = caches[settings.SESSION_CACHE_ALIAS]
        client = cache._cache.get_client(None, write=True)
        dumps = cache._cache._serializer.dumps
        prefix = self.store.cache_key_prefix
        for start in range(0, len(self.cache_entries), 10_000):
            pipe = client.pipeline(transaction=False)
            for key, payload, ttl in self.cache_entries[start : start + 10_000]:
                pipe.set(cache.make_and_validate_key(prefix + key), dumps(payload), ex=ttl)
            pipe.execute()
        self.cache_entries = []


class UserSessions(AdminPeer):
    label = "django-user-sessions"
    app_label = "user_sessions"
    columns = (
        "session_key", "session_data", "expire_date", "user_id", "user_agent",
        "last_activity", "ip",
    )  # fmt: skip

    def session_row(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        """The same data; its columns cut the user agent at 200 characters."""
        key, data, expire, user_id, ip, agent, created, last_seen = row
        return (key, data, expire, user_id, agent[:200] if agent else agent, last_seen, ip)
