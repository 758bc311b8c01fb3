"""The list's queries walk an index in the list's order: no sort of every live row.

Without statistics (Django never runs ``ANALYZE``) SQLite picks plans by rule, the same
on ten rows as on a million, so a plan that sorts every live row here is the plan that
took 2.4 s at 1,000,000 sessions. PostgreSQL picks by cost, so on a small table it is
asked with sequential scans disabled: a Seq Scan that remains means no index fits.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sessions_panel.models import SessionRecord
from sessions_panel.query import flags, liststate
from tests.page_support import HTMX, body, page_url

pytestmark = pytest.mark.django_db

TABLE = SessionRecord._meta.db_table


@pytest.fixture
def mixed(admin_client, make_session, django_user_model, settings):
    settings.SESSIONS_PANEL = {"PAGE_SIZE": 2}
    users = [django_user_model.objects.create_user(f"p{n}") for n in range(3)]
    for n in range(8):
        make_session(user=users[n % 3] if n % 2 else None, ip=None if n == 3 else f"10.0.0.{n}")
    admin_client.get(page_url())
    return admin_client


def explain(sql: str) -> list[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            return [row[3] for row in cursor.fetchall()]
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql)
        return [row[0] for row in cursor.fetchall()]


def row_queries(
    client, url: str, params: dict[str, str] | None = None, *, rows: bool = True
) -> Iterator[str]:
    """The queries that read the list's rows (ordered, limited, on the index table)."""
    with CaptureQueriesContext(connection) as queries:
        html = body(client.get(url, params or {}, **HTMX))
    assert ("<tr data-handle=" in html) or not rows
    for query in queries.captured_queries:
        sql = query["sql"]
        if f'FROM "{TABLE}"' in sql and "ORDER BY" in sql and "LIMIT" in sql:
            yield sql


def whole_table_sorts(plan: list[str]) -> list[str]:
    if connection.vendor == "sqlite":
        return [
            line
            for line in plan
            if line == "USE TEMP B-TREE FOR ORDER BY" or re.fullmatch(rf"SCAN {TABLE}", line)
        ]
    return [line for line in plan if f"Seq Scan on {TABLE}" in line]


@pytest.mark.parametrize("status", liststate.STATUSES)
@pytest.mark.parametrize("sort", sorted(liststate.SORTS))
def test_every_order_and_status_reads_the_rows_from_an_index(mixed, sort, status):
    found = list(row_queries(mixed, page_url(), {"sort": sort, "status": status}))
    assert found
    for sql in found:
        plan = explain(sql)
        assert not whole_table_sorts(plan), (sql[sql.find(" WHERE ") :], plan)


@pytest.mark.parametrize("sort", sorted(liststate.SORTS))
def test_load_more_seeks_to_its_position_through_an_index(mixed, sort):
    html = body(mixed.get(page_url(), {"sort": sort}, **HTMX))
    url = re.search(r'hx-get="([^"]*after=[^"]*)"', html)
    assert url
    found = list(row_queries(mixed, url.group(1).replace("&amp;", "&")))
    assert found
    for sql in found:
        plan = explain(sql)
        assert not whole_table_sorts(plan), (sql[sql.find(" WHERE ") :], plan)


def aggregates(plan: list[str]) -> list[str]:
    """Steps that aggregate many rows before the first row of a page can be returned."""
    if connection.vendor == "sqlite":
        return [line for line in plan if line.startswith("LIST SUBQUERY") or "GROUP BY" in line]
    return [line for line in plan if "Aggregate" in line]


@pytest.mark.parametrize("flag", [code for code, _ in flags.codes()])
def test_a_flag_filter_checks_rows_one_by_one_instead_of_aggregating_them_all(mixed, flag):
    """A GROUP BY over every live row took 2.8 s ("multiple") at 1,000,000 sessions."""
    found = list(row_queries(mixed, page_url(), {"flag": flag}, rows=False))
    assert found
    for sql in found:
        plan = explain(sql)
        assert not aggregates(plan), (sql[sql.find(" WHERE ") :], plan)
        assert not whole_table_sorts(plan), (sql[sql.find(" WHERE ") :], plan)
