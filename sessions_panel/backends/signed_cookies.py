"""Django's signed-cookie engine, tracked.

Django's ``signed_cookies`` engine keeps the whole session in the browser: the cookie
*is* the session key, a signed payload that changes on every save, and the server keeps
nothing it could list or delete. Tracked, each session also carries a random
**identifier** inside its signed payload (under :data:`IDENTIFIER`, never shown to the
application: ``items()``, ``keys()`` and ``get_decoded()`` are Django's). The index row
and the revocations know the session by that identifier, never by the cookie, which
never reaches the server's storage.

What differs from the server-side engines:

* Ending a session cannot erase it: its data is in the browser. A kill, a logout
  (``flush``) and a re-key (``cycle_key``) write a revocation marker for the
  identifier instead, which every load checks: the same cookie, replayed, is refused
  (the request goes on anonymous). The marker is kept until every cookie carrying the
  identifier has expired (``SESSION_COOKIE_AGE`` after the last one could have been
  signed), then ``clearsessions`` prunes it, with the index rows of expired sessions.
* "Kill user" and Kill All work as for every engine, by the "not before" epochs
  compared with the index row's issue time.
* A cookie made by Django's own engine (before the switch) has no identifier. It
  loads as before (nobody is logged out by switching), known to the index by a digest
  of the cookie until its next save writes an identifier into it; its issue time is
  unknown, so Kill All and kill user end it (as for any session indexed late).

As in Django's engine, a custom expiry (``set_expiry``) is the browser's to keep: the
server refuses a cookie only ``SESSION_COOKIE_AGE`` after it was signed (Django's
ticket #19201).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.sessions.backends import signed_cookies
from django.contrib.sessions.backends.base import UpdateError
from django.core import signing
from django.db import router
from django.utils import timezone

from sessions_panel.backends.tracked import TrackedSessionMixin
from sessions_panel.models import SessionRecord
from sessions_panel.tracking import index_writer, revocation
from sessions_panel.tracking.client import resolved

#: Where the identifier lives in the signed payload (reserved: the application's data
#: never shows it, and a value the application stored there would be replaced).
IDENTIFIER = "_sessions_panel_id"
#: Django's salt for session cookies: the cookies stay Django's, both ways.
SALT = "django.contrib.sessions.backends.signed_cookies"
#: An identifier: 32 URL-safe characters (a cookie always has ``:`` in it).
IDENTIFIER_FORMAT = re.compile(r"[A-Za-z0-9_-]{32}")


def new_identifier() -> str:
    """A random identifier: 24 bytes, 32 URL-safe characters (fits the index's key)."""
    return secrets.token_urlsafe(24)


def legacy_identifier(cookie: str) -> str:
    """The identifier of a cookie that carries none (made by Django's own engine): a
    digest of the cookie, so the same cookie is always the same session, and the
    cookie itself is never stored."""
    digest = hashlib.sha256(f"sessions_panel.signed_cookies:{cookie}".encode())
    return digest.hexdigest()[:32]


class SessionStore(TrackedSessionMixin, signed_cookies.SessionStore):
    #: The identifier of the session held (``None``: none yet, or the cookie refused).
    _ident: str | None = None

    # -- the cookie --------------------------------------------------------------------

    def _unsign(self, cookie: str) -> dict[str, Any] | None:
        """The payload of a cookie, if its signature and age hold (Django's checks)."""
        try:
            data = signing.loads(
                cookie,
                serializer=self.serializer,
                # As Django's engine: the age from the signing time, not a custom expiry.
                max_age=self.get_session_cookie_age(),
                salt=SALT,
            )
        except Exception:
            # BadSignature, ValueError, or unpickling exceptions: as Django's engine.
            return None
        return data if isinstance(data, dict) else None

    def _identifier_of(self, key: str) -> str | None:
        """The identifier behind ``key``: an identifier as is, or the one a valid cookie
        carries (``None`` for anything else: nothing that could load)."""
        if IDENTIFIER_FORMAT.fullmatch(key):
            return key
        data = self._unsign(key)
        if data is None:
            return None
        ident = data.get(IDENTIFIER)
        if isinstance(ident, str) and IDENTIFIER_FORMAT.fullmatch(ident):
            return ident
        return legacy_identifier(key)

    def _get_session_key(self) -> str:
        """Django's signed payload of the session, with the identifier added."""
        payload = dict(self._session)  # type: ignore[attr-defined]
        payload[IDENTIFIER] = self._ident
        return signing.dumps(payload, compress=True, salt=SALT, serializer=self.serializer)

    def _moment(self, timestamp: float) -> datetime:
        moment = datetime.fromtimestamp(timestamp, tz=UTC)
        return moment if settings.USE_TZ else timezone.make_naive(moment)

    def _expiry(self, signed_at: datetime, data: dict[str, Any]) -> datetime:
        """When a cookie signed at ``signed_at`` with ``data`` ends: its own expiry, or
        ``SESSION_COOKIE_AGE`` after the signing, whichever comes first."""
        own = self.get_expiry_date(modification=signed_at, expiry=data.get("_session_expiry"))
        return min(own, signed_at + timedelta(seconds=self.get_session_cookie_age()))

    def _latest_expiry(self) -> datetime:
        """The latest any cookie signed until now can still load: what a marker covers."""
        return timezone.now() + timedelta(seconds=self.get_session_cookie_age())

    # -- load --------------------------------------------------------------------------

    def _store_load(self) -> dict[str, Any]:
        self._ident = None
        self._stored_expiry = None
        cookie = self._session_key
        data = None if cookie is None else self._unsign(cookie)
        if cookie is None or data is None:
            # Django's engine starts a new session here (``create``); so does this one,
            # but it indexes nothing until the new session is saved.
            self._session_key = None
            return {}
        ident = data.pop(IDENTIFIER, None)
        if not (isinstance(ident, str) and IDENTIFIER_FORMAT.fullmatch(ident)):
            ident = legacy_identifier(cookie)
        self._ident = ident
        try:
            signed_at = self._moment(signing.b62_decode(cookie.rsplit(":", 2)[-2]))
        except (IndexError, ValueError):
            signed_at = timezone.now()
        self._stored_expiry = self._expiry(signed_at, data)
        return data

    def _loaded_key(self) -> str | None:
        return self._ident

    def tracked_key(self) -> str | None:
        if self._session_key is None:
            return None
        if self._ident is None and not hasattr(self, "_session_cache"):
            accessed = self.accessed
            self._get_session()  # type: ignore[attr-defined]  # (refused: no identifier)
            self.accessed = accessed
            return self._ident
        return self._ident if self._ident is not None else self._identifier_of(self._session_key)

    def _refuse(self) -> dict[str, Any]:
        self._ident = None
        return super()._refuse()

    def _discard(self, key: str) -> None:
        # Nothing to delete on the server; the marker or epoch that refused it stays.
        index_writer.remove(key)

    def _delete_stored(self, key: str) -> None:
        """Nothing is stored on the server (a policy's marker refuses the session)."""

    # -- save, create, cycle_key ---------------------------------------------------------

    def save(self, must_create: bool = False) -> None:
        data = self._get_session(no_load=must_create)  # type: ignore[attr-defined]
        minted = self._ident is None
        if minted:
            self._ident = new_identifier()
        key = self._ident
        assert key is not None
        signed_cookies.SessionStore.save(self, must_create=must_create)  # the new cookie
        index_writer.upsert(
            key, data, self._expiry(timezone.now(), data), resolved(self.client), issued=minted
        )
        if minted:
            return  # an identifier made just now: nothing can have killed it yet
        # After the write, as for every engine: a kill committing meanwhile is either
        # seen here, or removes the row just written (and its marker refuses the cookie).
        if revocation.refusal(key, index_writer.user_id_from(data)) is not None:
            self._discard(key)
            raise UpdateError  # SessionMiddleware answers SessionInterrupted, as Django does

    def create(self) -> None:
        """A new session: a new identifier, saved at once (indexed, issued now), and the
        cookie set on the response (Django's engine only sets ``modified``)."""
        self._ident = None
        self.save(must_create=True)

    def cycle_key(self) -> None:
        """Same data, a new identifier and cookie; the old identifier is refused from now
        on (Django's engine cannot invalidate the previous cookie; this one can)."""
        data = self._session  # type: ignore[attr-defined]
        old = self._ident
        self.create()
        self._session_cache = data
        if old is None:
            return
        new = self._ident
        assert new is not None
        index_writer.carry_login(old, new)
        killed = revocation.refusal(old, index_writer.user_id_from(data)) is not None
        self._revoke(old)
        if killed:
            # Killed while this request ran: the new identifier is born killed.
            revocation.revoke_key(new)
            self._discard(new)

    # -- delete, exists --------------------------------------------------------------

    def _revoke(self, ident: str) -> None:
        """Refuse ``ident`` from now on (a marker first), then drop its index row."""
        revocation.revoke_key(ident, self._latest_expiry())
        index_writer.remove(ident)

    def delete(self, session_key: str | None = None) -> None:
        """Refuse the session (``session_key``: a cookie or an identifier; ``None``: the
        one held). The one held is also emptied, as Django's engine does."""
        if session_key is None or session_key == self._session_key:
            own, ident = True, self._ident
            if ident is None and self._session_key is not None:
                ident = self._identifier_of(self._session_key)
        else:
            ident = self._identifier_of(session_key)
            own = ident is not None and ident == self._ident
        if ident is not None:
            self._revoke(ident)
        if own:
            signed_cookies.SessionStore.delete(self)
            self._ident = None
            self._stored_expiry = None

    def exists(self, session_key: str | None = None) -> bool:
        """Whether a cookie of this session would load: the index has a live row for its
        identifier, and no marker or epoch refuses it. Read from the primary."""
        if not session_key:
            return False
        ident = self._identifier_of(session_key)
        if ident is None:
            return False
        rows = SessionRecord.objects.using(router.db_for_write(SessionRecord)).live()
        found = list(rows.filter(session_key=ident).values_list("user_id", flat=True)[:1])
        if not found:
            return False
        return revocation.refusal(ident, found[0]) is None

    async def aexists(self, session_key: str | None = None) -> bool:
        return await sync_to_async(self.exists)(session_key)

    # -- bulk (Kill All, kill a user, policies in prune) ------------------------------

    @classmethod
    def purge_keys(cls, session_keys: list[str], *, index: bool = True) -> None:
        """Refuse many sessions (the data is in the browsers: a marker each), and
        (``index``) drop their index rows."""
        revocation.revoke_keys(session_keys, cls()._latest_expiry())
        if index:
            index_writer.remove_many(session_keys)
