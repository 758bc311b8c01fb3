"""Django's cache engine, tracked."""

from __future__ import annotations

from django.conf import settings
from django.contrib.sessions.backends import cache
from django.core.cache import caches

from sessions_panel.backends.tracked import TrackedSessionMixin
from sessions_panel.tracking import index_writer


class SessionStore(TrackedSessionMixin, cache.SessionStore):
    @classmethod
    def purge_keys(cls, session_keys: list[str], *, index: bool = True) -> None:
        caches[settings.SESSION_CACHE_ALIAS].delete_many(
            [cls.cache_key_prefix + key for key in session_keys]
        )
        if index:
            index_writer.remove_many(session_keys)
