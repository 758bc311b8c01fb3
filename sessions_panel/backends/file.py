"""Django's file engine, tracked.

Django's file engine implements its async methods by calling the sync ones in the
event loop; ours run them in a thread instead, since the sync ones now also write the
index through the ORM, which refuses to run inside an event loop.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
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

    async def asave(self, must_create: bool = False) -> None:
        await sync_to_async(self.save)(must_create=must_create)

    async def acreate(self) -> None:
        await sync_to_async(self.create)()

    async def adelete(self, session_key: str | None = None) -> None:
        await sync_to_async(self.delete)(session_key)

    async def aload(self) -> dict[str, object]:
        return await sync_to_async(self.load)()

    @classmethod
    async def aclear_expired(cls) -> None:
        await sync_to_async(cls.clear_expired)()
