"""Django's cache engine, tracked."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.sessions.backends import cache
from django.core.cache import caches

from sessions_panel.backends.tracked import CachedStateLoad, TrackedSessionMixin
from sessions_panel.tracking import index_writer


class SessionStore(TrackedSessionMixin, CachedStateLoad, cache.SessionStore):
    def _store_load(self) -> dict[str, Any]:
        """Django's ``load``, reading the kept revocation state in the same round trip."""
        try:
            data = self._cache_load(self._cache)  # type: ignore[attr-defined]
        except Exception:
            data = None
        if data is not None:
            return data  # type: ignore[no-any-return]
        self._session_key = None
        return {}

    @classmethod
    def purge_keys(cls, session_keys: list[str], *, index: bool = True) -> None:
        caches[settings.SESSION_CACHE_ALIAS].delete_many(
            [cls.cache_key_prefix + key for key in session_keys]
        )
        if index:
            index_writer.remove_many(session_keys)
