"""The mixin every tracked engine shares: Django's engine, plus an exact index and
refusal of killed sessions.

The session data is Django's, untouched: nothing is added to what ``items()``,
``keys()`` or ``get_decoded()`` show, and ``cycle_key``, ``clear``, ``flush`` and the
manager API behave as Django's do (Django's own ``sessions_tests`` run against these
engines in CI). When a key was issued, which kills compare with, lives in the index
row (see :mod:`sessions_panel.tracking.revocation`). ``create``, ``cycle_key`` and ``flush``
all end in ``save`` or ``delete``, so overriding those two keeps the index exact.

The async twins run the sync methods in a thread: one code path, and the index writes
go through the ORM, which refuses to run inside an event loop.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.contrib.sessions.backends.base import UpdateError
from django.core.cache import BaseCache
from django.db import router, transaction

from sessions_panel.models import SessionRecord
from sessions_panel.tracking import index_writer, revocation, revocation_cache
from sessions_panel.tracking.client import ClientInfo, RequestClient, resolved

if TYPE_CHECKING:
    from django.contrib.sessions.backends.base import SessionBase

    _Base = SessionBase
else:
    _Base = object

logger = logging.getLogger("sessions_panel")

#: Where versions before 0.2 kept the issue time, inside the session data.
LEGACY_STAMP = "_sessions_panel_stamp"
#: Keys versions before 0.2 added to the session data; dropped on load.
LEGACY_KEYS = (LEGACY_STAMP, "_sessions_panel_authenticated_at")


class TrackedSessionMixin(_Base):
    #: Request metadata set by the middleware; ``None`` outside a request.
    client: ClientInfo | RequestClient | None = None
    #: The store's own expiry, when the engine read it while loading.
    _stored_expiry: datetime | None = None
    #: Revocation state the engine read together with the session, if it could.
    _known: revocation.Known | None = None
    #: The cache engines: the generation under which a state this load reads from the
    #: database is kept for the next (``None``: nothing to keep; see
    #: :mod:`sessions_panel.tracking.revocation_cache`).
    _generation: str | None = None

    # -- load: refuse what was killed ------------------------------------------------

    def load(self) -> dict[str, Any]:
        self._forget_state()
        try:
            data = self._store_load()
            known, generation = self._known, self._generation
        finally:
            self._forget_state()
        for legacy in LEGACY_KEYS:
            data.pop(legacy, None)
        key = self._loaded_key()
        if key is None:
            return data
        user_id = index_writer.user_id_from(data)
        why, state = revocation.verdict(key, user_id, known, policies=True)
        if why is None:
            if generation is not None:
                revocation_cache.keep(revocation_cache.session_cache(), generation, state)
            return data
        if why in revocation.POLICIES:
            # Ended by a session policy, here and now: on the record like a kill.
            from sessions_panel import termination

            termination.end_refused(self, key, user_id, why, state)
        else:
            self._discard(key)
        return self._refuse()

    async def aload(self) -> dict[str, Any]:
        return await sync_to_async(self.load)()

    def _forget_state(self) -> None:
        """What a load read besides the data is for that load alone."""
        self._known = self._generation = None

    def _store_load(self) -> dict[str, Any]:
        """The engine's own load; an engine may replace it (see ``cached_db``)."""
        return super().load()

    def _loaded_key(self) -> str | None:
        """The index's key for the session just loaded (``None``: the store did not
        hold it); the signed-cookie engine's is the identifier inside its cookie."""
        return self._session_key

    def tracked_key(self) -> str | None:
        """The key the index row and the revocations know this session by (see
        :mod:`sessions_panel.tracking.keys`): here its session key."""
        return self.session_key

    def _refuse(self) -> dict[str, Any]:
        # Exactly what Django does for a key its store does not hold: the request goes
        # on anonymous and a later save creates a fresh key.
        self._session_key = None
        self._stored_expiry = None
        return {}

    def _delete_stored(self, key: str) -> None:
        """Delete ``key`` from the store alone (the caller sees to the index row)."""
        super().delete(key)

    def _discard(self, key: str) -> None:
        """Drop a refused session's data and index row: nothing can make it live again
        (markers stay, epochs only move forward), and a row left behind would be listed
        and counted. Best effort: a store that is down keeps refusing it anyway."""
        try:
            self.delete(key)
        except Exception:
            logger.warning("could not delete a refused session from the store", exc_info=True)
            index_writer.remove(key)

    # -- save: index, and refuse to revive what was killed meanwhile ------------------

    def save(self, must_create: bool = False) -> None:
        data = self._get_session(no_load=must_create)  # type: ignore[attr-defined]
        if self.session_key is None:
            return self.create()  # create() saves again, and that save indexes
        key = self.session_key
        with self._store_and_index():
            super().save(must_create=must_create)
            try:
                index_writer.upsert(
                    key, data, self.get_expiry_date(), resolved(self.client), issued=must_create
                )
            except Exception:
                self._store_rolled_back(key)
                raise
        if must_create:
            return  # a key made just now: nothing can have killed it yet
        # Checked after the write, not before: a kill that committed before this check
        # is seen here, and one that commits after it deletes what was just written. So
        # a kill racing a save never leaves the session, or its index row, behind.
        if revocation.refusal(key, index_writer.user_id_from(data)) is not None:
            self._discard(key)
            raise UpdateError  # SessionMiddleware answers SessionInterrupted, as Django does

    @classmethod
    def store_database(cls) -> str | None:
        """The database alias the store's table is written to; ``None`` for a store that
        is not a table (cache, files, cookies)."""
        return None

    @classmethod
    def _store_and_index(cls) -> AbstractContextManager[Any]:
        """One transaction for the store's write and the index row's, when both live in
        the same database: no one ever sees a stored session without its row (Kill All's
        clean-up keeps only the stored sessions whose row says they survive, see
        :mod:`sessions_panel.termination.truncation`), and it is one commit, not two."""
        using = cls.store_database()
        if using is None or using != router.db_for_write(SessionRecord):
            return nullcontext()
        return transaction.atomic(using=using)

    def _store_rolled_back(self, key: str) -> None:
        """The index write failed after the store's: undo what the transaction's
        rollback cannot (``cached_db``: the copy it put in the cache)."""

    async def asave(self, must_create: bool = False) -> None:
        await sync_to_async(self.save)(must_create=must_create)

    async def acreate(self) -> None:
        await sync_to_async(self.create)()

    # -- cycle_key: a killed session cannot be re-keyed alive ------------------------

    def cycle_key(self) -> None:
        data = self._session  # type: ignore[attr-defined]
        old = self.session_key
        self.create()
        self._session_cache = data
        if not old:
            return
        new = self.session_key
        assert new is not None
        index_writer.carry_login(old, new)
        # After the new key exists, so a kill committing meanwhile is either seen here
        # or has an epoch later than the new key's issue time (and refuses it).
        killed = revocation.refusal(old, index_writer.user_id_from(data)) is not None
        self.delete(old)
        if killed:
            # Killed while this request ran (a login or password change in flight):
            # the new key is born killed, so the response cannot log anyone in with it.
            revocation.revoke_key(new)
            self._discard(new)

    async def acycle_key(self) -> None:
        await sync_to_async(self.cycle_key)()

    # -- delete ----------------------------------------------------------------------

    def delete(self, session_key: str | None = None) -> None:
        key = session_key if session_key is not None else self.session_key
        super().delete(session_key)
        if key is not None:
            index_writer.remove(key)

    async def adelete(self, session_key: str | None = None) -> None:
        await sync_to_async(self.delete)(session_key)

    async def aflush(self) -> None:
        await sync_to_async(self.flush)()

    @classmethod
    def clear_expired(cls) -> None:
        super().clear_expired()
        index_writer.prune()
        revocation.prune()

    @classmethod
    async def aclear_expired(cls) -> None:
        await sync_to_async(cls.clear_expired)()

    # -- bulk purge (Kill All, kill a user) -------------------------------------------

    @classmethod
    def purge_keys(cls, session_keys: list[str], *, index: bool = True) -> None:
        """Delete many sessions from the store and (``index``) their index rows; engines
        batch natively. ``index=False`` when the caller empties the index itself."""
        for key in session_keys:
            cls().delete(key)

    # -- last seen -------------------------------------------------------------------

    def touch(self, interval: int) -> bool:
        """Record that the session was used (see :func:`index_writer.touch`).

        Loads the session if the request has not yet; does nothing for a key the store
        does not hold (or refuses), so a forged cookie never creates a row.
        """
        data = self._get_session()  # type: ignore[attr-defined]
        key = self.tracked_key()
        if key is None:
            return False
        return index_writer.touch(key, data, self.stored_expiry, self.client, interval)

    def stored_expiry(self) -> datetime:
        """When the store will drop this session; asked only when indexing it late."""
        return self._stored_expiry or self.get_expiry_date()


class CachedStateLoad(_Base):
    """For the cache engines: read the session and its kept revocation state together."""

    cache_key: str
    _known: revocation.Known | None
    _generation: str | None

    def _cache_load(self, cache: BaseCache) -> Any:
        """The session data in ``cache`` (``None`` if absent), one round trip; sets
        ``_known`` from a kept state, or ``_generation`` to keep the one read next."""
        key = self._session_key
        if key is None or not revocation_cache.applies(cache):
            return cache.get(self.cache_key)
        data, known, generation = revocation_cache.read(cache, self.cache_key, key)
        if known is not None:
            self._known = known
        else:
            self._generation = generation
        return data
