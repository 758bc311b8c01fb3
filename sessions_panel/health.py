"""Is the session store reachable? Asked once per page so an outage is said, not hidden.

The list comes from the index in the database, so it renders during a cache outage;
but kills on a cache-backed engine would fail, and the admin should know before trying.
"""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.core.cache import caches
from django.utils.translation import gettext as _

PING_KEY = "sessions_panel:ping"


def store_problem() -> str | None:
    """A message for the admin when the session cache cannot be reached, else ``None``."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    if getattr(store, "cache_key_prefix", None) is None:
        return None  # db and file engines: the database error, if any, speaks for itself
    try:
        caches[settings.SESSION_CACHE_ALIAS].get(PING_KEY)
    except Exception:
        return _(
            "The session cache cannot be reached. The list below comes from the "
            "database, but ending sessions will fail until the cache is back."
        )
    return None
