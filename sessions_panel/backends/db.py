"""Django's database engine, tracked."""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends import db

from sessions_panel import records
from sessions_panel.backends.tracked import TrackedSessionMixin


class SessionStore(TrackedSessionMixin, db.SessionStore):
    def _get_session_from_db(self) -> Any:
        stored = super()._get_session_from_db()  # type: ignore[misc]
        self._stored_expiry = stored.expire_date if stored is not None else None
        return stored

    @classmethod
    def purge_keys(cls, session_keys: list[str]) -> None:
        cls.get_model_class().objects.filter(session_key__in=session_keys).delete()
        records.remove_many(session_keys)
