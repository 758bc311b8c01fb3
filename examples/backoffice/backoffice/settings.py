"""Settings of the backoffice example: a production-shaped host for django-sessions-panel.

What it shows, beyond the README's install lines:

- one custom admin site at ``/backoffice/`` and no ``/admin/`` (``accounts/admin.py``);
- a custom user model that logs in by email (``accounts/models.py``);
- German first: ``LANGUAGE_CODE`` plus ``LocaleMiddleware``, so the admin and the panel
  follow the browser's language and fall back to German; times in Europe/Berlin;
- ``DEBUG`` off, static files collected into ``STATIC_ROOT`` and served by WhiteNoise
  (the panel does not depend on WhiteNoise: any static file server does);
- on Django 6, Django's strict Content-Security-Policy: the panel has no inline script
  or style, and takes the CSP nonce for the few tags that need one.

Configured from the environment, as a deployment would be:

``SECRET_KEY``
    Required: no default, so a deployment cannot run on a published key.
``ALLOWED_HOSTS``
    Comma-separated; default ``localhost,127.0.0.1``.
``HTTPS``
    ``1`` (default) when the site is served over HTTPS: secure cookies, HSTS, redirect
    to HTTPS. ``0`` for plain HTTP on the loopback interface (trying it out, tests).
``SQLITE_PATH``, ``STATIC_ROOT``
    Where the database and the collected static files go; default this directory.
``TRUSTED_PROXY_COUNT``
    The reverse proxies in front of the server that each append to ``X-Forwarded-For``
    (the panel's client IP); default ``0``: the IP is ``REMOTE_ADDR``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import django

BASE_DIR = Path(__file__).resolve().parent.parent


def env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


SECRET_KEY = os.environ["SECRET_KEY"]
DEBUG = env_flag("DEBUG", False)
ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1").split(",")
    if host.strip()
]

HTTPS = env_flag("HTTPS", True)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
# Submitting a domain to the browsers' HSTS preload list is its owner's decision, not a
# setting's: `check --deploy` is otherwise clean.
SILENCED_SYSTEM_CHECKS = ["security.W021"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "sessions_panel",
    "accounts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files are answered here, before sessions, locale and the panel see them.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After SessionMiddleware, before CommonMiddleware (Django's documented place).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After the session and authentication middleware: it records who and from where.
    "sessions_panel.middleware.SessionsPanelMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # The panel's page is driven by htmx (django-htmx, installed with the panel).
    "django_htmx.middleware.HtmxMiddleware",
]

CONTEXT_PROCESSORS = [
    "django.template.context_processors.request",
    "django.contrib.auth.context_processors.auth",
    "django.contrib.messages.context_processors.messages",
]

# Django 6's Content-Security-Policy: scripts only from this site and with the
# request's nonce, styles only from this site, nothing inline.
if django.VERSION >= (6, 0):
    from django.utils.csp import CSP

    MIDDLEWARE.insert(1, "django.middleware.csp.ContentSecurityPolicyMiddleware")
    CONTEXT_PROCESSORS.append("django.template.context_processors.csp")
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

ROOT_URLCONF = "backoffice.urls"
WSGI_APPLICATION = "backoffice.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": CONTEXT_PROCESSORS},
    }
]

DATABASES: dict[str, Any] = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
        # Readers and a writer at once (a Kill All while staff work); IMMEDIATE
        # transactions wait for the write lock instead of failing late.
        "OPTIONS": {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# A tracked engine: Django's database sessions, indexed for the Sessions page. Its
# storage is Django's, so switching from django.contrib.sessions.backends.db logs
# nobody out (run `manage.py backfill` once to index the sessions already there).
SESSION_ENGINE = "sessions_panel.backends.db"
SESSIONS_PANEL: dict[str, Any] = {
    "TRUSTED_PROXY_COUNT": int(os.environ.get("TRUSTED_PROXY_COUNT", "0")),
}

LANGUAGE_CODE = "de"
# German first; a browser asking for English gets English.
LANGUAGES = [("de", "Deutsch"), ("en", "English")]
USE_I18N = True
TIME_ZONE = "Europe/Berlin"
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed names (cached forever by browsers) and compressed copies, from collectstatic.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Errors to the console (gunicorn's log): with DEBUG off, Django only mails them.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django": {"handlers": ["console"], "level": "WARNING"},
        "sessions_panel": {"handlers": ["console"], "level": "INFO"},
    },
}
