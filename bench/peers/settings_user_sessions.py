"""Host settings for django-user-sessions: the shared stack with its SessionMiddleware.

Its README's setup: the app, ``user_sessions.middleware.SessionMiddleware`` in
Django's slot and ``user_sessions.backends.db``, its only engine (so on PostgreSQL +
Redis the cache is there but sessions do not use it). No GeoIP database is installed,
so its "location" column is empty.
"""

from __future__ import annotations

import warnings

from bench.peers.settings_base import *  # noqa: F403
from bench.peers.settings_base import BASE_APPS, caches, databases, middleware

SYSTEM = "user_sessions"
INSTALLED_APPS = [*BASE_APPS, "user_sessions"]
MIDDLEWARE = middleware("user_sessions.middleware.SessionMiddleware")
DATABASES = databases(SYSTEM)
CACHES = caches(SYSTEM)
SESSION_ENGINE = "user_sessions.backends.db"
PLAIN_SESSION_ENGINE = "django.contrib.sessions.backends.db"

# Its __init__ imports pkg_resources (for its version), which warns on every start.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
