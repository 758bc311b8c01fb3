"""The panel's settings: one namespaced dict, ``SESSIONS_PANEL``, read live.

Reading on every access (rather than caching) keeps ``override_settings`` working
without a ``setting_changed`` receiver. :func:`generation` counts the changes, for
code that remembers a value worked out from them (see ``client.RequestClient``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.http import HttpRequest
from django.utils.module_loading import import_string

#: The panel's middleware as ``MIDDLEWARE`` names it: check E003 asks for it, and every
#: kill first makes sure it runs (:func:`sessions_panel.termination.guard.configuration_problem`).
PANEL_MIDDLEWARE = "sessions_panel.middleware.SessionsPanelMiddleware"

DEFAULTS: Mapping[str, Any] = {
    # Number of reverse proxies in front of Django that each append to X-Forwarded-For.
    "TRUSTED_PROXY_COUNT": 0,
    # CIDR ranges whose addresses are trusted proxies (e.g. ["10.0.0.0/8"]).
    "TRUSTED_PROXY_RANGES": (),
    # Dotted path to a callable ``(request) -> str`` naming the request's application.
    "APPLICATION_RESOLVER": None,
    # "Last seen" is written at most once per this many seconds per session.
    "LAST_SEEN_INTERVAL": 60,
    # User agents are stored cleaned and cut to this many characters.
    "USER_AGENT_MAX_LENGTH": 512,
    # Rows per page on the Sessions page.
    "PAGE_SIZE": 50,
    # Seconds between live refreshes of the Sessions page (0 turns it off).
    "REFRESH_INTERVAL": 15,
    # How client IPs are stored: "full", "truncated" (/24 for IPv4, /48 for IPv6), "none".
    "IP_STORAGE": "full",
    # Whether user agents are stored at all.
    "STORE_USER_AGENT": True,
    # "Guest swarm": more than this many live guest sessions from one IP address.
    "GUEST_SWARM_THRESHOLD": 5,
    # Days the IP history behind "New IP" is kept.
    "HISTORY_RETENTION_DAYS": 90,
    # Days kill audit entries are kept (0 keeps them forever).
    "AUDIT_RETENTION_DAYS": 365,
    # Seconds after a login or password check during which Kill All and filter-wide
    # kills do not ask for the password again (0: never ask).
    "REAUTH_WINDOW": 600,
    # Wrong passwords at that prompt, per admin account (all their sessions, every
    # server), within REAUTH_LOCKOUT seconds, that lock it (0: never locks).
    "REAUTH_MAX_FAILURES": 5,
    # Seconds the prompt stays locked (even the right password is refused); also how
    # long a wrong password counts towards REAUTH_MAX_FAILURES.
    "REAUTH_LOCKOUT": 300,
    # Only a superuser may end a superuser's sessions: lesser staff are refused one
    # session or kill-user, and their Kill All and filter-wide kills spare them.
    "PROTECT_SUPERUSERS": True,
    # End a user's other sessions when their password changes (their current session,
    # re-keyed by update_session_auth_hash, stays).
    "END_SESSIONS_ON_PASSWORD_CHANGE": False,
    # Email a user when they sign in from a browser or an address their account has
    # not used before (the new_sign_in signal is sent either way).
    "NEW_SIGN_IN_EMAIL": False,
    # Seconds between two such emails to one user, at most one in this time.
    "NEW_SIGN_IN_INTERVAL": 3600,
    # The template "Your sessions" extends (blocks ``title`` and ``content``): the
    # host's own base, so the page sits in the site's layout.
    "ACCOUNT_BASE_TEMPLATE": "sessions_panel/account/base.html",
    # Session policies (see sessions_panel.tracking.policies). Seconds a session may go unused
    # before it is refused (None or 0: no limit); precision is LAST_SEEN_INTERVAL.
    "IDLE_TIMEOUT": None,
    # Seconds an authenticated session may live after its login, however active
    # (None or 0: no limit).
    "ABSOLUTE_LIFETIME": None,
    # Live sessions one user may hold at once (None or 0: no limit); guests never count.
    "MAX_SESSIONS_PER_USER": None,
    # At a login over the cap: "end_oldest" ends the user's oldest sessions, "refuse"
    # refuses the login.
    "MAX_SESSIONS_ACTION": "end_oldest",
    # Dotted path to a callable ``(user) -> int | None``: that user's cap (0: none),
    # or None for MAX_SESSIONS_PER_USER.
    "MAX_SESSIONS_RESOLVER": None,
    # Who may still sign in during a site lockdown: superusers (None), or the members
    # of the group of this name (and only they: superusers outside it are refused too).
    "LOCKDOWN_ALLOW_GROUP": None,
    # Keep each session's revocation state in the session cache, so the cache engines
    # serve a request without a database round trip (see
    # sessions_panel.tracking.revocation_cache): None keeps it when that cache is Redis
    # or Memcached (shared by every app server), True always, False never.
    "REVOCATION_CACHE": None,
}


_generation = 0


def generation() -> int:
    """A number that changes whenever ``SESSIONS_PANEL`` is overridden or restored."""
    return _generation


def _changed(*, setting: str, **kwargs: Any) -> None:
    global _generation
    if setting == "SESSIONS_PANEL":
        _generation += 1


setting_changed.connect(_changed, dispatch_uid="sessions_panel.conf.generation")


def user_settings() -> Mapping[str, Any]:
    value = getattr(settings, "SESSIONS_PANEL", {})
    return value if isinstance(value, Mapping) else {}


def get(name: str) -> Any:
    return user_settings().get(name, DEFAULTS[name])


class Settings:
    """Typed, live view of ``SESSIONS_PANEL`` merged over :data:`DEFAULTS`."""

    @property
    def TRUSTED_PROXY_COUNT(self) -> int:
        return int(get("TRUSTED_PROXY_COUNT"))

    @property
    def TRUSTED_PROXY_RANGES(self) -> tuple[str, ...]:
        return tuple(get("TRUSTED_PROXY_RANGES"))

    @property
    def APPLICATION_RESOLVER(self) -> Callable[[HttpRequest], str] | None:
        path = get("APPLICATION_RESOLVER")
        if path is None:
            return None
        if callable(path):
            return path  # type: ignore[no-any-return]
        return import_string(path)  # type: ignore[no-any-return]

    @property
    def LAST_SEEN_INTERVAL(self) -> int:
        return int(get("LAST_SEEN_INTERVAL"))

    @property
    def USER_AGENT_MAX_LENGTH(self) -> int:
        return int(get("USER_AGENT_MAX_LENGTH"))

    @property
    def PAGE_SIZE(self) -> int:
        return int(get("PAGE_SIZE"))

    @property
    def REFRESH_INTERVAL(self) -> int:
        return int(get("REFRESH_INTERVAL"))

    @property
    def IP_STORAGE(self) -> str:
        return str(get("IP_STORAGE"))

    @property
    def STORE_USER_AGENT(self) -> bool:
        return bool(get("STORE_USER_AGENT"))

    @property
    def REAUTH_WINDOW(self) -> int:
        return int(get("REAUTH_WINDOW"))

    @property
    def REAUTH_MAX_FAILURES(self) -> int:
        return int(get("REAUTH_MAX_FAILURES"))

    @property
    def REAUTH_LOCKOUT(self) -> int:
        return int(get("REAUTH_LOCKOUT"))

    @property
    def PROTECT_SUPERUSERS(self) -> bool:
        return bool(get("PROTECT_SUPERUSERS"))

    @property
    def NEW_SIGN_IN_EMAIL(self) -> bool:
        return bool(get("NEW_SIGN_IN_EMAIL"))

    @property
    def NEW_SIGN_IN_INTERVAL(self) -> int:
        return int(get("NEW_SIGN_IN_INTERVAL"))

    @property
    def ACCOUNT_BASE_TEMPLATE(self) -> str:
        return str(get("ACCOUNT_BASE_TEMPLATE"))

    @property
    def GUEST_SWARM_THRESHOLD(self) -> int:
        return int(get("GUEST_SWARM_THRESHOLD"))

    @property
    def HISTORY_RETENTION_DAYS(self) -> int:
        return int(get("HISTORY_RETENTION_DAYS"))

    @property
    def AUDIT_RETENTION_DAYS(self) -> int:
        return int(get("AUDIT_RETENTION_DAYS"))

    @property
    def END_SESSIONS_ON_PASSWORD_CHANGE(self) -> bool:
        return bool(get("END_SESSIONS_ON_PASSWORD_CHANGE"))

    @property
    def IDLE_TIMEOUT(self) -> int:
        """Seconds; 0 when off (``None`` or ``0``)."""
        return int(get("IDLE_TIMEOUT") or 0)

    @property
    def ABSOLUTE_LIFETIME(self) -> int:
        """Seconds; 0 when off (``None`` or ``0``)."""
        return int(get("ABSOLUTE_LIFETIME") or 0)

    @property
    def MAX_SESSIONS_PER_USER(self) -> int:
        """Sessions; 0 when off (``None`` or ``0``)."""
        return int(get("MAX_SESSIONS_PER_USER") or 0)

    @property
    def MAX_SESSIONS_ACTION(self) -> str:
        return str(get("MAX_SESSIONS_ACTION"))

    @property
    def MAX_SESSIONS_RESOLVER(self) -> Callable[[Any], int | None] | None:
        path = get("MAX_SESSIONS_RESOLVER")
        if path is None:
            return None
        if callable(path):
            return path  # type: ignore[no-any-return]
        return import_string(path)  # type: ignore[no-any-return]

    @property
    def LOCKDOWN_ALLOW_GROUP(self) -> str | None:
        value = get("LOCKDOWN_ALLOW_GROUP")
        return str(value) if value else None

    @property
    def REVOCATION_CACHE(self) -> bool | None:
        value = get("REVOCATION_CACHE")
        return None if value is None else bool(value)


conf = Settings()
