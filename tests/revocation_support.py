"""What the revocation check costs a request, engine by engine, in this run."""

from __future__ import annotations

from django.core.cache import caches

from sessions_panel.tracking import revocation_cache


def session_queries(engine: str) -> int:
    """Queries a repeat request makes to load its session and decide whether it was
    killed: the ``db`` engine one (both in one statement); the cache engines none
    where the session cache keeps the state (Redis or Memcached:
    :mod:`sessions_panel.tracking.revocation_cache`), else one, as the others."""
    if engine in ("cache", "cached_db") and revocation_cache.applies(caches["default"]):
        return 0
    return 1
