"""Ending sessions one by one: a session, a filter's matches, the public
:func:`kill_sessions`. Each is revoked first, deleted from the real store, then
confirmed by a fresh read: a kill is reported only when the store confirms it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django.contrib.sessions.backends.base import SessionBase

from sessions_panel.models import AuditEntry, SessionRecord
from sessions_panel.termination import protection, purge
from sessions_panel.termination.audit import Actor, KillResult, clean_reason, finish
from sessions_panel.termination.epochs import kill_all, kill_user
from sessions_panel.termination.guard import ensure_tracked, primary, store_class
from sessions_panel.termination.preview import Preview, preview
from sessions_panel.tracking import index_writer, revocation
from sessions_panel.tracking.keys import index_key

if TYPE_CHECKING:
    pass

logger = logging.getLogger("sessions_panel")


def _end_one(record: SessionRecord) -> str:
    """End one session; returns "killed", "gone", "refused" or "failed".

    "refused": the marker is written, so the session is refused on every request, but
    the store could not be cleaned (Redis down, a file not removable); the row stays
    listed so the admin can retry the clean-up. "failed": not even the marker was
    written; nothing changed.
    """
    store = store_class()
    key = record.session_key
    try:
        # Killed before (a retry after the store failed): ending it again is only the
        # clean-up, not a second kill in the counts and the audit trail.
        killed_before = revocation.state(key, None).killed
    except Exception:
        logger.exception("could not end session %s", record.short_id)
        return "failed"
    existed: bool | None = None
    # Asked before the marker: the signed-cookie engine knows a session only by its
    # index row and its marker, so once marked it no longer "exists". A store that is
    # down is asked again below, where its failure is reported.
    with contextlib.suppress(Exception):
        existed = not killed_before and store().exists(key)
    try:
        revocation.revoke_key(key, record.expiry)
    except Exception:
        logger.exception("could not end session %s", record.short_id)
        return "failed"
    try:
        if existed is None:
            existed = store().exists(key) and not killed_before
        store().delete(key)  # tracked engines also drop the index row
        if store().exists(key):  # a fresh read of the real store
            logger.error("session %s still in the store after delete", record.short_id)
            return "refused"
    except Exception:
        logger.exception(
            "session %s is refused, but the store could not be cleaned", record.short_id
        )
        return "refused"
    index_writer.remove(key)  # by key: a save racing the kill may have made a new row
    purge.evict_again_on_commit(store, [key])
    return "killed" if existed else "gone"


def kill_records(
    records: Iterable[SessionRecord],
    *,
    actor: Actor = None,
    reason: str = "",
    scope: str = AuditEntry.SCOPE_SESSION,
    detail: str = "",
    filters: Mapping[str, Any] | None = None,
    spared: int = 0,
) -> KillResult:
    """End each given session, one by one, each confirmed by a fresh read.

    ``spared``: how many sessions the caller left out of ``records`` on purpose
    (superusers', for a lesser admin), for the result and the audit entry.
    """
    ensure_tracked()
    result = KillResult(scope=scope, spared=spared)
    for record in records:
        result.requested += 1
        outcome = _end_one(record)
        if outcome == "refused":
            result.killed += 1
            result.store_fault = True
        elif outcome == "killed":
            result.killed += 1
        elif outcome == "gone":
            result.already_ended += 1
        else:
            result.failed += 1
        result.short_ids.append(record.short_id)
        if record.user_id is not None:
            result.user_ids.append(record.user_id)
    return finish(result, actor, reason, detail=clean_reason(detail), filters=filters)


def kill_matching(
    rows: Any,
    *,
    actor: Actor = None,
    reason: str = "",
    keep: SessionBase | None = None,
    detail: str = "",
    filters: Mapping[str, Any] | None = None,
    spare_superusers: bool = False,
) -> KillResult:
    """End the indexed sessions of ``rows`` (a filter of the index), except ``keep``
    and, with ``spare_superusers``, except superusers' sessions (counted as spared).

    ``filters`` are what ``rows`` was filtered by (the page's search and filters), kept
    in the audit entry as data so that its reader sees of them only what they may.

    The set is fixed first, as it matches now, then ended in batches: a filter that
    depends on the set itself ("more than one session", "guest swarm") would otherwise
    stop matching half way and spare the last sessions of each group.
    """
    keep_key = index_key(keep)
    if keep_key is not None:
        rows = rows.exclude(session_key=keep_key)
    spared = 0
    if spare_superusers and protection.has_superuser_field():
        # One query for both: the set and whose it is (guests join no user: None).
        found = list(rows.order_by().values_list("pk", "user__is_superuser"))
        pks = [pk for pk, superuser in found if not superuser]
        spared = len(found) - len(pks)
    else:
        pks = list(rows.order_by().values_list("pk", flat=True))

    def each() -> Any:
        for start in range(0, len(pks), purge.PURGE_BATCH):
            yield from SessionRecord.objects.filter(pk__in=pks[start : start + purge.PURGE_BATCH])

    return kill_records(
        each(),
        actor=actor,
        reason=reason,
        scope=AuditEntry.SCOPE_FILTER,
        detail=detail,
        filters=filters,
        spared=spared,
    )


def kill_session(handle: str, *, actor: Actor = None, reason: str = "") -> KillResult:
    """End the session behind a public handle. An unknown handle is "already ended"."""
    ensure_tracked()
    record = SessionRecord.objects.using(primary()).filter(handle=str(handle)[:64]).first()
    if record is None:
        return KillResult(scope=AuditEntry.SCOPE_SESSION, requested=1, already_ended=1)
    return kill_records([record], actor=actor, reason=reason)


def matching(
    *,
    user: Any = None,
    ip: str | None = None,
    except_staff: bool = False,
    queryset: Any = None,
) -> Any:
    """Live index rows matching every given criterion (all of them if none is given)."""
    from sessions_panel.tracking.client import parse_ip

    rows = SessionRecord.objects.live() if queryset is None else queryset
    if user is not None:
        rows = rows.filter(user=user)
    if ip is not None:
        address = parse_ip(ip)
        if address is None:
            raise ValueError(f"not an IP address: {ip[:64]!r}")
        rows = rows.filter(ip=str(address))
    if except_staff:
        rows = rows.exclude(user__is_staff=True)
    return rows


def kill_sessions(
    *,
    user: Any = None,
    ip: str | None = None,
    all: bool = False,
    except_staff: bool = False,
    actor: Actor = None,
    reason: str = "",
    keep: SessionBase | None = None,
    dry_run: bool = False,
    progress: Any = None,
) -> KillResult | Preview:
    """The public API: end sessions by user, IP, or all of them (optionally not staff's).

    ``all=True`` with no other criterion is Kill All (constant time, includes sessions
    the index never saw); a ``user`` alone ends every session of that user the same
    way. Other combinations end the matching indexed sessions one by one, each
    confirmed by the store. ``dry_run`` returns a :class:`Preview` and ends nothing.
    ``keep`` (the caller's session) is never ended.
    """
    if not all and user is None and ip is None:
        raise ValueError("say which sessions to end: user=, ip= or all=True")
    rows = matching(user=user, ip=ip, except_staff=except_staff)
    keep_key = index_key(keep)
    if keep_key is not None:
        rows = rows.exclude(session_key=keep_key)
    if dry_run:
        return preview(rows)
    if all and user is None and ip is None and not except_staff:
        return kill_all(actor=actor, reason=reason, keep=keep)
    if user is not None and ip is None and not except_staff:
        return kill_user(user, actor=actor, reason=reason, keep=keep)
    scope = AuditEntry.SCOPE_ALL if all and user is None and ip is None else AuditEntry.SCOPE_FILTER

    def each() -> Any:
        for record in rows.select_related(None).iterator(chunk_size=purge.PURGE_BATCH):
            yield record
            if progress is not None:
                progress(1)

    return kill_records(each(), actor=actor, reason=reason, scope=scope)
