"""Django's cache-then-database engine, tracked."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends import cached_db
from django.core.cache import caches
from django.db import router

from sessions_panel.backends.dbload import OneStatementLoad
from sessions_panel.backends.tracked import CachedStateLoad, TrackedSessionMixin
from sessions_panel.tracking import index_writer

logger = logging.getLogger("sessions_panel")


class SessionStore(TrackedSessionMixin, CachedStateLoad, OneStatementLoad, cached_db.SessionStore):
    def _store_load(self) -> dict[str, Any]:
        """Django's ``load``, except that an unreachable cache falls back to the database.

        Django's own ``load`` lets a failing ``cache.set`` escape, so a Redis outage turns
        every request with a session into a 500. The database stays the truth.
        """
        cache = caches[settings.SESSION_CACHE_ALIAS]
        try:
            data = self._cache_load(cache)
        except Exception:
            data = None
        if data is not None:
            return data  # type: ignore[no-any-return]
        stored = self._get_session_from_db()
        if not stored:
            return {}
        data = self.decode(stored.session_data)
        try:
            cache.set(self.cache_key, data, self.get_expiry_age(expiry=stored.expire_date))
        except Exception:
            logger.warning("session cache unreachable; loaded the session from the database")
        return data

    def stored_expiry(self) -> datetime:
        if self._stored_expiry is None and self.session_key is not None:
            # Loaded from the cache, which does not say; the database row does.
            self._stored_expiry = (
                self.model.objects.filter(session_key=self.session_key)
                .values_list("expire_date", flat=True)
                .first()
            )
        return super().stored_expiry()

    def _store_rolled_back(self, key: str) -> None:
        try:
            caches[settings.SESSION_CACHE_ALIAS].delete(self.cache_key_prefix + key)
        except Exception:
            logger.warning("could not evict a session whose save was rolled back")

    @classmethod
    def store_database(cls) -> str | None:
        return router.db_for_write(cls.get_model_class())

    @classmethod
    def purge_keys(cls, session_keys: list[str], *, index: bool = True) -> None:
        cls.get_model_class().objects.filter(session_key__in=session_keys).delete()
        caches[settings.SESSION_CACHE_ALIAS].delete_many(
            [cls.cache_key_prefix + key for key in session_keys]
        )
        if index:
            index_writer.remove_many(session_keys)
