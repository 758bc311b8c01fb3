"""The measurements, in the order they run (Kill All last: it empties the store).

Every figure lands in ``Bench.results`` as ``{"value", "display", "runs", "note"}``
keyed by the ids ``bench/report.py`` knows; query plans and profiles go to
``Bench.plans`` and ``Bench.details`` for the report.
"""

from __future__ import annotations

import contextlib
import cProfile
import gzip
import io
import json
import logging
import os
import pstats
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from importlib import import_module
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from bench import one_write
from bench.seed import RARE_NETWORK
from bench.timing import Sample, Wsgi, sample
from sessions_panel import termination
from sessions_panel.conf import conf
from sessions_panel.models import SessionRecord
from sessions_panel.termination import sweep, truncation
from sessions_panel.tracking import index_writer, revocation

PAGE = "/admin/sessions_panel/sessionrecord/"
WHOAMI = "/bench/whoami/"
ADMIN_INDEX = "/admin/"
RUN_PY = Path(__file__).resolve().parent / "run.py"
WRITE_SQL = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.I)
INDEX_TABLE = SessionRecord._meta.db_table
USER_TABLE = get_user_model()._meta.db_table

#: Every session policy on, for the middleware's cost with them (bounds no session of
#: the bench's: the admin logged in just now and is using the site).
POLICIES_ON = {
    "IDLE_TIMEOUT": 8 * 3600,
    "ABSOLUTE_LIFETIME": 30 * 86400,
    "MAX_SESSIONS_PER_USER": 1000,
}

SEARCHES = {
    "search_user": "olivia",  # a first name: about 2 % of users
    "search_ip": RARE_NETWORK,
    "search_app": "Support",
    "search_none": "zqxjv",
}


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def _mb(size: float) -> str:
    return f"{size / 1e6:,.1f} MB"


def store_class() -> Any:
    return import_module(settings.SESSION_ENGINE).SessionStore


def plain_engine() -> str:
    """Django's own engine of the same kind as the configured tracked one."""
    return settings.SESSION_ENGINE.replace(
        "sessions_panel.backends.", "django.contrib.sessions.backends."
    )


def subprocess_json(args: list[str], timeout: float = 900) -> dict[str, Any]:
    """Run ``bench/run.py`` with ``args`` in a fresh process; it writes JSON to ``--out``."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = handle.name
    try:
        subprocess.run(
            [sys.executable, str(RUN_PY), *args, "--out", out],
            check=True,
            timeout=timeout,
            env=os.environ.copy(),
        )
        return json.loads(Path(out).read_text())  # type: ignore[no-any-return]
    finally:
        Path(out).unlink(missing_ok=True)


def make_admin() -> tuple[Any, str]:
    """A superuser logged in through the configured (tracked) engine; returns its key."""
    User = get_user_model()
    admin = User.objects.filter(username="bench-admin").first()
    if admin is None:
        admin = User.objects.create_superuser("bench-admin", "bench@example.com", None)
    client = Client()
    client.force_login(admin)
    return admin, client.cookies[settings.SESSION_COOKIE_NAME].value


class _Collect(logging.Handler):
    """Keeps what the panel logs during Kill All (a failed purge says why there)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            text += f" ({type(error).__name__}: {str(error)[:200]})"
        self.messages.append(text)


class PurgeBudgetExceeded(Exception):
    """Raised into Kill All's purge loop when the bench's time budget for it is spent."""


class Bench:
    def __init__(self, n: int, runs: int, log: Callable[[str], None] = print) -> None:
        self.n = n
        self.runs = runs
        self.log = log
        self.results: dict[str, dict[str, Any]] = {}
        self.plans: list[dict[str, Any]] = []
        self.details: list[str] = []
        #: Each B-tree of the index table: its size and what slows down without it.
        self.indexes: list[dict[str, Any]] = []
        self.captured: dict[str, list[str]] = {}
        self.admin, self.admin_key = make_admin()
        self.web = Wsgi()
        self.page_missing = False
        self.page_size = conf.PAGE_SIZE

    # -- bookkeeping --------------------------------------------------------------------

    def put(
        self,
        key: str,
        value: float | None,
        display: str,
        *,
        runs: int | None = None,
        note: str = "",
    ) -> None:
        self.results[key] = {"value": value, "display": display, "runs": runs, "note": note}
        self.log(f"  {key:<24} {display}" + (f"  ({note})" if note else ""))

    def put_time(self, key: str, result: Sample, note: str = "") -> None:
        self.put(key, result.ms(), _ms(result.median), runs=result.runs, note=note)

    # -- the page -------------------------------------------------------------------------

    def request(self, path: str, *, htmx: bool = False) -> tuple[int, bytes]:
        environ = self.web.environ(path, session_key=self.admin_key, htmx=htmx)
        return self.web.call(environ)

    def page(self, key: str, path: str, *, htmx: bool, note: str = "") -> bytes | None:
        """Time one page URL; records "n/a (page missing)" or the error status instead."""
        environ = self.web.environ(path, session_key=self.admin_key, htmx=htmx)
        status, body = self.web.call(environ)
        if status == 404:
            self.page_missing = True
            self.put(key, None, "n/a (page missing)")
            return None
        if status != 200:
            self.put(key, None, f"error {status}")
            return None
        with CaptureQueriesContext(connection) as queries:
            self.web.call(environ)
        self.captured[key] = [q["sql"] for q in queries.captured_queries]
        count = len(self.captured[key])
        result = sample(lambda: self.web.call(environ), runs=self.runs)
        rows = body.count(b'name="handle"')
        db = self.db_time(self.captured[key])
        extra = f"{count} queries (DB {db * 1000:.1f} ms), {rows} rows, {len(body) / 1024:.0f} KB"
        self.put_time(key, result, note=f"{note}; {extra}" if note else extra)
        return body

    def measure_page(self) -> None:
        self.log("page")
        body = self.page("page1_full", PAGE, htmx=False)
        if body is None:
            for key in ("page1_htmx", "deep_page", "badge_count", *SEARCHES, "search_user_rare"):
                self.put(key, None, self.results["page1_full"]["display"])
            return
        self.page("page1_htmx", PAGE, htmx=True)
        self.deep_page(body)
        self.badge_count()
        self.log("search")
        for key, term in SEARCHES.items():
            self.page(key, f"{PAGE}?{urlencode({'q': term})}", htmx=True, note=f"q={term}")
        self.page(
            "search_user_rare",
            f"{PAGE}?{urlencode({'q': self.rare_username()})}",
            htmx=True,
            note=f"q={self.rare_username()}",
        )
        short_id = SessionRecord.objects.filter(pk=self.n // 3 or 1).values_list(
            "short_id", flat=True
        )
        if short_id:
            self.page("search_short_id", f"{PAGE}?{urlencode({'q': short_id[0]})}", htmx=True)

    def measure_refresh(self) -> None:
        """The live refresh, as the poller sends it, with 50 and 1,000 rows on screen:
        when the list changed (the whole fragment; its size raw and gzipped) and when it
        did not (the poller sends the last answer's ETag back: a 304, no body)."""
        self.log("refresh")
        for key, path in (("refresh_50", PAGE), ("refresh_1000", f"{PAGE}?page=20")):
            environ = self.web.environ(path, session_key=self.admin_key, htmx=True)
            environ["HTTP_HX_TRIGGER"] = "sp-poller"
            self.web.call(environ)  # the admin's own row moves to the top at the first
            # A browser keeps the CSRF cookie: the tokens on the page are masks of it.
            cookie = re.search(
                r"(?:^|, )(csrftoken=[^;]+)", self.web.last_headers.get("Set-Cookie", "")
            )
            if cookie:
                environ["HTTP_COOKIE"] += f"; {cookie.group(1)}"
            status, body = self.web.call(environ)
            tag = self.web.last_headers.get("ETag", "")
            if status != 200:
                self.put(f"{key}_changed", None, f"error {status}")
                continue
            rows = body.count(b'name="handle"')
            changed = sample(lambda environ=environ: self.web.call(environ), runs=self.runs)
            zipped = len(gzip.compress(body))
            self.put_time(
                f"{key}_changed",
                changed,
                note=f"{rows} rows, {len(body) / 1024:.0f} KB ({zipped / 1024:.0f} KB gzipped)",
            )
            again = dict(environ, HTTP_IF_NONE_MATCH=tag)
            status, body = self.web.call(again)
            unchanged = sample(lambda again=again: self.web.call(again), runs=self.runs)
            self.put_time(
                f"{key}_unchanged", unchanged, note=f"HTTP {status}, {len(body)} bytes of body"
            )

    def rare_username(self) -> str:
        """The part after the dot of one user's name: matches one to three users."""
        User = get_user_model()
        n_users = max(1, self.n // 5)
        name = User.objects.filter(pk=n_users // 2 or 1).values_list("username", flat=True)
        return name[0].split(".", 1)[-1] if name else "nobody"

    def deep_page(self, body: bytes) -> None:
        """Twenty "load more" clicks down: what the browser asks for (a keyset position
        if the link carries one, else a page number), and what the live refresh then
        costs with every loaded row on screen."""
        text = body.decode(errors="replace")
        links = re.findall(r'(?:hx-get|href)="([^"]*\?[^"]*)"', text)
        cursor = [link for link in links if re.search(r"[?&](amp;)?(cursor|after)=", link)]
        if cursor:
            url = cursor[0].replace("&amp;", "&")
            for _ in range(19):  # page 1 is on screen: the 20th page is 19 clicks down
                status, page = self.request(url, htmx=True)
                found = re.findall(
                    r'(?:hx-get|href)="([^"]*(?:cursor|after)=[^"]*)"', page.decode()
                )
                if status != 200 or not found:
                    break
                url = found[0].replace("&amp;", "&")
            self.page("deep_page", url, htmx=True, note="page 20, appended by load more")
            page_number = re.search(r"[?&]page=(\d+)", url)
            if page_number:  # the poll re-renders every row on screen, from the top
                self.page(
                    "deep_refresh",
                    f"{PAGE}?page={page_number.group(1)}",
                    htmx=True,
                    note="the live refresh with 20 pages on screen",
                )
            return
        numbered = [link for link in links if re.search(r"[?&](amp;)?page=\d+", link)]
        if numbered:
            deep = max(2, self.n // (2 * self.page_size))
            self.page(
                "deep_page",
                f"{PAGE}?page={deep}",
                htmx=True,
                note=f"page={deep} requested",
            )
            return
        self.put("deep_page", None, "n/a (no load-more link on page 1)")

    def badge_count(self) -> None:
        """The badge's count: kept by the database (triggers), read with no cache at all;
        beside it, the ``COUNT(*)`` over the index it replaces."""
        forget = index_writer.forget_live_count
        now = timezone.now()

        def uncached() -> int:
            forget()
            return index_writer.live_count(now)

        with CaptureQueriesContext(connection) as captured:
            uncached()
        kept = sample(uncached, runs=self.runs, max_runs=200)
        scan = f'SELECT COUNT(*) FROM "{INDEX_TABLE}" WHERE "expiry" > %s'
        with connection.cursor() as cursor:

            def count() -> None:
                cursor.execute(scan, [connection.ops.adapt_datetimefield_value(now)])
                cursor.fetchall()

            query = sample(count, runs=self.runs)
        self.captured["badge_count"] = [q["sql"] for q in captured.captured_queries]
        self.put_time(
            "badge_count",
            kept,
            note=f"index_writer.live_count(), no cache: {len(captured.captured_queries)} "
            "statement (the kept total less expired rows awaiting prune)",
        )
        self.put_time("badge_count_query", query, note="the COUNT(*) it replaces")

    def db_time(self, queries: list[str]) -> float:
        """The database's share: each captured SELECT run again alone (median of 3)."""
        total = 0.0
        for sql in queries:
            if sql.lstrip().upper().startswith("SELECT"):
                total += sample(
                    lambda sql=sql: self.raw(sql), runs=3, max_runs=3, budget=1.0, min_runs=1
                ).median
        return total

    def raw(self, sql: str) -> list[Any]:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())

    def measure_index_costs(self) -> None:
        """What each of the index table's B-trees weighs and buys (``bench/index_costs.py``)."""
        if self.page_missing:
            return
        from bench import index_costs  # it reads this module's PAGE and INDEX_TABLE

        self.log("index costs")
        self.indexes = index_costs.measure(self, self.log)

    # -- query plans ----------------------------------------------------------------------

    def measure_plans(self) -> None:
        if self.page_missing:
            return
        self.log("query plans")
        for key in (
            "page1_full",
            "deep_page",
            "badge_count",
            "search_ip",
            "search_user",
            "search_user_rare",
            "search_app",
            "search_none",
            "search_short_id",
        ):
            for sql in self.captured.get(key, []):
                if not sql.lstrip().upper().startswith("SELECT"):
                    continue
                upper = sql.upper()
                if INDEX_TABLE not in sql and not (USER_TABLE in sql and " LIKE " in upper):
                    continue
                if key == "page1_full" and "COUNT(" in sql.upper():
                    continue  # shown under badge_count
                if "django_session" in sql or "sessions_panel_revocation" in sql:
                    continue
                timing = sample(
                    lambda sql=sql: self.raw(sql), runs=3, max_runs=10, budget=1.0, min_runs=1
                )
                plan, flags = self.explain(sql)
                if key != "badge_count" and not flags and timing.ms() < 1.0:
                    continue  # a quick indexed lookup (a user by id, the admin's own row)
                self.plans.append(
                    {
                        "figure": key,
                        "sql": sql,
                        "plan": plan,
                        "flags": flags,
                        "ms": timing.ms(),
                    }
                )
                marker = ("  !! " + "; ".join(flags)) if flags else ""
                self.log(f"  {key}: {timing.ms():.1f} ms{marker}")

    def explain(self, sql: str) -> tuple[list[str], list[str]]:
        aliases = {INDEX_TABLE: INDEX_TABLE}
        for table in (INDEX_TABLE, USER_TABLE):
            for alias in re.findall(rf'"{table}" (U\d+|T\d+)\b', sql):
                aliases[alias] = table
        flags: list[str] = []
        lines: list[str] = []
        if connection.vendor == "sqlite":
            rows = self.raw("EXPLAIN QUERY PLAN " + sql)
            depth: dict[int, int] = {0: 0}
            for node, parent, _, detail in rows:
                depth[node] = depth.get(parent, 0) + 1
                lines.append("  " * (depth[node] - 1) + detail)
                match = re.match(r"SCAN (\w+)(?: AS \w+)?(.*)$", detail)
                if match and aliases.get(match.group(1)) == INDEX_TABLE:
                    if "USING" not in match.group(2):
                        flags.append(f"FULL SCAN of {INDEX_TABLE}")
                    else:
                        flags.append(
                            f"index walk over {INDEX_TABLE}{match.group(2)} "
                            "(bounded only by LIMIT: all of it when few rows match)"
                        )
                elif match and aliases.get(match.group(1), match.group(1)) == USER_TABLE:
                    flags.append(f"scan of {USER_TABLE} (substring search; info)")
        else:
            rows = self.raw("EXPLAIN (ANALYZE, BUFFERS OFF) " + sql)
            for (line,) in rows:
                lines.append(line)
                if re.search(rf"Seq Scan on {INDEX_TABLE}\b", line):
                    flags.append(f"FULL SCAN (Seq Scan) of {INDEX_TABLE}")
                elif re.search(rf"Seq Scan on {USER_TABLE}\b", line):
                    flags.append(f"Seq Scan of {USER_TABLE} (substring search; info)")
        return lines, flags

    # -- memory and the naive baseline (fresh processes) ----------------------------------

    def measure_memory(self) -> None:
        if self.page_missing:
            self.put("page_memory", None, "n/a (page missing)")
            return
        self.log("memory")
        probe = subprocess_json(["--memprobe", "page", "--session-key", self.admin_key])
        if probe.get("status") != 200:
            self.put("page_memory", None, f"error {probe.get('status')}")
            return
        peak = max(probe["tracemalloc_peak"], probe["rss_growth_warm"])
        self.put(
            "page_memory",
            peak / 1e6,
            _mb(peak),
            note=(
                f"warm full-page render: peak RSS +{_mb(probe['rss_growth_warm'])}, "
                f"tracemalloc peak {_mb(probe['tracemalloc_peak'])}; a fresh process's first "
                f"render: RSS +{_mb(probe['rss_growth_first'])} (imports, template compile)"
            ),
        )

    def measure_naive(self, budget: float) -> None:
        self.log("naive baseline (decode every session)")
        times: list[float] = []
        growths: list[float] = []
        started = time.perf_counter()
        while len(times) < max(3, self.runs):
            probe = subprocess_json(["--memprobe", "naive"])
            times.append(probe["seconds"])
            growths.append(probe["rss_growth"])
            if time.perf_counter() - started > budget:
                break
        result = Sample(times=times)
        self.put_time("naive_time", result, note=f"{probe['rows']:,} sessions decoded")
        growth = sorted(growths)[len(growths) // 2]
        self.put("naive_memory", growth / 1e6, _mb(growth), note="RSS growth")
        page = self.results.get("page1_full", {}).get("value")
        if page:
            ratio = result.ms() / page
            self.put("naive_ratio", ratio, f"{ratio:,.0f}× slower than page 1")
        else:
            self.put("naive_ratio", None, "n/a (page missing)")

    # -- the middleware ---------------------------------------------------------------------

    def measure_middleware(self) -> None:
        self.log("middleware")
        tracked = Wsgi(WSGIHandler())
        middleware = [m for m in settings.MIDDLEWARE if m != settings.PANEL_MIDDLEWARE]
        with override_settings(SESSION_ENGINE=plain_engine(), MIDDLEWARE=middleware):
            plain = Wsgi(WSGIHandler())
        for key, path in (("mw_whoami", WHOAMI), ("mw_admin", ADMIN_INDEX)):
            self.middleware_ratio(key, path, tracked, plain)
        self.middleware_policies(tracked, plain)
        self.middleware_one_write(plain)
        self.middleware_queries(tracked, plain)
        self.middleware_profile(tracked)

    def middleware_policies(self, tracked: Wsgi, plain: Wsgi) -> None:
        """The trivial view again with every session policy on: the load decides idle
        and lifetime from what it reads anyway, so the ratio should not move."""
        panel = dict(getattr(settings, "SESSIONS_PANEL", {}) or {})
        with override_settings(SESSIONS_PANEL={**panel, **POLICIES_ON}):
            self.middleware_ratio("mw_whoami_policies", WHOAMI, tracked, plain)
            environ = tracked.environ(WHOAMI, session_key=self.admin_key)
            tracked.call(environ)
            queries = self._queries(tracked, environ)
        writes = [sql for sql in queries if WRITE_SQL.match(sql)]
        self.put(
            "mw_queries_policies",
            len(queries),
            f"{len(queries)} ({len(writes)} writes)",
            note="authenticated request, last-seen fresh, " + ", ".join(POLICIES_ON),
        )

    def middleware_one_write(self, plain: Wsgi) -> None:
        """Plain Django plus one write a request, against plain Django: the ceiling of
        any tracking that writes on a request (``bench/one_write.py``)."""
        one_write.create_table()
        middleware = [m for m in settings.MIDDLEWARE if m != settings.PANEL_MIDDLEWARE]
        with override_settings(
            SESSION_ENGINE=plain_engine(),
            MIDDLEWARE=[*middleware, "bench.one_write.OneWriteMiddleware"],
        ):
            writing = Wsgi(WSGIHandler())
        self.middleware_ratio("mw_one_write", WHOAMI, writing, plain)

    def middleware_ratio(self, key: str, path: str, tracked: Wsgi, plain: Wsgi) -> None:
        environ = tracked.environ(path, session_key=self.admin_key)
        for variant in (tracked, plain):
            status, body = variant.call(environ)
            if status != 200 or (path == WHOAMI and body != b"bench-admin"):
                self.put(f"{key}_ratio", None, f"error {status} {body[:40]!r}")
                return
        for _ in range(30):
            tracked.call(environ)
            plain.call(environ)
        t = time.perf_counter()
        for _ in range(20):
            tracked.call(environ)
        per_request = (time.perf_counter() - t) / 20
        block = max(20, int(0.5 / per_request))
        # Fine interleaving (ten requests of one, ten of the other, alternately) so that
        # whatever else runs on the machine slows both variants alike.
        rates: dict[str, list[float]] = {"tracked": [], "plain": []}
        rounds = max(self.runs, 7)
        chunk = 10
        for r in range(rounds + 1):  # round 0 is a warm-up
            spent = {"tracked": 0.0, "plain": 0.0}
            for i in range(max(1, block // chunk)):
                order = [("tracked", tracked), ("plain", plain)]
                if i % 2:
                    order.reverse()
                for name, variant in order:
                    t = time.perf_counter()
                    for _ in range(chunk):
                        variant.call(environ)
                    spent[name] += time.perf_counter() - t
            if r:
                for name in spent:
                    rates[name].append(max(1, block // chunk) * chunk / spent[name])
        ratios = sorted(a / b for a, b in zip(rates["tracked"], rates["plain"], strict=True))
        ratio = ratios[len(ratios) // 2]
        tracked_rps = sorted(rates["tracked"])[rounds // 2]
        plain_rps = sorted(rates["plain"])[rounds // 2]
        self.put(
            f"{key}_ratio",
            ratio,
            f"{ratio:.3f}",
            runs=rounds,
            note=f"{tracked_rps:,.0f} vs {plain_rps:,.0f} req/s, {block} requests per round",
        )
        self.put(f"{key}_tracked_rps", tracked_rps, f"{tracked_rps:,.0f} req/s", runs=rounds)
        self.put(f"{key}_plain_rps", plain_rps, f"{plain_rps:,.0f} req/s", runs=rounds)

    def _queries(self, variant: Wsgi, environ: dict[str, Any]) -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            variant.call(environ)
        return [q["sql"] for q in queries.captured_queries]

    def middleware_queries(self, tracked: Wsgi, plain: Wsgi) -> None:
        environ = tracked.environ(WHOAMI, session_key=self.admin_key)
        tracked_sql = self._queries(tracked, environ)
        plain_sql = self._queries(plain, environ)
        writes = [sql for sql in tracked_sql if WRITE_SQL.match(sql)]
        self.put(
            "mw_queries",
            len(tracked_sql),
            f"{len(tracked_sql)} vs {len(plain_sql)}",
            note="tracked vs plain, authenticated request, last-seen fresh",
        )
        self.put("mw_writes_fresh", len(writes), str(len(writes)))
        self.details.append("Queries of one authenticated request (tracked engine):")
        self.details += [f"    {sql[:160]}" for sql in tracked_sql]
        self.details.append("Queries of the same request (plain engine):")
        self.details += [f"    {sql[:160]}" for sql in plain_sql]

        recently_seen = getattr(index_writer, "recently_seen", None)
        if recently_seen is not None:  # a process that has not seen this session lately
            recently_seen.clear()
            cold = self._queries(tracked, environ)
            cold_writes = [sql for sql in cold if WRITE_SQL.match(sql)]
            self.put(
                "mw_queries_cold",
                len(cold),
                f"{len(cold)} ({len(cold_writes)} writes)",
                note="same, but this process has not seen the session within the interval",
            )
        stale = timezone.now() - timedelta(seconds=2 * conf.LAST_SEEN_INTERVAL + 1)
        SessionRecord.objects.filter(session_key=self.admin_key).update(last_seen=stale)
        if recently_seen is not None:
            recently_seen.clear()
        stale_sql = self._queries(tracked, environ)
        stale_writes = [sql for sql in stale_sql if WRITE_SQL.match(sql)]
        self.put(
            "mw_writes_stale",
            len(stale_writes),
            f"{len(stale_writes)} of {len(stale_sql)} queries",
            note="last-seen older than the interval: the one write per interval",
        )
        anonymous = tracked.environ(WHOAMI)
        anon_tracked = self._queries(tracked, anonymous)
        anon_plain = self._queries(plain, anonymous)
        added = len(anon_tracked) - len(anon_plain)
        self.put(
            "anon_queries_added",
            added,
            str(added),
            note=f"{len(anon_tracked)} queries with the panel, {len(anon_plain)} without",
        )

    def middleware_profile(self, tracked: Wsgi) -> None:
        """Where the tracked request's time goes: cProfile, and the hot-path calls alone."""
        environ = tracked.environ(WHOAMI, session_key=self.admin_key)
        for _ in range(50):
            tracked.call(environ)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(500):
            tracked.call(environ)
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(r"sessions_panel|sessions/backends", 14)
        self.details.append("cProfile, 500 tracked authenticated requests (panel code):")
        self.details += ["    " + line for line in out.getvalue().splitlines() if line.strip()][:40]

        store = store_class()
        plain_store = import_module(plain_engine()).SessionStore
        data = store(self.admin_key).load()
        user_id = index_writer.user_id_from(data)
        parts = {
            "tracked engine load (store + revocation check)": lambda: store(self.admin_key).load(),
            "plain engine load": lambda: plain_store(self.admin_key).load(),
            "revocation.refusal alone": lambda: revocation.refusal(self.admin_key, user_id),
            "touch index read (ORM)": lambda: (
                SessionRecord.objects.filter(session_key=self.admin_key)
                .values_list("last_seen", "ip", "user_agent")
                .first()
            ),
        }
        self.details.append("Hot-path pieces, median per call:")
        for label, fn in parts.items():
            result = sample(fn, runs=200, min_seconds=0.3, max_runs=5000, warmup=20)
            self.details.append(f"    {label:<48} {result.median * 1e6:8.0f} µs")

    # -- kills ------------------------------------------------------------------------------

    def random_records(self, count: int) -> list[tuple[str, Any]]:
        rng = random.Random(self.n)
        found: list[tuple[str, Any]] = []
        while len(found) < count:
            ids = [rng.randrange(1, self.n + 1) for _ in range(count * 2)]
            found += list(
                SessionRecord.objects.filter(pk__in=ids)
                .exclude(session_key=self.admin_key)
                .values_list("handle", "user_id")
            )
        return found[:count]

    def measure_kill_one(self) -> None:
        self.log("kill one")
        handles = iter([h for h, _ in self.random_records(self.runs * 6 + 20)])

        def kill() -> None:
            result = termination.kill_session(next(handles), actor=self.admin, reason="bench")
            assert result.killed == 1, result

        with CaptureQueriesContext(connection) as queries:
            kill()
        sql = [q["sql"] for q in queries.captured_queries]
        writes = sum(1 for q in sql if WRITE_SQL.match(q))
        self.details.append(f"Queries of one kill_session ({len(sql)}, {writes} writes):")
        self.details += [f"    {q[:140]}" for q in sql]
        self.put_time(
            "kill_one",
            sample(kill, runs=self.runs, max_runs=self.runs * 3),
            note=f"termination.kill_session(handle): {len(sql)} queries, {writes} writes",
        )
        try:
            url = reverse("admin:sessions_panel_sessionrecord_kill")
        except NoReverseMatch:
            self.put("kill_one_http", None, "n/a (page missing)")
            return
        client = Client()
        client.cookies[settings.SESSION_COOKIE_NAME] = self.admin_key

        def post() -> None:
            response = client.post(url, {"handle": next(handles)}, headers={"HX-Request": "true"})
            assert response.status_code == 200, response.status_code

        self.put_time(
            "kill_one_http",
            sample(post, runs=self.runs, max_runs=self.runs * 2),
            note="htmx POST: the kill, its row taken out, badge and message out of band",
        )

    def measure_kill_user(self) -> None:
        self.log("kill all of a user")
        User = get_user_model()
        rng = random.Random(7)
        n_users = max(1, self.n // 5)
        candidates: list[tuple[Any, int]] = []
        for _ in range(2000):
            if len(candidates) > self.runs + 1:
                break
            uid = rng.randrange(1, n_users + 1)
            count = SessionRecord.objects.filter(user_id=uid).count()
            if 3 <= count <= 10:
                candidates.append((User.objects.get(pk=uid), count))
        if len(candidates) < 2:
            self.put("kill_user", None, "n/a (no user with 3–10 sessions)")
            return
        users = iter(candidates)
        killed: list[int] = []

        def kill() -> None:
            user, _ = next(users)
            killed.append(termination.kill_user(user, actor=self.admin, reason="bench").killed)

        result = sample(
            kill, runs=min(self.runs, len(candidates) - 1), max_runs=len(candidates) - 1
        )
        self.put_time("kill_user", result, note=f"{min(killed)}–{max(killed)} sessions per user")

    def measure_kill_all(self, purge_budget: float = 600.0) -> None:
        """Kill All at full size, as the admin does it (the htmx POST of the page): the
        answer, then the clean-up its response runs once sent (``sweep.after_response``:
        captured here and run to the end, timed), with a concurrent stall probe."""
        self.log("Kill All")
        store = store_class()
        rng = random.Random(self.n + 1)
        victims = list(
            SessionRecord.objects.filter(pk__in=[rng.randrange(1, self.n + 1) for _ in range(50)])
            .exclude(session_key=self.admin_key)
            .values_list("session_key", flat=True)[:5]
        )
        live_before = SessionRecord.objects.live().count()
        rows_before = SessionRecord.objects.count()
        batches: list[float] = []
        purged = 0
        inherited_purge = store.purge_keys
        original_purge = store.__dict__.get("purge_keys")
        deadline = time.perf_counter() + purge_budget

        def purge_keys(keys: list[str], **options: Any) -> None:
            nonlocal purged
            if time.perf_counter() > deadline:
                raise PurgeBudgetExceeded  # the sweep logs it and stops
            t = time.perf_counter()
            inherited_purge(keys, **options)
            batches.append(time.perf_counter() - t)
            purged += len(keys)

        try:
            url = reverse("admin:sessions_panel_sessionrecord_kill_all")
        except NoReverseMatch:
            self.put("kill_all_effect", None, "n/a (page missing)")
            return
        client = Client()
        client.cookies[settings.SESSION_COOKIE_NAME] = self.admin_key
        # The admin has just signed in: no password asked (REAUTH_WINDOW).
        SessionRecord.objects.filter(session_key=self.admin_key).update(verified=time.time())
        sent: list[Any] = []
        original_after = sweep.after_response

        def capture(response: Any) -> Any:
            sent.append(response)
            return response

        stop_file = Path(tempfile.mkdtemp()) / "stop"
        probe_out = Path(tempfile.mkdtemp()) / "probe.json"
        probe = subprocess.Popen(
            [
                sys.executable,
                str(RUN_PY),
                "--probe",
                "--session-key",
                self.admin_key,
                "--stop-file",
                str(stop_file),
                "--out",
                str(probe_out),
            ],
            stdout=subprocess.PIPE,
            env=os.environ.copy(),
            text=True,
        )
        assert probe.stdout is not None
        probe.stdout.readline()  # "ready"
        time.sleep(1.5)  # the probe's baseline
        panel_logger = logging.getLogger("sessions_panel")
        problems = _Collect()
        panel_logger.addHandler(problems)
        store.purge_keys = staticmethod(purge_keys)
        sweep.after_response = capture  # type: ignore[assignment]
        try:
            wall_start = time.time()
            started = time.perf_counter()
            response = client.post(url, {}, headers={"HX-Request": "true"})
            answered = time.perf_counter()
            assert response.status_code == 200, response.status_code
            refused = [store(key).load() == {} for key in victims]
            listed = SessionRecord.objects.live().count()
            swept_from = time.perf_counter()
            try:
                count, finished = sweep.run(None)
            except PurgeBudgetExceeded:
                # Called here directly, not after a response: the budget's stop comes
                # out of the sweep; what was purged until then is the figure.
                count, finished = purged, False
            swept = time.perf_counter()
            wall_end = time.time()
        finally:
            panel_logger.removeHandler(problems)
            sweep.after_response = original_after  # type: ignore[assignment]
            if original_purge is None:
                del store.purge_keys
            else:
                store.purge_keys = original_purge
        time.sleep(0.5)
        stop_file.touch()
        probe.wait(timeout=60)
        samples = json.loads(probe_out.read_text()) if probe_out.exists() else []

        answer = answered - started
        self.put(
            "kill_all_effect",
            answer * 1000,
            _ms(answer),
            note=f"the whole htmx POST the admin waits for (epoch, audit, the list after); "
            f"{sum(refused)}/{len(refused)} sampled sessions refused right after"
            + ("" if all(refused) and refused else " — NOT ALL REFUSED")
            + f"; {listed:,} listed live after ({rows_before:,} index rows before); "
            f"{len(sent)} clean-up handed to the response's close",
        )
        seconds = swept - swept_from
        how = f"in {len(batches):,} batches of {sweep.batch_size(connection.alias):,}"
        if not batches and count:
            purged = count  # truncated around the survivors: no batch at all
            how = "by truncation ({})".format(
                ", ".join(f"{step} {value:,.2f} s" for step, value in truncation.timings.items())
            )
        rate = purged / seconds if seconds > 0 else 0.0
        self.put(
            "kill_all_purge_rate",
            rate,
            f"{rate:,.0f} sessions/s",
            note=f"{purged:,} of {live_before:,} live sessions' stored data and index rows "
            f"deleted after the answer, {how}"
            + ("" if finished else " (the bench's budget stopped it)"),
        )
        self.put("kill_all_purge_time", seconds, f"{seconds:,.1f} s", note="after the answer")
        if batches:
            self.put(
                "kill_all_batch_max",
                max(batches) * 1000,
                _ms(max(batches)),
                note=f"{len(batches):,} batches, median {_ms(sorted(batches)[len(batches) // 2])}"
                " (store and index rows: each its own short writes)",
            )
        self.stall(samples, wall_start, wall_end)
        left = SessionRecord.objects.count()
        logged = "; ".join(problems.messages) or "nothing logged"
        self.put(
            "kill_all_left",
            left,
            f"{left:,} index rows left",
            note=f"the admin's own is kept; sessions_panel log during Kill All: {logged}",
        )

    def stall(self, samples: list[list[Any]], start: float, end: float) -> None:
        """The concurrent probe's worst latency before and during Kill All."""
        for kind in ("read", "write"):
            before = [dt for t, k, dt in samples if k == kind and t < start]
            during = [dt for t, k, dt in samples if k == kind and start <= t <= end]
            if not during:
                self.put(f"kill_all_stall_{kind}", None, "n/a (probe saw no window)")
                continue
            worst = max(during)
            at = next(t for t, k, dt in samples if k == kind and dt == worst and t >= start)
            base = max(before) if before else 0.0
            self.put(
                f"kill_all_stall_{kind}",
                worst * 1000,
                _ms(worst),
                note=f"worst of {len(during):,} concurrent session {kind}s during Kill All and "
                f"its purge, ending {at - start:,.1f} s after the start "
                f"(baseline worst {_ms(base)})",
            )


# -- helpers run in fresh processes by run.py -------------------------------------------


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def rss_mark() -> int:
    """Reset the peak-RSS mark (Linux ``clear_refs``) and return the current RSS."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return _status_kb("VmRSS")


def rss_growth(mark: int) -> int:
    """Peak RSS since :func:`rss_mark`, above the RSS it returned."""
    return max(0, _status_kb("VmHWM") - mark)


def memprobe_page(session_key: str) -> dict[str, Any]:
    import gc
    import tracemalloc

    web = Wsgi()
    environ = web.environ(PAGE, session_key=session_key)
    mark = rss_mark()
    status, _ = web.call(environ)
    first = rss_growth(mark)
    for _ in range(3):
        web.call(environ)
    gc.collect()
    mark = rss_mark()
    web.call(environ)
    warm = rss_growth(mark)
    tracemalloc.start()
    web.call(environ)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "status": status,
        "tracemalloc_peak": peak,
        "rss_growth_first": first,
        "rss_growth_warm": warm,
    }


def naive_listing(page_size: int = 50) -> int:
    """What a panel without an index does: decode every live session to list page 1."""
    from django.contrib.auth import SESSION_KEY
    from django.contrib.sessions.models import Session

    now = timezone.now()
    rows = []
    for session in Session.objects.filter(expire_date__gt=now):
        data = session.get_decoded()
        rows.append((session.expire_date, session.session_key, data.get(SESSION_KEY), data))
    User = get_user_model()
    users = User.objects.in_bulk({int(uid) for _, _, uid, _ in rows if uid})
    rows.sort(key=lambda row: row[0], reverse=True)
    page = [(expiry, key, users.get(int(uid)) if uid else None) for expiry, key, uid, _ in rows]
    assert len(page[:page_size]) == min(page_size, len(rows))
    return len(rows)


def memprobe_naive() -> dict[str, Any]:
    connection.ensure_connection()
    get_user_model().objects.first()
    mark = rss_mark()
    t = time.perf_counter()
    count = naive_listing()
    seconds = time.perf_counter() - t
    growth = rss_growth(mark)
    return {"seconds": seconds, "rss_growth": growth, "rows": count}


def stall_probe(session_key: str, stop_file: str) -> list[tuple[float, str, float]]:
    """Another app process: loads the session and writes its last-seen, every 2 ms."""
    store = store_class()
    samples: list[tuple[float, str, float]] = []
    store(session_key).load()
    print("ready", flush=True)
    while not os.path.exists(stop_file):
        t = time.perf_counter()
        store(session_key).load()
        samples.append((time.time(), "read", time.perf_counter() - t))
        t = time.perf_counter()
        SessionRecord.objects.filter(session_key=session_key).update(last_seen=timezone.now())
        samples.append((time.time(), "write", time.perf_counter() - t))
        time.sleep(0.002)
    return samples
