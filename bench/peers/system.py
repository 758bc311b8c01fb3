"""What a system under test answers to the driver, and the measurements all share.

Each system (ours, django-qsessions, django-user-sessions) runs in its own process with
its own host settings; the driver (``bench/peers/run.py``) asks each in turn for one
round of one scenario, so that whatever else the machine does slows all three alike.
A subclass says how its pages are reached (:meth:`System.prepare` fills
:attr:`System.calls`), how it is seeded and what its Kill All is; timing, the middleware
ratio, bytes, writes and disk are measured here the same way for every system.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from bench.peers.settings_base import DJANGO_SESSION_MIDDLEWARE, middleware
from bench.peers.web import Browser

WRITE_SQL = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.I)
WHOAMI = "/bench/whoami/"
ADMIN_USERNAME = "bench-admin"
ADMIN_PASSWORD = "bench-admin-password-1"
#: Load-more clicks (ours) and the page number (peers) of the deep page: rows 951–1,000.
DEEP_PAGE = 20
#: What the search scenarios type; the rare username is read from the data (user N/10).
RARE_IP_PREFIX = "203.0.113."
WIDE_IP_PREFIX = "2a01:cb00:"
COMMON_NAME = "olivia"
NO_MATCH = "zqxjv"
#: Addresses for "the IP changes on every request": never the admin's, never repeated
#: within a round (1,021 is prime, so the cycle does not line up with the chunks).
MOVING_IPS = [f"100.{64 + i // 256 % 64}.{i % 256}.{1 + i % 253}" for i in range(1021)]


def timed(
    fn: Callable[[], Any],
    *,
    target: float = 0.25,
    max_calls: int = 15,
    budget: float = 4.0,
) -> dict[str, Any]:
    """One round: the median of a few calls (at least 3 while under ``budget``, more
    until ``target`` seconds for quick ones), so one stray pause does not make it."""
    times: list[float] = []
    started = time.perf_counter()
    while True:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        spent = time.perf_counter() - started
        if len(times) >= max_calls or spent >= budget:
            break
        if len(times) >= 3 and spent >= target:
            break
    return {"ms": statistics.median(times) * 1000, "calls": len(times)}


def wsgi_call(handler: Callable[..., Any], environ: dict[str, Any]) -> tuple[str, bytes]:
    """A bare WSGI call for the req/s loop: no cookie jar, no parsing."""
    status: list[str] = []
    result = handler(dict(environ), lambda s, h, e=None: status.append(s))
    try:
        body = b"".join(result)
    finally:
        result.close()
    return status[0], body


class System:
    """One system, seeded and logged in, answering for its scenarios."""

    #: The column heading in the results.
    label = ""
    #: Tables that hold its sessions (and, for ours, their index and history).
    session_table_prefixes: tuple[str, ...] = ()

    def __init__(self, n: int, log: Callable[[str], None]) -> None:
        self.n = n
        self.log = log
        self.calls: dict[str, Callable[[], None]] = {}
        self.mw: dict[str, Any] = {}
        #: The admin's browser, once :meth:`prepare` logged in.
        self.web: Browser = Browser()
        #: Every session the bench opened for the admin: never a victim.
        self.own_keys: set[str] = set()
        #: The keys the kill scenario ended, checked afterwards.
        self.killed: list[str] = []
        #: What the seeded data holds (:meth:`data_shares`), read before any kill.
        self.data: dict[str, Any] = {}

    # -- what a subclass provides ------------------------------------------------------

    def seed(self) -> dict[str, Any]:
        raise NotImplementedError

    def prepare(self) -> None:
        """Log the admin in, find the URLs, pick the victims: fill :attr:`calls`."""
        raise NotImplementedError

    def kill_all(self, mode: str = "admin") -> dict[str, Any]:
        """End every session; ``mode`` is for the peers (see ``run.py --peer-kill-all``)."""
        raise NotImplementedError

    def rows_in(self, body: bytes) -> int:
        raise NotImplementedError

    def page_url(self, query: str = "") -> str:
        raise NotImplementedError

    def session_model(self) -> Any:
        raise NotImplementedError

    # -- shared --------------------------------------------------------------------------

    def setup(self) -> None:
        """The middleware's handlers first (their logins are then known), the pages next."""
        self.prepare_middleware()
        self.prepare()
        self.data = self.data_shares()  # before any kill

    def live_sessions(self) -> int:
        model = self.session_model()
        return int(model.objects.filter(expire_date__gt=timezone.now()).count())

    def killed_refused(self) -> tuple[int, int]:
        """How many sessions the kill scenario ended are gone from the store."""
        alive = self.session_model().objects.filter(session_key__in=self.killed).count()
        return len(self.killed) - alive, len(self.killed)

    def victim_keys(self, count: int = 40) -> list[str]:
        """The same sessions in every system: the first seeded keys in key order."""
        keys = self.session_model().objects.order_by("session_key")
        found = keys.values_list("session_key", flat=True)[: count + len(self.own_keys)]
        return [k for k in found if k not in self.own_keys][:count]

    def admin(self) -> Any:
        """The superuser every system's admin pages are measured as."""
        User = get_user_model()
        user = User.objects.filter(username=ADMIN_USERNAME).first()
        if user is None:
            user = User.objects.create_superuser(ADMIN_USERNAME, "bench@example.com", None)
            user.set_password(ADMIN_PASSWORD)
            user.save(update_fields=["password"])
        return user

    def login(self, engine: str | None = None) -> str:
        """A session of the admin in ``engine`` (default: the system's own); its key."""
        with override_settings(SESSION_ENGINE=engine or settings.SESSION_ENGINE):
            client = Client()
            client.force_login(self.admin())
            key = client.cookies[settings.SESSION_COOKIE_NAME].value
        self.own_keys.add(key)
        return key

    def browser(self, session_key: str) -> Browser:
        """The admin's browser, with a CSRF cookie from a first page view."""
        browser = Browser(cookies={settings.SESSION_COOKIE_NAME: session_key})
        response = browser.get(self.page_url())
        if response.status != 200 or not browser.csrf_token:
            raise RuntimeError(f"{self.label}: page 1 answered {response.status} at login")
        return browser

    def rare_username(self) -> str:
        """The part after the dot of one seeded user's name: one to three users have it."""
        User = get_user_model()
        name = (
            User.objects.filter(pk=max(1, self.n // 10)).values_list("username", flat=True).first()
        )
        return name.split(".", 1)[-1] if name else "nobody"

    def searches(self) -> dict[str, str]:
        return {
            "search_user": COMMON_NAME,
            "search_user_rare": self.rare_username(),
            "search_none": NO_MATCH,
            "search_ip": RARE_IP_PREFIX,
            "search_ip_wide": WIDE_IP_PREFIX,
        }

    def get_ok(self, browser: Browser, url: str, *, htmx: bool = False) -> Callable[[], None]:
        environ = browser.environ("GET", url, htmx=htmx)

        def call() -> None:
            response = browser.call(environ)
            if response.status != 200:
                raise RuntimeError(f"{self.label}: GET {url} answered {response.status}")

        return call

    def time(self, scenario: str) -> dict[str, Any]:
        fn = self.calls.get(scenario)
        if fn is None:
            return {"ms": None, "calls": 0}
        if scenario == "kill_one":  # each call ends a session: a few are enough
            return timed(fn, max_calls=3)
        return timed(fn)

    # -- the middleware: requests/s with this system's tracking ÷ plain Django ------------

    def prepare_middleware(self) -> None:
        """Two handlers in this process: the system's stack, and the same stack with
        Django's own SessionMiddleware and engine (no tracking at all), each with a
        session of the admin; the trivial view must answer the admin's name on both."""
        tracked = WSGIHandler()
        plain_engine = settings.PLAIN_SESSION_ENGINE
        with override_settings(
            SESSION_ENGINE=plain_engine, MIDDLEWARE=middleware(DJANGO_SESSION_MIDDLEWARE)
        ):
            plain = WSGIHandler()
        plain_key = self.login(plain_engine)
        tracked_key = self.login()
        cookie = settings.SESSION_COOKIE_NAME
        tracked_env = Browser(cookies={cookie: tracked_key}).environ("GET", WHOAMI)
        plain_env = Browser(cookies={cookie: plain_key}).environ("GET", WHOAMI)
        for handler, environ in ((tracked, tracked_env), (plain, plain_env)):
            status, body = wsgi_call(handler, environ)
            if not status.startswith("200") or body != ADMIN_USERNAME.encode():
                raise RuntimeError(f"{self.label}: whoami answered {status} {body[:60]!r}")
        self.mw = {
            "tracked": (tracked, tracked_env),
            "plain": (plain, plain_env),
            "next_ip": 0,
            "block": 0,
        }

    def _environ(self, variant: str, kind: str) -> dict[str, Any]:
        environ = self.mw[variant][1]
        if kind == "stable":
            return environ
        index = self.mw["next_ip"]
        self.mw["next_ip"] = index + 1
        return dict(environ, REMOTE_ADDR=MOVING_IPS[index % len(MOVING_IPS)])

    def middleware_round(self, kind: str) -> dict[str, Any]:
        """One round of the req/s ratio: tracked and plain alternately, ten requests of
        one then ten of the other, so that the machine's other load hits both alike."""
        if not self.mw:
            self.prepare_middleware()
        if not self.mw["block"]:
            handler, environ = self.mw["tracked"]
            for _ in range(30):
                wsgi_call(handler, environ)
            t = time.perf_counter()
            for _ in range(20):
                wsgi_call(handler, environ)
            per_request = (time.perf_counter() - t) / 20
            self.mw["block"] = max(20, min(400, int(0.4 / per_request)) // 10 * 10)
        chunk = 10
        spent = {"tracked": 0.0, "plain": 0.0}
        for i in range(self.mw["block"] // chunk):
            order = ("tracked", "plain") if i % 2 == 0 else ("plain", "tracked")
            for variant in order:
                handler = self.mw[variant][0]
                environs = [self._environ(variant, kind) for _ in range(chunk)]
                t = time.perf_counter()
                for environ in environs:
                    wsgi_call(handler, environ)
                spent[variant] += time.perf_counter() - t
        requests = self.mw["block"] // chunk * chunk
        tracked_rps = requests / spent["tracked"]
        plain_rps = requests / spent["plain"]
        return {
            "ratio": tracked_rps / plain_rps,
            "tracked_rps": tracked_rps,
            "plain_rps": plain_rps,
            "requests": requests,
        }

    def writes_per_request(self, kind: str, requests: int = 20) -> dict[str, Any]:
        """SQL statements and writes per request on the trivial view, over 20 requests
        (a system that writes once per interval shows as a fraction)."""
        if not self.mw:
            self.prepare_middleware()
        out: dict[str, Any] = {}
        for variant in ("tracked", "plain"):
            handler = self.mw[variant][0]
            environs = [self._environ(variant, kind) for _ in range(requests)]
            with CaptureQueriesContext(connection) as queries:
                for environ in environs:
                    wsgi_call(handler, environ)
            sql = [q["sql"] for q in queries.captured_queries]
            out[variant] = {
                "queries": len(sql) / requests,
                "writes": sum(1 for q in sql if WRITE_SQL.match(q)) / requests,
            }
        return out

    # -- facts: bytes, queries, disk -----------------------------------------------------

    def facts(self) -> dict[str, Any]:
        browser = self.web
        page = browser.get(self.page_url())
        empty = browser.get(self.page_url(f"q={NO_MATCH}"))
        rows = self.rows_in(page.body)
        found = {  # that each search finds what it should, in every system
            scenario: self.rows_in(browser.get(self.page_url(urlencode({"q": term}))).body)
            for scenario, term in self.searches().items()
        }
        with CaptureQueriesContext(connection) as queries:
            self.calls["page1"]()
        return {
            "page_bytes": len(page.body),
            "page_rows": rows,
            "empty_bytes": len(empty.body),
            "row_bytes": (len(page.body) - len(empty.body)) / rows if rows else None,
            "page_queries": len(queries.captured_queries),
            "search_rows": found,
            "writes_stable": self.writes_per_request("stable"),
            "writes_moving": self.writes_per_request("moving"),
            "disk": self.disk(),
            "live_sessions": self.live_sessions(),
            "kills_refused": self.killed_refused(),
            "data": self.data,
        }

    def data_shares(self) -> dict[str, Any]:
        """How much of the data each search matches (ours reports it: it is the same
        data everywhere)."""
        return {}

    def disk(self) -> dict[str, Any]:
        """Bytes of every table holding sessions (with its indexes): SQLite's ``dbstat``
        after a WAL checkpoint, PostgreSQL's ``pg_total_relation_size``."""
        sizes: dict[str, int] = {}
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                cursor.execute(
                    "SELECT m.tbl_name, SUM(d.pgsize) FROM dbstat d "
                    "JOIN sqlite_master m ON m.name = d.name GROUP BY m.tbl_name"
                )
                every = dict(cursor.fetchall())
            else:
                cursor.execute(
                    "SELECT tablename, pg_total_relation_size(quote_ident(tablename)) "
                    "FROM pg_tables WHERE schemaname = 'public'"
                )
                every = dict(cursor.fetchall())
        for table, size in every.items():
            if table.startswith(self.session_table_prefixes):
                sizes[table] = int(size or 0)
        return {"total": sum(sizes.values()), "tables": sizes}
