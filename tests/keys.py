"""Which key the index knows a test's session by, on every engine of the matrix.

On every engine but one a session's index row is keyed by its session key. The
signed-cookie engine's session key is the cookie itself (the whole signed payload,
never stored on the server); its row is keyed by the identifier inside the cookie.
Tests that look a session up in the index ask :func:`indexed` rather than reading
``session_key``.
"""

from __future__ import annotations

from importlib import import_module
from typing import overload

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase

from sessions_panel.tracking.keys import index_key


@overload
def indexed(value: str) -> str: ...
@overload
def indexed(value: SessionBase | str | None) -> str | None: ...
def indexed(value: SessionBase | str | None) -> str | None:
    """The index's key for a session object, or for a session key (a cookie) of the
    configured engine: the identifier inside it, whether or not it still loads (a key
    that is no cookie at all comes back as it is)."""
    if value is None:
        return None
    if isinstance(value, SessionBase):
        return index_key(value)
    store = import_module(settings.SESSION_ENGINE).SessionStore
    identifier_of = getattr(store, "_identifier_of", None)
    if identifier_of is None:
        return value
    found = identifier_of(store(), value)
    return value if found is None else str(found)
