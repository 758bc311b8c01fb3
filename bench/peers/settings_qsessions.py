"""Host settings for django-qsessions: the shared stack with its SessionMiddleware.

Its README's setup: the app, ``qsessions.middleware.SessionMiddleware`` in Django's
slot, and its engine: ``qsessions.backends.db`` on SQLite (as ours runs the tracked
``db`` engine there), ``qsessions.backends.cached_db`` on PostgreSQL + Redis (as ours
runs ``cached_db``). No GeoIP database is installed, so its "location" column is empty.
"""

from __future__ import annotations

from bench.peers.settings_base import *  # noqa: F403
from bench.peers.settings_base import BASE_APPS, caches, databases, middleware, store

SYSTEM = "qsessions"
INSTALLED_APPS = [*BASE_APPS, "qsessions"]
MIDDLEWARE = middleware("qsessions.middleware.SessionMiddleware")
DATABASES = databases(SYSTEM)
CACHES = caches(SYSTEM)
SESSION_ENGINE = "qsessions.backends.db" if store() == "sqlite" else "qsessions.backends.cached_db"
PLAIN_SESSION_ENGINE = SESSION_ENGINE.replace(
    "qsessions.backends.", "django.contrib.sessions.backends."
)
