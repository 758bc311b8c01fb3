"""System checks, each with a stable ID documented in the README.

E001 engine not tracked · E002 Django's signed-cookie engine (use the tracked one) ·
E003 middleware missing · E004 middleware misordered · E005 django-htmx middleware missing ·
E006 unknown ``SESSIONS_PANEL`` key · E007 invalid ``SESSIONS_PANEL`` value ·
W001 an admin site lists users but not the Sessions page ·
W002 ``IDLE_TIMEOUT`` under twice ``LAST_SEEN_INTERVAL``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.admin.sites import AdminSite, all_sites
from django.core.checks import CheckMessage, Error, Warning
from django.urls import URLResolver, get_resolver
from django.utils.module_loading import import_string

from sessions_panel.conf import DEFAULTS, PANEL_MIDDLEWARE

SESSION_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"
HTMX_MIDDLEWARE = "django_htmx.middleware.HtmxMiddleware"
SIGNED_COOKIES = "django.contrib.sessions.backends.signed_cookies"
TRACKED_SIGNED_COOKIES = "sessions_panel.backends.signed_cookies"
#: How W001 names a model missing from a site.
PANEL_PARTS = {
    "sessions_panel.SessionRecord": "the Sessions page",
    "sessions_panel.AuditEntry": "the sessions audit trail",
}


def check_engine(**kwargs: Any) -> list[CheckMessage]:
    from sessions_panel.backends.tracked import TrackedSessionMixin

    engine = settings.SESSION_ENGINE
    if engine == SIGNED_COOKIES:
        return [
            Error(
                "Django's signed-cookie sessions keep nothing on the server, so the panel "
                "can neither list nor end them.",
                hint=f"Use their tracked twin, SESSION_ENGINE = {TRACKED_SIGNED_COOKIES!r}: "
                "the same cookies (nobody is logged out by the switch), each carrying an "
                "identifier the panel indexes and, once the session is ended, refuses.",
                id="sessions_panel.E002",
            )
        ]
    try:
        store = import_string(engine + ".SessionStore")
    except ImportError:
        store = None
    if store is None or not issubclass(store, TrackedSessionMixin):
        return [
            Error(
                f"SESSION_ENGINE {engine!r} is not a tracked engine, so sessions are "
                "missing from the panel's index.",
                hint="Use the tracked twin of your engine: sessions_panel.backends.db, "
                ".cached_db, .cache, .file or .signed_cookies (same storage format, nobody "
                "is logged out).",
                id="sessions_panel.E001",
            )
        ]
    return []


def check_middleware(**kwargs: Any) -> list[CheckMessage]:
    middleware = list(settings.MIDDLEWARE)
    errors: list[CheckMessage] = []
    if PANEL_MIDDLEWARE not in middleware:
        errors.append(
            Error(
                f"{PANEL_MIDDLEWARE} is missing from MIDDLEWARE.",
                hint="Add it after SessionMiddleware and AuthenticationMiddleware.",
                id="sessions_panel.E003",
            )
        )
    else:
        position = middleware.index(PANEL_MIDDLEWARE)
        before = [m for m in (SESSION_MIDDLEWARE, AUTH_MIDDLEWARE) if m in middleware]
        if len(before) < 2 or any(middleware.index(m) > position for m in before):
            errors.append(
                Error(
                    f"{PANEL_MIDDLEWARE} must come after SessionMiddleware and "
                    "AuthenticationMiddleware in MIDDLEWARE.",
                    id="sessions_panel.E004",
                )
            )
    if HTMX_MIDDLEWARE not in middleware:
        errors.append(
            Error(
                f"{HTMX_MIDDLEWARE} is missing from MIDDLEWARE; the Sessions page needs it.",
                id="sessions_panel.E005",
            )
        )
    return errors


def _invalid_value(name: str, value: Any) -> str | None:
    if name in (
        "TRUSTED_PROXY_COUNT",
        "LAST_SEEN_INTERVAL",
        "REFRESH_INTERVAL",
        "GUEST_SWARM_THRESHOLD",
        "HISTORY_RETENTION_DAYS",
        "AUDIT_RETENTION_DAYS",
        "REAUTH_WINDOW",
        "REAUTH_MAX_FAILURES",
        "NEW_SIGN_IN_INTERVAL",
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return "a whole number of 0 or more"
    elif name == "REAUTH_LOCKOUT":
        # 0 would be no lock-out at all, and no window to count failures in: a limit
        # that never holds. REAUTH_MAX_FAILURES = 0 is how to turn it off.
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            return "a whole number of 1 or more (seconds)"
    elif name in ("PAGE_SIZE", "USER_AGENT_MAX_LENGTH"):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 512:
            return "a whole number from 1 to 512"
    elif name == "TRUSTED_PROXY_RANGES":
        if isinstance(value, str) or not isinstance(value, list | tuple):
            return "a list of CIDR ranges"
        try:
            for item in value:
                ipaddress.ip_network(item, strict=False)
        except (TypeError, ValueError):
            return "a list of CIDR ranges"
    elif name == "IP_STORAGE":
        if value not in ("full", "truncated", "none"):
            return '"full", "truncated" or "none"'
    elif name in (
        "STORE_USER_AGENT",
        "END_SESSIONS_ON_PASSWORD_CHANGE",
        "PROTECT_SUPERUSERS",
        "NEW_SIGN_IN_EMAIL",
    ):
        if not isinstance(value, bool):
            return "True or False"
    elif name == "REVOCATION_CACHE":
        if value is not None and not isinstance(value, bool):
            return "None (when the session cache is shared), True or False"
    elif name == "ACCOUNT_BASE_TEMPLATE":
        if not isinstance(value, str) or not value:
            return "a template name"
    elif name in ("IDLE_TIMEOUT", "ABSOLUTE_LIFETIME", "MAX_SESSIONS_PER_USER"):
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 0
        ):
            if name == "MAX_SESSIONS_PER_USER":
                return "None or 0 (no cap), or a whole number of sessions (1 or more)"
            return "None or 0 (off), or a whole number of seconds (1 or more)"
    elif name == "MAX_SESSIONS_ACTION":
        if value not in ("end_oldest", "refuse"):
            return '"end_oldest" or "refuse"'
    elif name == "LOCKDOWN_ALLOW_GROUP":
        if value is not None and (
            not isinstance(value, str) or not value.strip() or len(value) > 150
        ):
            return "None (superusers) or the name of a group (1 to 150 characters)"
    elif name == "MAX_SESSIONS_RESOLVER" and value is not None and not callable(value):
        if not _imports_callable(value):
            return "None or the dotted path of a callable (user) -> int | None"
    elif name == "APPLICATION_RESOLVER" and value is not None and not callable(value):
        # A non-string would crash import_string; a path to a non-callable would fail
        # every request.
        try:
            target = import_string(value) if isinstance(value, str) else None
        except ImportError:
            target = None
        if not callable(target):
            return "None or the dotted path of a callable (request) -> str"
    return None


def _imports_callable(value: Any) -> bool:
    """Whether ``value`` is the dotted path of a callable (a non-string would crash
    ``import_string``; a path to a non-callable would fail every use)."""
    try:
        target = import_string(value) if isinstance(value, str) else None
    except ImportError:
        target = None
    return callable(target)


def check_policies(**kwargs: Any) -> list[CheckMessage]:
    """W002: an idle timeout the "last seen" writes are too coarse to keep.

    "Last seen" is written at most every ``LAST_SEEN_INTERVAL`` seconds, so a session
    in use may look that much idler than it is: with ``IDLE_TIMEOUT`` under twice the
    interval, a session used steadily could be refused.
    """
    config = getattr(settings, "SESSIONS_PANEL", {})
    if not isinstance(config, Mapping):
        return []
    idle = config.get("IDLE_TIMEOUT", DEFAULTS["IDLE_TIMEOUT"])
    interval = config.get("LAST_SEEN_INTERVAL", DEFAULTS["LAST_SEEN_INTERVAL"])
    valid = all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (idle, interval))
    if not valid or not idle or idle >= 2 * interval:
        return []  # off, or invalid (E007 says so)
    return [
        Warning(
            f"SESSIONS_PANEL['IDLE_TIMEOUT'] ({idle} s) is less than twice "
            f'LAST_SEEN_INTERVAL ({interval} s): "last seen" is written at most once per '
            "interval, so a session in use could be refused as idle.",
            hint=f"Raise IDLE_TIMEOUT to {2 * interval} or more, or lower LAST_SEEN_INTERVAL "
            f"to {idle // 2} or less.",
            id="sessions_panel.W002",
        )
    ]


def check_settings(**kwargs: Any) -> list[CheckMessage]:
    config = getattr(settings, "SESSIONS_PANEL", {})
    if not isinstance(config, Mapping):
        return [Error("SESSIONS_PANEL must be a dict.", id="sessions_panel.E007")]
    errors: list[CheckMessage] = []
    for name, value in config.items():
        if name not in DEFAULTS:
            errors.append(
                Error(
                    f"Unknown key {name!r} in SESSIONS_PANEL.",
                    hint="Known keys: " + ", ".join(sorted(DEFAULTS)) + ".",
                    id="sessions_panel.E006",
                )
            )
            continue
        expected = _invalid_value(name, value)
        if expected is not None:
            errors.append(
                Error(
                    f"SESSIONS_PANEL[{name!r}] must be {expected}.",
                    id="sessions_panel.E007",
                )
            )
    return errors


def _served_admin_sites(resolver: URLResolver, prefix: str = "") -> Iterator[tuple[AdminSite, str]]:
    """Every ``AdminSite`` the URLconf serves, with the route it is served under.

    A site's ``urls`` is an include with the application namespace ``admin``; its
    ``index`` view carries the site itself (``admin_site``, set by Django's own
    ``AdminSite.get_urls``). A site whose ``get_urls`` drops that attribute is matched
    by its instance namespace among every site built (``all_sites``).
    """
    for pattern in resolver.url_patterns:
        if not isinstance(pattern, URLResolver):
            continue
        route = prefix + str(pattern.pattern).removeprefix("^")
        if pattern.app_name == "admin":
            site = _site_of(pattern)
            if site is not None:
                yield site, route
                continue
        yield from _served_admin_sites(pattern, route)


def _site_of(resolver: URLResolver) -> AdminSite | None:
    for pattern in resolver.url_patterns:
        site = getattr(getattr(pattern, "callback", None), "admin_site", None)
        if isinstance(site, AdminSite):
            return site
    named = [site for site in list(all_sites) if site.name == resolver.namespace]
    return named[0] if len(named) == 1 else None


def check_admin_sites(**kwargs: Any) -> list[CheckMessage]:
    """W001: a served admin site that lists users but not the Sessions page.

    Such a site is where staff manage accounts; its admins would look there for the
    sessions, and the page lives on a site only once :func:`sessions_panel.sites.register`
    put it there (the default site gets it through autodiscovery, extra sites do not).
    """
    from sessions_panel.sites import missing_from

    if not getattr(settings, "ROOT_URLCONF", None):
        return []
    try:
        user_model = apps.get_model(settings.AUTH_USER_MODEL, require_ready=False)
    except (LookupError, ValueError):
        return []  # Django's auth checks report a bad AUTH_USER_MODEL
    warnings: list[CheckMessage] = []
    seen: set[int] = set()
    for site, route in _served_admin_sites(get_resolver()):
        if id(site) in seen or not site.is_registered(user_model):
            continue
        seen.add(id(site))
        missing = missing_from(site)
        if not missing:
            continue
        what = " or ".join(
            PANEL_PARTS.get(model._meta.label, model._meta.label) for model in missing
        )
        warnings.append(
            Warning(
                f"The admin site {site.name!r} (served at /{route}) lists users but not {what}.",
                hint=(
                    "Add the Sessions page and the audit trail where the site is defined: "
                    "from sessions_panel.sites import register; register(<the site>). "
                    "If the site is meant to go without them, silence this check: "
                    "SILENCED_SYSTEM_CHECKS = ['sessions_panel.W001']."
                ),
                obj=site,
                id="sessions_panel.W001",
            )
        )
    return warnings
