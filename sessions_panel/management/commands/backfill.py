"""Index the sessions a store already holds (e.g. after switching to a tracked engine)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends import signed_cookies
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from sessions_panel.backends.tracked import TrackedSessionMixin
from sessions_panel.management.progress import Progress
from sessions_panel.models import SessionRecord, short_id_for
from sessions_panel.tracking import index_writer, revocation


class Command(BaseCommand):
    help = (
        "Add the sessions already in the store (db, cached_db or file engine) to the "
        "panel's index, in batches. Safe to run again: indexed sessions are skipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        store = import_module(settings.SESSION_ENGINE).SessionStore
        if not issubclass(store, TrackedSessionMixin):
            raise CommandError(
                f"SESSION_ENGINE {settings.SESSION_ENGINE!r} is not a tracked engine; "
                "switch to sessions_panel.backends.* first (see check sessions_panel.E001)."
            )
        if hasattr(store, "get_model_class"):
            added, seen = self._from_database(store, batch_size)
        elif hasattr(store, "_get_storage_path"):
            added, seen = self._from_files(store, batch_size)
        elif issubclass(store, signed_cookies.SessionStore):
            raise CommandError(
                "Signed-cookie sessions live in the browsers, not on the server; they are "
                "indexed on their next request instead."
            )
        else:
            raise CommandError(
                "The cache engine cannot list its sessions; they are indexed on their "
                "next request instead."
            )
        self.stdout.write(f"Indexed {added:,} of {seen:,} live sessions in the store.")

    def _insert(self, rows: list[tuple[str, dict[str, Any], datetime]]) -> int:
        """Bulk-insert rows not yet indexed; skips sessions a revocation refuses."""
        now = timezone.now()
        age = timedelta(seconds=settings.SESSION_COOKIE_AGE)
        objs = []
        for key, data, expiry in rows:
            user_id = index_writer.user_id_from(data)
            if revocation.refusal(key, user_id) is not None:
                continue
            # Without a custom expiry, a session was last saved SESSION_COOKIE_AGE
            # before it expires: the best "last seen" the store can tell.
            seen = min(now, expiry - age)
            objs.append(
                SessionRecord(
                    session_key=key,
                    short_id=short_id_for(key),
                    user_id=user_id,
                    created=seen,
                    last_seen=seen,
                    expiry=expiry,
                )
            )
        before = SessionRecord.objects.count()
        SessionRecord.objects.bulk_create(objs, ignore_conflicts=True)
        return SessionRecord.objects.count() - before

    def _from_database(self, store: Any, batch_size: int) -> tuple[int, int]:
        model = store.get_model_class()
        live = model.objects.filter(expire_date__gt=timezone.now())
        progress = Progress(self.stdout, live.count(), "Backfilling")
        added = seen = 0
        last = ""
        decoder = store()
        while True:
            batch = list(
                live.filter(session_key__gt=last)
                .order_by("session_key")
                .values_list("session_key", "session_data", "expire_date")[:batch_size]
            )
            if not batch:
                break
            last = batch[-1][0]
            added += self._insert([(k, decoder.decode(d), e) for k, d, e in batch])
            seen += len(batch)
            progress.advance(len(batch))
        progress.finish()
        return added, seen

    def _from_files(self, store: Any, batch_size: int) -> tuple[int, int]:
        path = store._get_storage_path()
        prefix = settings.SESSION_COOKIE_NAME
        names = [n for n in os.listdir(path) if n.startswith(prefix)]
        progress = Progress(self.stdout, len(names), "Backfilling")
        added = seen = 0
        for start in range(0, len(names), batch_size):
            rows = []
            for name in names[start : start + batch_size]:
                session = store(name.removeprefix(prefix))
                session.create = lambda: None  # as clearsessions does: no new sessions
                data = session.load()  # drops expired files
                if session.session_key is not None and data:
                    rows.append((session.session_key, data, session._expiry_date(data)))
            added += self._insert(rows)
            seen += len(rows)
            progress.advance(len(names[start : start + batch_size]))
        progress.finish()
        return added, seen
