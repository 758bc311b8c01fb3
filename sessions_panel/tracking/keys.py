"""Which key the session index and the revocations know a session by.

For every tracked engine but one it is the session key itself. The signed-cookie
engine's session key is the cookie: the whole signed payload, which changes on every
save and never goes into the index; the index knows that session by the identifier the
payload carries (``sessions_panel.backends.signed_cookies``). Code that looks up "this
request's session" in the index (the admin's own row, the session a kill keeps, the
login time, the re-authentication time) asks here rather than reading ``session_key``.
"""

from __future__ import annotations

from typing import Any


def index_key(session: Any) -> str | None:
    """The index's key for ``session`` (a ``SessionBase``), or ``None`` if it has none
    yet (never saved, or refused)."""
    if session is None:
        return None
    tracked = getattr(session, "tracked_key", None)
    if callable(tracked):
        key = tracked()
        return None if key is None else str(key)
    key = getattr(session, "session_key", None)
    return None if key is None else str(key)
