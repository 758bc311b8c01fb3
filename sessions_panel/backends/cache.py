"""Django's cache engine, tracked."""

from __future__ import annotations

from django.conf import settings
from django.contrib.sessions.backends import cache
from django.core.cache import caches

from sessions_panel import records
from sessions_panel.backends.tracked import TrackedSessionMixin


class SessionStore(TrackedSessionMixin, cache.SessionStore):
    @classmethod
    def purge_keys(cls, session_keys: list[str], *, index: bool = True) -> None:
        caches[settings.SESSION_CACHE_ALIAS].delete_many(
            [cls.cache_key_prefix + key for key in session_keys]
        )
        if index:
            records.remove_many(session_keys)
