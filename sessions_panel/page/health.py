"""Can kills hold here, and is the session store reachable? Asked once per page so a
misconfiguration or an outage is said, not hidden.

The list comes from the index in the database, so it renders during a cache outage,
and kills still hold (their revocations live in the database), but the ended
sessions' data stays in the store until it is back.
"""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.core.cache import caches
from django.utils.translation import gettext as _

PING_KEY = "sessions_panel:ping"


def configuration_message() -> str | None:
    """Why kills are refused on this site as it runs, for the page; else ``None``."""
    from sessions_panel.termination import configuration_problem

    problem = configuration_problem()
    if problem == "engine":
        return _(
            "This site runs the session engine %(engine)s, which the panel does not track: "
            "the list may be out of date, and ending sessions is disabled. Use "
            "sessions_panel.backends.db, .cached_db, .cache, .file or .signed_cookies "
            "(check sessions_panel.E001)."
        ) % {"engine": settings.SESSION_ENGINE}
    if problem == "middleware":
        return _(
            "The panel's middleware is missing from MIDDLEWARE: sessions are not kept up "
            "to date, and ending sessions is disabled (check sessions_panel.E003)."
        )
    return None


def store_problem() -> str | None:
    """A message for the admin when kills cannot hold or the session cache cannot be
    reached, else ``None``."""
    message = configuration_message()
    if message is not None:
        return message
    store = import_module(settings.SESSION_ENGINE).SessionStore
    if getattr(store, "cache_key_prefix", None) is None:
        return None  # db and file engines: the database error, if any, speaks for itself
    try:
        caches[settings.SESSION_CACHE_ALIAS].get(PING_KEY)
    except Exception:
        return _(
            "The session cache cannot be reached. The list below comes from the "
            "database. Ending sessions still holds (they are refused at once), but their "
            "stored data is deleted only once the cache is back."
        )
    return None
