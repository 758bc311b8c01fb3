"""Bring the user search's own table in line with the user table, and (re)build its
trigram index: after bulk writes that send no signals, or once ``pg_trgm`` is allowed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections, router

from sessions_panel.models import UserSearchText
from sessions_panel.query import trigram, usertext


class Command(BaseCommand):
    help = (
        "Rewrite the search text of every user (username, email, names) from the user "
        "table, drop that of deleted users, and build the trigram index that makes user "
        "search fast where the database allows one (SQLite FTS5, PostgreSQL pg_trgm)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=usertext.BATCH_SIZE)

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        written, dropped = usertext.rebuild(batch_size=batch_size)
        connection = connections[router.db_for_write(UserSearchText)]
        indexed = trigram.create(connection)
        self.stdout.write(
            f"Rewrote {written:,} user search texts, dropped {dropped:,}. "
            + (
                "The trigram index is in place."
                if indexed
                else "No trigram index on this database: user search scans the user table."
            )
        )
