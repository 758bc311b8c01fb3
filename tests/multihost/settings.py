"""Settings of the multi-host servers: the demo host project's, plus probe views.

``DATABASE_URL``, ``REDIS_URL`` and ``SECRET_KEY`` come from the environment, exactly as
the demo reads them, so the servers run the same engine (``cached_db``) and the same
middleware a deployment of the demo would.
"""

from __future__ import annotations

from sessionadmin.settings import *  # noqa: F403

ROOT_URLCONF = "tests.multihost.urls"

# The tests log in dozens of people; PBKDF2 is slow on purpose and not under test.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# DEBUG is off (a 500 must look like one), and nothing is collected: serve static files
# from the finders instead of requiring the manifest of ``collectstatic``.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True

# With DEBUG off Django logs a 500's traceback, and the sessions engine its cache
# errors, nowhere but to mail; a failed test shows the servers' logs, so log them there.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "sessions_panel": {"handlers": ["console"], "level": "INFO"},
        "django.request": {"handlers": ["console"], "level": "ERROR"},
        "django.contrib.sessions": {"handlers": ["console"], "level": "ERROR"},
    },
}
