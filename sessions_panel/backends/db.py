"""Django's database engine, tracked."""

from __future__ import annotations

from django.contrib.sessions.backends import db
from django.db import router

from sessions_panel.backends.dbload import OneStatementLoad
from sessions_panel.backends.tracked import TrackedSessionMixin
from sessions_panel.tracking import index_writer


class SessionStore(TrackedSessionMixin, OneStatementLoad, db.SessionStore):
    @classmethod
    def store_database(cls) -> str | None:
        return router.db_for_write(cls.get_model_class())

    @classmethod
    def purge_keys(cls, session_keys: list[str], *, index: bool = True) -> None:
        cls.get_model_class().objects.filter(session_key__in=session_keys).delete()
        if index:
            index_writer.remove_many(session_keys)
