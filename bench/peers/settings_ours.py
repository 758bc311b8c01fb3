"""Host settings for ours: the demo host's apps, middleware and panel settings, on the
peers' database and cache.

The stack is asserted equal to the demo host's (``sessionadmin/settings.py``), so that a
change there shows here as a failure rather than as a silent difference between the
systems. SQLite runs the tracked ``db`` engine, PostgreSQL + Redis the tracked
``cached_db`` one: what ``bench/run.py`` measures on each store.
"""

from __future__ import annotations

from bench.peers.settings_base import *  # noqa: F403
from bench.peers.settings_base import (
    BASE_APPS,
    DJANGO_SESSION_MIDDLEWARE,
    caches,
    databases,
    middleware,
    store,
)
from sessionadmin import settings as host

SYSTEM = "ours"
PANEL_MIDDLEWARE = "sessions_panel.middleware.SessionsPanelMiddleware"
INSTALLED_APPS = list(host.INSTALLED_APPS)
assert set(BASE_APPS) <= set(INSTALLED_APPS), "the demo host's apps changed"
MIDDLEWARE = middleware(DJANGO_SESSION_MIDDLEWARE, panel=PANEL_MIDDLEWARE)
assert MIDDLEWARE == host.MIDDLEWARE, "the demo host's middleware is not the shared stack"
TEMPLATES = host.TEMPLATES
STATICFILES_DIRS = host.STATICFILES_DIRS
SESSIONS_PANEL = dict(host.SESSIONS_PANEL)
DATABASES = databases(SYSTEM)
CACHES = caches(SYSTEM)
SESSION_ENGINE = (
    "sessions_panel.backends.db" if store() == "sqlite" else "sessions_panel.backends.cached_db"
)
PLAIN_SESSION_ENGINE = SESSION_ENGINE.replace(
    "sessions_panel.backends.", "django.contrib.sessions.backends."
)
