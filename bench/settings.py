"""Settings for the benchmark: the host project's, on a separate database, tuned like production.

- SQLite: ``bench/bench.sqlite3`` (gitignored), the tracked ``db`` engine.
- PostgreSQL + Redis (``DATABASE_URL`` and ``REDIS_URL`` set): the database named by
  ``BENCH_PG_DB`` (default ``bench``) on the same server, Redis database ``BENCH_REDIS_DB``
  (default 1) with its own key prefix, the tracked ``cached_db`` engine. The test suite's
  database and keys are never touched.
- ``DEBUG`` off (cached template loader, no query log), persistent connections (as any
  production deployment has), quiet logging.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sessionadmin.settings import *  # noqa: F403
from sessionadmin.settings import DATABASES, LOGGING, MIDDLEWARE, REDIS_URL

BENCH_DIR = Path(__file__).resolve().parent

DEBUG = False
ALLOWED_HOSTS = ["*"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
ROOT_URLCONF = "bench.urls"

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["NAME"] = os.environ.get(
        "BENCH_SQLITE_PATH", str(BENCH_DIR / "bench.sqlite3")
    )
else:
    DATABASES["default"]["NAME"] = os.environ.get("BENCH_PG_DB", "bench")
# Persistent connections: a production site does not reconnect on every request.
DATABASES["default"]["CONN_MAX_AGE"] = None

if REDIS_URL:
    parts = urlsplit(REDIS_URL)
    redis_location = urlunsplit(parts._replace(path="/" + os.environ.get("BENCH_REDIS_DB", "1")))
    CACHES: dict[str, Any] = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_location,
            "KEY_PREFIX": os.environ.get("BENCH_CACHE_PREFIX", "sp-bench"),
        }
    }

# WhiteNoise warns that STATIC_ROOT was never collected; the bench serves no static files.
warnings.filterwarnings("ignore", message="No directory at")

#: The middleware the plain-Django comparison drops.
PANEL_MIDDLEWARE = "sessions_panel.middleware.SessionsPanelMiddleware"
assert PANEL_MIDDLEWARE in MIDDLEWARE

LOGGING = {
    **LOGGING,
    "loggers": {
        "sessions_panel": {"handlers": ["console"], "level": "WARNING"},
        "django.request": {"handlers": ["console"], "level": "ERROR"},
    },
}
