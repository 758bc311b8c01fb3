"""What each B-tree of the session index weighs, and what it buys.

Issue 17 asks for the disk each table and index costs, and for what does not pay for
itself to go. This phase measures both sides on the seeded data: the size of every
index on the index table (``dbstat`` on SQLite, ``pg_relation_size`` on PostgreSQL),
and the time of every SELECT the page and its maintenance run, once with the index and
once with it dropped inside a transaction that is then rolled back (DDL is
transactional on both databases, so the seed is left as it was).

The statements come from the page's own scenarios, captured by ``Bench.page`` (page 1,
the deep page, the searches), plus the three other orders the list offers and the
lookups the kills and the clean-up make. Indexes that back a uniqueness the writes rely
on (the session key's, the handle's) are sized but not dropped: they are not optional.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.scenarios import INDEX_TABLE, PAGE
from bench.timing import sample
from sessions_panel.models import SessionRecord

#: The list's other orders (``sessions_panel.query.cursor.ORDERS``; "last seen" is page 1).
SORTS = ("expiry", "user", "ip")
#: Above this many milliseconds, and this many times slower, a statement needed the index.
NEEDED_MS = 5.0
NEEDED_RATIO = 3.0


def index_table_btrees() -> list[dict[str, Any]]:
    """The index table and each of its indexes: name, bytes, whether it may be dropped."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s",
                [INDEX_TABLE],
            )
            indexes = [(name, sql is not None) for name, sql in cursor.fetchall()]
            sizes = {}
            for name in [INDEX_TABLE] + [name for name, _ in indexes]:
                cursor.execute("SELECT sum(pgsize) FROM dbstat WHERE name = %s", [name])
                sizes[name] = cursor.fetchone()[0] or 0
        else:
            cursor.execute(
                "SELECT c.relname, NOT (i.indisunique OR i.indisprimary) "
                "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE i.indrelid = %s::regclass",
                [INDEX_TABLE],
            )
            indexes = list(cursor.fetchall())
            sizes = {}
            for name in [INDEX_TABLE] + [name for name, _ in indexes]:
                cursor.execute("SELECT pg_relation_size(%s::regclass)", [f'"{name}"'])
                sizes[name] = cursor.fetchone()[0]
    rows = [{"name": INDEX_TABLE, "bytes": sizes[INDEX_TABLE], "kind": "table"}]
    for name, droppable in sorted(indexes, key=lambda item: -sizes[item[0]]):
        kind = "index" if droppable else "constraint"
        rows.append({"name": name, "bytes": sizes[name], "kind": kind})
    return rows


def capture(call: Callable[[], Any]) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        call()
    return [q["sql"] for q in queries.captured_queries]


def statements(bench: Any) -> dict[str, list[str]]:
    """The SELECTs on the index table, by scenario: the page's, then the other orders
    and the lookups of the kills and the clean-up (their ORM queries, as they run)."""
    scenarios = dict(bench.captured)
    for sort in SORTS:
        path = f"{PAGE}?{urlencode({'sort': sort})}"
        scenarios[f"sort_{sort}"] = capture(lambda path=path: bench.request(path, htmx=True))
    row = SessionRecord.objects.filter(user__isnull=False).order_by("-pk").first()
    now = timezone.now()
    if row is not None:
        scenarios["kill_one_lookup"] = capture(
            lambda: SessionRecord.objects.filter(handle=row.handle).first()
        )
        scenarios["a_users_sessions"] = capture(
            lambda: list(
                SessionRecord.objects.filter(user_id=row.user_id).order_by("-last_seen")[:50]
            )
        )
        scenarios["short_id_lookup"] = capture(
            lambda: list(SessionRecord.objects.filter(short_id=row.short_id)[:50])
        )
    scenarios["prune_expired"] = capture(
        lambda: list(
            SessionRecord.objects.filter(expiry__lte=now + timedelta(hours=1)).values_list(
                "pk", flat=True
            )[:500]
        )
    )
    scenarios["kill_all_survivors"] = capture(
        lambda: list(
            SessionRecord.objects.filter(issued__gte=now.timestamp() - 60).values_list(
                "pk", flat=True
            )
        )
    )
    kept: dict[str, list[str]] = {}
    for key, sqls in scenarios.items():
        chosen = [
            sql for sql in sqls if sql.lstrip().upper().startswith("SELECT") and INDEX_TABLE in sql
        ]
        if chosen:
            kept[key] = chosen
    return kept


def timed(bench: Any, sql: str, budget: float) -> float:
    return sample(lambda: bench.raw(sql), runs=3, max_runs=3, budget=budget, min_runs=1).ms()


def measure(bench: Any, log: Callable[[str], None]) -> list[dict[str, Any]]:
    """One row per B-tree: its size, and for an optional index what the scenarios cost
    without it (the slowest-hit scenario first)."""
    scenarios = statements(bench)
    baseline = {
        key: sum(timed(bench, sql, budget=1.0) for sql in sqls) for key, sqls in scenarios.items()
    }
    log("  index costs: " + ", ".join(f"{key} {ms:.1f} ms" for key, ms in baseline.items()))
    rows = index_table_btrees()
    for row in rows:
        if row["kind"] != "index":
            continue
        without: dict[str, float] = {}
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f'DROP INDEX "{row["name"]}"')
            for key, sqls in scenarios.items():
                without[key] = sum(timed(bench, sql, budget=0.5) for sql in sqls)
            transaction.set_rollback(True)
        hits = sorted(
            (
                (key, baseline[key], ms)
                for key, ms in without.items()
                if ms >= NEEDED_MS and ms >= NEEDED_RATIO * max(baseline[key], 0.01)
            ),
            key=lambda hit: -hit[2] / max(hit[1], 0.01),
        )
        row["needed_by"] = [
            {"scenario": key, "with_ms": with_ms, "without_ms": without_ms}
            for key, with_ms, without_ms in hits
        ]
        shown = "; ".join(f"{key} {a:.1f} → {b:.1f} ms" for key, a, b in hits[:3]) or "nothing"
        log(f"  {row['name']} ({row['bytes'] / 1e6:.1f} MB): {shown}")
    return rows
