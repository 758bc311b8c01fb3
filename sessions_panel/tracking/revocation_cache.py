"""A session's revocation state, kept beside the session in a shared cache.

The ``cache`` and ``cached_db`` engines serve a session from the cache (Redis,
Memcached) without touching the database, but the revocation check
(:func:`sessions_panel.tracking.revocation.state`) is a database round trip on every
such request: on PostgreSQL + Redis it cost a third of a trivial view's throughput.
So the state one check read is kept in the session's cache, and the next request reads
it in the same round trip as the session data (``get_many``).

What makes that safe is one *generation* key in the same cache. Every revocation
(a marker on a key, a user's epoch, the global epoch, the re-issue of a spared
session) writes a new random generation once its transaction commits
(:func:`invalidate`), and a kept state counts only while the generation it was read
under is still the current one. A request that read its state before a kill and keeps
it after finds it stale; a generation the cache lost (eviction, a restart) comes back
as a new random value that no kept state carries. Kept states also expire after
:data:`TTL` seconds, which bounds what the cache losing a write can leave: the
generation written by a kill (the cache unreachable at that moment, a failover to a
replica that had not received it, a restore of a snapshot taken just before the
kill) lets a session that kill ended through for at most that long. Where even
that is too much, ``REVOCATION_CACHE = False`` asks the database on every request.

Only where every app server sees the same cache: a per-process cache (``LocMemCache``)
on several hosts would keep the generation per host, and a kill on one would not reach
the others. ``SESSIONS_PANEL["REVOCATION_CACHE"]`` decides: ``None`` (the default)
keeps states when the session cache is Redis or Memcached, ``True`` always (a single
process, or another shared backend), ``False`` never. Not while a session policy is on:
idle and lifetime decisions need the database's clock and the last-seen time of the
moment.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from typing import Any

from django.conf import settings
from django.core.cache import BaseCache, caches

from sessions_panel.conf import conf
from sessions_panel.tracking.revocation import Known

logger = logging.getLogger("sessions_panel")

#: The cache key whose value every kept state must match.
GENERATION_KEY = "sessions_panel:revocation-generation"
#: Kept states live under this prefix and a keyed hash of the key (never the raw key).
STATE_PREFIX = "sessions_panel:revocation-state:"
#: Seconds a kept state counts at most, whatever the generation says: the longest a
#: lost invalidation can last, and how often a busy session still asks the database.
TTL = 30

#: Cache backends every app server shares (by class path prefix).
SHARED_BACKENDS = (
    "django.core.cache.backends.redis.",
    "django.core.cache.backends.memcached.",
    "django_redis.",
)


def session_cache() -> BaseCache:
    """The session cache (``SESSION_CACHE_ALIAS``): where states and the generation live."""
    return caches[settings.SESSION_CACHE_ALIAS]


def shared(cache: BaseCache) -> bool:
    """Whether ``cache`` is one every app server sees (by its backend's class)."""
    path = f"{type(cache).__module__}.{type(cache).__qualname__}"
    return path.startswith(SHARED_BACKENDS)


def enabled(cache: BaseCache) -> bool:
    """Whether ``REVOCATION_CACHE`` (or, by default, a shared backend) turns this on."""
    wanted = conf.REVOCATION_CACHE
    return shared(cache) if wanted is None else bool(wanted)


def applies(cache: BaseCache) -> bool:
    """Whether a load keeps and trusts states in ``cache`` (the session cache) now."""
    if conf.IDLE_TIMEOUT or conf.ABSOLUTE_LIFETIME:
        return False
    return enabled(cache)


_derived: dict[str, bytes] = {}


def _state_hash_key() -> bytes:
    """A key for :func:`state_key`'s hash, derived from ``SECRET_KEY`` once per value."""
    secret = str(settings.SECRET_KEY)
    derived = _derived.get(secret)
    if derived is None:
        derived = _derived[secret] = hashlib.sha256(
            b"sessions_panel.revocation-state\0" + secret.encode()
        ).digest()
    return derived


def state_key(session_key: str) -> str:
    """Where a session's state is kept: a keyed hash of its key, never the key. Keyed
    BLAKE2 (~1 µs), not :func:`~sessions_panel.tracking.revocation.key_digest`, whose
    ``salted_hmac`` derives its key on every call (~18 µs, a fifth of what the panel
    adds to a request served from Redis)."""
    digest = hashlib.blake2b(session_key.encode(), key=_state_hash_key(), digest_size=16)
    return STATE_PREFIX + digest.hexdigest()


def read(cache: BaseCache, data_key: str, session_key: str) -> tuple[Any, Known | None, str | None]:
    """The session data under ``data_key``, the kept state of ``session_key`` if it
    still counts, and the generation a state read now must be kept under (``None``:
    none can be, the cache holds no generation yet). One round trip."""
    kept_key = state_key(session_key)
    found = cache.get_many([data_key, GENERATION_KEY, kept_key])
    generation = found.get(GENERATION_KEY)
    kept = found.get(kept_key)
    known = None
    if generation is None:
        # Lost or never written: start one no kept state can carry. This request's
        # state is read after it, so may be kept under it; unless a kill wrote one
        # first (then ``add`` fails, and nothing is kept this time).
        token = secrets.token_hex(8)
        if cache.add(GENERATION_KEY, token, timeout=None):
            generation = token
    elif isinstance(kept, tuple) and len(kept) == 5:
        kept_generation, user_target, all_epoch, user_epoch, issued = kept
        if kept_generation == generation:
            known = Known(
                session_key=session_key,
                killed=False,
                all_epoch=all_epoch,
                user_target=user_target,
                user_epoch=user_epoch,
                issued=issued,
            )
    return found.get(data_key), known, generation


def keep(cache: BaseCache, generation: str, known: Known) -> None:
    """Keep a state a check just read (and let through) under ``generation``."""
    if known.killed or known.issued is None:
        return  # refused, or a session of unknown age: always ask the database
    value = (generation, known.user_target, known.all_epoch, known.user_epoch, known.issued)
    try:
        cache.set(state_key(known.session_key), value, timeout=TTL)
    except Exception:
        logger.warning("session cache unreachable; revocation state not kept")


def invalidate() -> None:
    """Make every kept state stale: called once a revocation has committed."""
    cache = session_cache()
    if not enabled(cache):
        # Policies do not matter here: states kept before they were turned on must
        # not outlive a kill made while they were.
        return
    try:
        cache.set(GENERATION_KEY, secrets.token_hex(8), timeout=None)
    except Exception:
        # The sessions this cache serves are unreachable with it; a state kept before
        # the outage counts for at most TTL seconds once it is back.
        logger.error(
            "session cache unreachable: kept revocation states stay valid for up to %s s",
            TTL,
            exc_info=True,
        )
