"""Django's file engine, tracked.

Django's file engine implements its async methods by calling the sync ones in the
event loop; the tracked mixin runs them in a thread instead, since the sync ones also
write the index through the ORM, which refuses to run inside an event loop.
"""

from __future__ import annotations

from django.contrib.sessions.backends import file

from sessions_panel.backends.tracked import TrackedSessionMixin


class SessionStore(TrackedSessionMixin, file.SessionStore):
    def load(self) -> dict[str, object]:
        data = super().load()
        if self._session_key is not None and data:
            # The store's own expiry (file age, or the custom one), for indexing a
            # session on its next request without extending it.
            try:
                modified = self._last_modification()  # type: ignore[attr-defined]
            except OSError:
                self._stored_expiry = None
            else:
                self._stored_expiry = self.get_expiry_date(
                    modification=modified, expiry=data.get("_session_expiry")
                )
        return data
