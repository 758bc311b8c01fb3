"""One write a request, and nothing else: the ceiling of any session tracking that
writes when a request brings news (a new IP address, a stale "last seen").

Issue 17 asks for ≥ 0.75 of plain Django's requests/s with the IP changing on every
request, which writes once by design. Plain Django with this middleware added, against
plain Django, says what one write costs on this machine and database: the cheapest
write there is (one integer of a one-row table without a secondary index, a HOT update
on PostgreSQL) and its commit. No tracking can do better than this ratio and still
write.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, HttpResponse

TABLE = "bench_one_write"


def create_table() -> None:
    """The one-row table, in the bench's database (idempotent)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (id integer PRIMARY KEY, n integer NOT NULL)"
        )
        cursor.execute(f"INSERT INTO {TABLE} (id, n) VALUES (1, 0) ON CONFLICT (id) DO NOTHING")


class OneWriteMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        with connection.cursor() as cursor:  # autocommit: the statement is its commit
            cursor.execute(f"UPDATE {TABLE} SET n = n + 1 WHERE id = 1")
        return response
