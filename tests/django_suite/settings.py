"""Settings for Django's ``runtests.py`` when the harness runs ``sessions_tests``.

The base is Django's own settings for its test suite, ``tests/test_sqlite.py`` of the
same release (on the runner's path), so the baseline classes run exactly as in Django's
CI. On top of it: the harness's test runner (``runner.py``), and, when the environment
names them, PostgreSQL (``DATABASE_URL``) and a Redis cache (``REDIS_URL``).

Concurrent runs (two CI jobs, a developer beside CI) share the PostgreSQL server and
the Redis database, so each run gets its own test database names and cache key prefix
from ``DJANGO_SUITE_RUN_ID``, which the harness sets (an environment variable, not the
pid here, so that worker processes of a parallel run agree with their parent).
"""

from __future__ import annotations

import importlib
import os

globals().update(
    (name, value)
    for name, value in vars(importlib.import_module("test_sqlite")).items()
    if name.isupper()
)

RUN_ID = os.environ.get("DJANGO_SUITE_RUN_ID", str(os.getpid()))
TEST_RUNNER = "tests.django_suite.runner.SuiteRunner"

if os.environ.get("DATABASE_URL"):
    import dj_database_url

    DATABASES = {
        alias: {
            **dj_database_url.parse(os.environ["DATABASE_URL"]),
            "TEST": {"NAME": f"test_django_suite_{RUN_ID}_{alias}"},
        }
        for alias in ("default", "other")
    }

if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": f"django-suite-{RUN_ID}",
        }
    }
