"""What every host of the peer benchmark shares: one middleware stack, one database setup.

The three hosts (``settings_ours``, ``settings_qsessions``, ``settings_user_sessions``)
differ only in the sessions app, its engine and its session middleware; everything a
request goes through besides is the demo host's (``sessionadmin/settings.py``):
SecurityMiddleware, Django's own Content-Security-Policy middleware, WhiteNoise, Common,
CSRF, auth, messages, clickjacking and django-htmx, in that order, ``DEBUG`` off, the
cached template loader, persistent connections. A difference in the table is then the
sessions app's, not the host's.

The store is picked by environment variables the driver (``bench/peers/run.py``) sets:

- ``PEERS_STORE=sqlite``: ``bench/peers/.work/<system>.sqlite3`` with the demo's pragmas
  (WAL, ``synchronous=NORMAL``, a 64 MB page cache), a per-process memory cache;
- ``PEERS_STORE=postgresql``: the database ``peers_<system>`` on ``PEERS_PG_URL`` and a
  Redis cache in database 11 (ours), 12 (qsessions) or 13 (user_sessions) of
  ``PEERS_REDIS_URL``: each system has its own, so none sees another's keys or rows.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.utils.csp import CSP

PEERS_DIR = Path(__file__).resolve().parent
WORK_DIR = PEERS_DIR / ".work"
SYSTEMS = ("ours", "qsessions", "user_sessions")
REDIS_DBS = {"ours": 11, "qsessions": 12, "user_sessions": 13}
#: Every host signs with the same key: the seeded session data (encoded once, by ours)
#: then decodes, and its auth hashes verify, in every system.
SECRET_KEY = "peers-bench-not-secret-" + "x" * 40

#: The session middleware's slot in the stack; ``PANEL`` is ours' tracking, after auth.
SESSION_SLOT = "<session middleware>"
PANEL_SLOT = "<panel middleware>"
HOST_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    SESSION_SLOT,
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    PANEL_SLOT,
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]
DJANGO_SESSION_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"


def middleware(session: str, panel: str | None = None) -> list[str]:
    """The host stack with this system's session middleware (and ours' panel one)."""
    stack = []
    for name in HOST_MIDDLEWARE:
        if name == SESSION_SLOT:
            stack.append(session)
        elif name == PANEL_SLOT:
            if panel:
                stack.append(panel)
        else:
            stack.append(name)
    return stack


def store() -> str:
    value = os.environ.get("PEERS_STORE", "sqlite")
    if value not in ("sqlite", "postgresql"):
        raise RuntimeError(f"PEERS_STORE must be sqlite or postgresql, not {value!r}")
    return value


def databases(system: str) -> dict[str, Any]:
    if store() == "sqlite":
        return {
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": str(WORK_DIR / f"{system}.sqlite3"),
                "CONN_MAX_AGE": None,
                # The demo host's options (sessionadmin/settings.py), for every system.
                "OPTIONS": {
                    "timeout": 20,
                    "transaction_mode": "IMMEDIATE",
                    "init_command": (
                        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                        "PRAGMA cache_size=-65536;"
                    ),
                },
            }
        }
    url = urlsplit(os.environ.get("PEERS_PG_URL", "postgres://postgres@127.0.0.1:5432/"))
    return {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": f"peers_{system}",
            "USER": url.username or "postgres",
            "PASSWORD": url.password or "",
            "HOST": url.hostname or "127.0.0.1",
            "PORT": str(url.port or 5432),
            "CONN_MAX_AGE": None,
        }
    }


def caches(system: str) -> dict[str, Any]:
    if store() == "sqlite":
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    url = urlsplit(os.environ.get("PEERS_REDIS_URL", "redis://127.0.0.1:6379"))
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": urlunsplit(url._replace(path=f"/{REDIS_DBS[system]}")),
            "KEY_PREFIX": f"peers-{system}",
        }
    }


DEBUG = False
ALLOWED_HOSTS = ["*"]
BASE_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    # Django's own sessions table: the plain-Django side of the middleware ratio.
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
]
CONTEXT_PROCESSORS = [
    "django.template.context_processors.request",
    "django.contrib.auth.context_processors.auth",
    "django.contrib.messages.context_processors.messages",
    "django.template.context_processors.csp",
]
# The demo host's policy (sessionadmin/settings.py).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": CONTEXT_PROCESSORS},
    }
]
ROOT_URLCONF = "bench.peers.urls"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = WORK_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "sessions_panel": {"handlers": ["console"], "level": "WARNING"},
        "django.request": {"handlers": ["console"], "level": "ERROR"},
    },
}

# WhiteNoise warns that STATIC_ROOT was never collected; the bench serves no static files.
warnings.filterwarnings("ignore", message="No directory at")
