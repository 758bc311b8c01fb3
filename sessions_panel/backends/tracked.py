"""The mixin every tracked engine shares: Django's engine, plus an exact index and
refusal of killed sessions.

The storage format is Django's own (one extra key, :data:`revocation.STAMP`, in the
session data), so switching to a tracked engine logs nobody out and switching back
loses nothing. ``create``, ``cycle_key`` and ``flush`` all end in ``save`` or
``delete``, so overriding those two (and their async twins) keeps the index exact.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.contrib.sessions.backends.base import UpdateError

from sessions_panel import records, revocation
from sessions_panel.client import ClientInfo, RequestClient, resolved

if TYPE_CHECKING:
    from django.contrib.sessions.backends.base import SessionBase

    _Base = SessionBase
else:
    _Base = object


class TrackedSessionMixin(_Base):
    #: Request metadata set by the middleware; ``None`` outside a request.
    client: ClientInfo | RequestClient | None = None
    #: The store's own expiry, when the engine read it while loading.
    _stored_expiry: datetime | None = None
    #: Revocation state the engine read together with the session, if it could.
    _known: revocation.Known | None = None

    # -- load: refuse what was killed ------------------------------------------------

    def load(self) -> dict[str, Any]:
        self._known = None
        try:
            data = self._store_load()
            known = self._known
        finally:
            self._known = None
        key = self._session_key
        if key is None:
            return data
        why = revocation.refusal(key, records.user_id_from(data), revocation.stamp_of(data), known)
        if why == "epoch":
            # A row that outlived Kill All or a user kill. A session killed by name
            # keeps its row until the kill is confirmed, so the admin can retry it.
            records.remove(key)
        if why is not None:
            return self._refuse()
        return data

    async def aload(self) -> dict[str, Any]:
        data: dict[str, Any] = await super().aload()
        key = self._session_key
        if key is None:
            return data
        why = await sync_to_async(revocation.refusal)(
            key, records.user_id_from(data), revocation.stamp_of(data)
        )
        if why == "epoch":
            await records.aremove(key)
        if why is not None:
            return self._refuse()
        return data

    def _store_load(self) -> dict[str, Any]:
        """The engine's own load; an engine may replace it (see ``cached_db``)."""
        return super().load()

    def _refuse(self) -> dict[str, Any]:
        # Exactly what Django does for a key its store does not hold: the request goes
        # on anonymous and a later save creates a fresh key. The stored data is left
        # for the kill's purge (deleting it here could race a legitimate restamp).
        self._session_key = None
        self._stored_expiry = None
        return {}

    # -- save: stamp new keys, refuse to revive killed ones, index -------------------

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()  # create() saves again, and that save indexes
        data = self._get_session(no_load=must_create)  # type: ignore[attr-defined]
        if must_create:
            data[revocation.STAMP] = revocation.now_stamp()
        elif revocation.is_refused(
            self.session_key, records.user_id_from(data), revocation.stamp_of(data)
        ):
            raise UpdateError  # killed while this request ran: SessionInterrupted
        super().save(must_create=must_create)
        records.upsert(self.session_key, data, self.get_expiry_date(), resolved(self.client))

    async def asave(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return await self.acreate()
        data = await self._aget_session(no_load=must_create)  # type: ignore[attr-defined]
        if must_create:
            data[revocation.STAMP] = revocation.now_stamp()
        elif await revocation.ais_refused(
            self.session_key, records.user_id_from(data), revocation.stamp_of(data)
        ):
            raise UpdateError
        await super().asave(must_create=must_create)
        client = resolved(self.client)
        await records.aupsert(self.session_key, data, await self.aget_expiry_date(), client)

    # -- delete ----------------------------------------------------------------------

    def delete(self, session_key: str | None = None) -> None:
        key = session_key if session_key is not None else self.session_key
        super().delete(session_key)
        if key is not None:
            records.remove(key)

    async def adelete(self, session_key: str | None = None) -> None:
        key = session_key if session_key is not None else self.session_key
        await super().adelete(session_key)
        if key is not None:
            await records.aremove(key)

    @classmethod
    def clear_expired(cls) -> None:
        super().clear_expired()
        records.prune()
        revocation.prune()

    @classmethod
    async def aclear_expired(cls) -> None:
        from asgiref.sync import sync_to_async

        await super().aclear_expired()
        await sync_to_async(records.prune)()
        await sync_to_async(revocation.prune)()

    # -- bulk purge (Kill All, kill a user) -------------------------------------------

    @classmethod
    def purge_keys(cls, session_keys: list[str], *, index: bool = True) -> None:
        """Delete many sessions from the store and (``index``) their index rows; engines
        batch natively. ``index=False`` when the caller empties the index itself."""
        for key in session_keys:
            cls().delete(key)

    # -- last seen -------------------------------------------------------------------

    def touch(self, interval: int) -> bool:
        """Record that the session was used (see :func:`records.touch`).

        Loads the session if the request has not yet; does nothing for a key the store
        does not hold (or refuses), so a forged cookie never creates a row.
        """
        data = self._get_session()  # type: ignore[attr-defined]
        if self.session_key is None:
            return False
        return records.touch(self.session_key, data, self.stored_expiry, self.client, interval)

    def stored_expiry(self) -> datetime:
        """When the store will drop this session; asked only when indexing it late."""
        return self._stored_expiry or self.get_expiry_date()
