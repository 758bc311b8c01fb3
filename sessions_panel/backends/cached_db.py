"""Django's cache-then-database engine, tracked."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.sessions.backends import cached_db
from django.core.cache import caches

from sessions_panel import records
from sessions_panel.backends.tracked import TrackedSessionMixin


class SessionStore(TrackedSessionMixin, cached_db.SessionStore):
    def _get_session_from_db(self) -> Any:
        stored = super()._get_session_from_db()  # type: ignore[misc]
        self._stored_expiry = stored.expire_date if stored is not None else None
        return stored

    @classmethod
    def purge_keys(cls, session_keys: list[str]) -> None:
        cls.get_model_class().objects.filter(session_key__in=session_keys).delete()
        caches[settings.SESSION_CACHE_ALIAS].delete_many(
            [cls.cache_key_prefix + key for key in session_keys]
        )
        records.remove_many(session_keys)
