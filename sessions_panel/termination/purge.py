"""Cleaning up after a kill: the stored data and index rows of sessions a revocation
already refuses, in batches, within a time limit on a request (``prune`` has none).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.db.models import CharField, Exists, OuterRef, Q
from django.db.models.functions import Cast

from sessions_panel.models import Revocation, SessionRecord
from sessions_panel.termination.guard import ensure_tracked, primary, store_class

if TYPE_CHECKING:
    pass

logger = logging.getLogger("sessions_panel")

PURGE_BATCH = 500


def evict_again_on_commit(store: type[SessionBase], keys: list[str]) -> None:
    # cached_db: a concurrent load may refill the cache from a row the kill's transaction
    # has not committed away yet; evicting once more after commit closes that window.
    prefix = getattr(store, "cache_key_prefix", None)
    if prefix is None:
        return
    from django.core.cache import caches

    def evict() -> None:
        try:
            caches[settings.SESSION_CACHE_ALIAS].delete_many([prefix + k for k in keys])
        except Exception:
            logger.exception("could not evict killed sessions from the cache")

    transaction.on_commit(evict)


#: Seconds a kill request spends purging; ``prune`` (or the next kill) does the rest.
PURGE_SECONDS = 2.0


#: Sessions per store batch when Kill All empties the index itself afterwards: each
#: batch is one short write, and without index rows to delete a batch can be larger.
STORE_BATCH = 5_000


def purge_rows(
    queryset: Any,
    keep_key: str | None,
    seconds: float | None,
    *,
    batch_size: int = PURGE_BATCH,
    index: bool = True,
    pause: float = 0.0,
) -> tuple[int, list[str], list[Any], bool]:
    """Delete the store data and (``index``) the index rows of ``queryset`` in batches,
    keeping one key.

    Stops after ``seconds`` (``None``: no limit); returns what it purged and whether it
    finished. What it leaves is already refused by a revocation, so stopping early only
    delays the clean-up, and keeps one request from holding the database for minutes.
    ``index=False`` leaves the index rows to the caller (Kill All empties the index at
    once): deleting them row by row costs three times the store's own delete.
    ``pause``: seconds to wait after each batch, so that writers queued behind it get
    their turn (SQLite's single writer).
    """
    store = store_class()
    purge = getattr(store, "purge_keys", None)
    deadline = None if seconds is None else time.monotonic() + seconds
    count = 0
    short_ids: list[str] = []
    user_ids: list[Any] = []
    seen: set[str] = set()
    last_id = 0
    while True:
        if deadline is not None and time.monotonic() > deadline:
            return count, short_ids, user_ids, False
        batch = list(
            queryset.filter(pk__gt=last_id)
            .order_by("pk")
            .values_list("pk", "session_key", "short_id", "user_id")[:batch_size]
        )
        if not batch:
            return count, short_ids, user_ids, True
        if count and pause:
            time.sleep(pause)
        last_id = batch[-1][0]
        # A key seen twice (a request re-indexed it while the purge ran) counts once.
        kept = [
            (key, short, user)
            for _, key, short, user in batch
            if key != keep_key and key not in seen
        ]
        seen.update(key for key, _, _ in kept)
        keys = [key for key, _, _ in kept]
        if purge is not None:
            purge(keys, index=index)  # tracked engines drop the index rows too
        else:
            for key in keys:
                store().delete(key)
            if index:
                SessionRecord.objects.filter(session_key__in=keys).delete()
        evict_again_on_commit(store, keys)
        count += len(keys)
        short_ids.extend(short for _, short, _ in kept)
        user_ids.extend(user for _, _, user in kept if user is not None)


def refused_rows() -> Any:
    """Index rows of sessions an epoch already refuses: left by a purge that ran out of
    time, or that a store outage stopped (Kill All empties the index by itself)."""
    rows = SessionRecord.objects.using(primary())
    everyone = Revocation.objects.using(primary()).filter(kind=Revocation.ALL).first()
    user_epoch = Revocation.objects.using(primary()).filter(
        kind=Revocation.USER, target=Cast(OuterRef("user_id"), CharField())
    )
    refused = Q(user__isnull=False) & (
        Q(Exists(user_epoch.filter(not_before__gt=OuterRef("issued"))))
        | Q(issued__isnull=True) & Q(Exists(user_epoch))
    )
    if everyone is not None:
        refused |= Q(issued__lt=everyone.not_before) | Q(issued__isnull=True)
    return rows.filter(refused)


def purge_refused() -> int:
    """Delete the data and index rows of every session an epoch refuses (no time
    limit: ``manage.py prune`` runs this, not a request). Returns how many."""
    ensure_tracked()
    count, _, _, _ = purge_rows(refused_rows(), None, None)
    return count
