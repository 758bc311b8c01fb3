"""Ending sessions by a "not before" epoch: every session of a user (:func:`kill_user`)
or of the site (:func:`kill_all`), indexed or not, in constant time; the purge follows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib.sessions.backends.base import SessionBase
from django.db import DatabaseError, transaction

from sessions_panel.models import AuditEntry, SessionRecord
from sessions_panel.termination import protection, purge, sweep
from sessions_panel.termination.audit import Actor, KillResult, finish
from sessions_panel.termination.guard import ensure_tracked, primary
from sessions_panel.tracking import index_writer, revocation
from sessions_panel.tracking.keys import index_key

if TYPE_CHECKING:
    pass

logger = logging.getLogger("sessions_panel")


def _kept_key(session: SessionBase | None) -> str | None:
    """The caller's session key, made sure to have an index row (which carries the
    issue time an epoch spares it by)."""
    key = index_key(session)
    if session is None or key is None:
        return None
    if not SessionRecord.objects.using(primary()).filter(session_key=key).exists():
        index_writer.upsert(key, session._get_session(), session.get_expiry_date(), None)  # type: ignore[attr-defined]
    return key


def kill_user(
    user: Any,
    *,
    actor: Actor = None,
    reason: str = "",
    keep: SessionBase | None = None,
    scope: str = AuditEntry.SCOPE_USER,
    detail: str = "",
) -> KillResult:
    """End every session of ``user`` (indexed or not), except ``keep`` if given.

    ``scope`` and ``detail`` name the action in the audit trail (a lockdown's)."""
    ensure_tracked()
    keep_key = _kept_key(keep) if keep is not None and _owner(keep) == str(user.pk) else None
    result = KillResult(scope=scope, user_ids=[user.pk])
    rows = SessionRecord.objects.using(primary()).live().filter(user=user)
    _epoch_kill(result, rows, keep_key, lambda: revocation.revoke_user(user.pk, keep_key))
    return finish(result, actor, reason, detail=detail or f"user {user.get_username()}")


def kill_all(
    *,
    actor: Actor = None,
    reason: str = "",
    keep: SessionBase | None = None,
    spare_superusers: bool = False,
    purge_seconds: float | None = -1.0,
    scope: str = AuditEntry.SCOPE_ALL,
    detail: str = "",
) -> KillResult:
    """End every session, indexed or not, except ``keep`` (the caller's own session)
    and, with ``spare_superusers``, superusers' indexed sessions (re-issued at the
    epoch, as ``keep`` is: see :func:`revocation.revoke_all_sparing`).

    The global epoch ends them all at once, whatever their number, and starts their
    clean-up (:mod:`.sweep`) in the same transaction: from then on no list or count
    shows them. The clean-up then runs here for up to ``purge_seconds`` (negative:
    :data:`~.purge.PURGE_SECONDS`; ``None``: to the end; ``0``: not here, the page runs
    it after its response); what is left
    is refused on every load, and goes with the next page, ``prune``, or its expiry.
    ``scope`` and ``detail`` name the action in the audit trail (a lockdown's).
    """
    ensure_tracked()
    keep_key = _kept_key(keep)
    result = KillResult(scope=scope)
    spare = None
    if spare_superusers and protection.has_superuser_field():
        spare = (
            SessionRecord.objects.live()
            .filter(protection.superuser_rows())
            .exclude(session_key=keep_key or "")
        )
    try:
        # The live count the admin just saw: the database keeps it (index_count).
        result.requested = max(0, index_writer.live_count(using=primary()) - (1 if keep_key else 0))
        with transaction.atomic(using=primary()):
            epoch, result.spared = revocation.revoke_all_sparing(keep_key, spare)
            sweep.begin(epoch)
        result.requested = max(0, result.requested - result.spared)
    except DatabaseError:
        logger.exception("could not record Kill All; no session was ended")
        result.failed = max(result.requested, 1)
        return finish(result, actor, reason, detail=detail)
    result.killed = result.requested
    if purge_seconds is not None and purge_seconds < 0:
        purge_seconds = purge.PURGE_SECONDS
    if purge_seconds is None or purge_seconds > 0:
        try:
            sweep.run(purge_seconds)
        except Exception:
            logger.exception("cleaning up after Kill All failed; its sessions are refused")
            result.store_fault = True
    return finish(result, actor, reason, detail=detail)


def _epoch_kill(
    result: KillResult,
    rows: Any,
    keep_key: str | None,
    revoke: Callable[[], float],
    expected: Callable[[Any], int] = lambda targeted: int(targeted.count()),
) -> None:
    """Set a "not before" epoch (the kill itself), then purge what it refuses.

    If the epoch cannot be written nothing was ended, and the result says so. Once it
    is written every targeted session is refused, so a failing purge only delays the
    clean-up (and the result says that too).
    """
    rows = rows.exclude(session_key=keep_key or "")
    try:
        result.requested = expected(rows)
        epoch = revoke()
    except DatabaseError:
        logger.exception("could not record the kill; no session was ended")
        result.failed = max(result.requested, 1)
        return
    result.killed = result.requested
    try:
        count, short_ids, user_ids, finished = purge.purge_rows(
            revocation.issued_before(rows, epoch), keep_key, purge.PURGE_SECONDS
        )
    except Exception:
        logger.exception("purging ended sessions failed; they are refused anyway")
        result.store_fault = True
        return
    if finished:
        result.killed = result.requested = count
    else:
        logger.info("purged %d ended sessions; manage.py prune purges the rest", count)
        result.killed = result.requested = max(result.requested, count)
    result.short_ids = short_ids
    result.user_ids = list(dict.fromkeys([*result.user_ids, *user_ids]))


def _owner(session: SessionBase) -> str | None:
    from django.contrib.auth import SESSION_KEY

    value = session.get(SESSION_KEY)
    return None if value is None else str(value)
