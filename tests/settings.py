"""Test settings: the host project's, made fast and hermetic."""

from __future__ import annotations

import os
import tempfile

from sessionadmin.settings import *  # noqa: F403
from sessionadmin.settings import CACHES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
SESSION_FILE_PATH = tempfile.mkdtemp(prefix="sessions-panel-tests-")
if "KEY_PREFIX" in CACHES["default"]:
    # Parallel runs sharing one Redis must not see each other's sessions.
    CACHES["default"]["KEY_PREFIX"] = f"sp-test-{os.getpid()}"
# pytest-django runs with DEBUG off, which would make WhiteNoise look for a collected
# STATIC_ROOT (and warn, an error here); serve from the finders as in development.
WHITENOISE_AUTOREFRESH = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not ":memory:": threads (live_server, the race tests) then get their own
    # connections, as a real multi-threaded server would, instead of sharing one.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.mkdtemp(prefix="sessions-panel-db-"), "test.sqlite3")
    }
if DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql"):  # noqa: F405
    # Concurrent runs on one server (two CI jobs, a developer beside CI) must not share
    # a test database: each run creates and drops its own.
    DATABASES["default"]["TEST"] = {"NAME": f"test_sessions_panel_{os.getpid()}"}  # noqa: F405

# Mail goes to django.core.mail.outbox. Django 6.1 reads MAILERS (and warns, an error
# here, when it is missing); 5.2 reads EMAIL_BACKEND, which pytest-django sets.
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
