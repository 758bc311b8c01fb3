"""Session policies end sessions as a kill does: :mod:`sessions_panel.tracking.policies`
decides, this ends and records (on load, at login, and in ``prune``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.db import DatabaseError, router, transaction
from django.http import HttpRequest

from sessions_panel.conf import conf
from sessions_panel.models import AuditEntry, SessionRecord, short_id_for
from sessions_panel.termination import purge
from sessions_panel.termination.audit import KillResult, finish
from sessions_panel.termination.guard import NotTracked, ensure_tracked, primary
from sessions_panel.termination.scopes import kill_records
from sessions_panel.tracking import clock, index_writer, policies, revocation
from sessions_panel.tracking.keys import index_key

if TYPE_CHECKING:
    pass

logger = logging.getLogger("sessions_panel")


# -- session policies: sessions_panel.tracking.policies decides, this ends and records -------------


def end_refused(store: Any, key: str, user_id: Any, why: str, state: revocation.Known) -> None:
    """End a session its load just refused by a policy (``IDLE_TIMEOUT``,
    ``ABSOLUTE_LIFETIME``): as a kill, a revocation marker first (a request in flight
    cannot save it back), then its index row and its stored data; and one audit entry,
    with the signal, from the request that dropped the row.

    Best effort past the marker: the load refuses the session whatever happens here,
    and what is left goes with ``manage.py prune`` or at its expiry.
    """
    from sessions_panel.tracking import policies

    try:
        revocation.revoke_key(key)
    except DatabaseError:
        logger.exception("could not write the marker of a session a policy ended")
    try:
        removed = index_writer.remove(key)
    except DatabaseError:
        logger.exception("could not drop the index row of a session a policy ended")
        removed = 0
    try:
        store._delete_stored(key)
    except Exception:
        logger.warning("could not delete a session a policy ended from the store", exc_info=True)
    # Concurrent requests of one session are all refused; the one that dropped its row
    # records it (a session the index never knew has no row: recorded by each).
    if removed or (state.seen is None and state.issued is None):
        result = KillResult(
            scope=AuditEntry.SCOPE_POLICY,
            requested=1,
            killed=1,
            short_ids=[short_id_for(key)],
            user_ids=[] if user_id is None else [user_id],
        )
        finish(result, None, policies.reason(why, state), detail=policies.DETAIL_ON_LOAD)


def end_over_cap(rows: Iterable[SessionRecord], user: Any, cap: int) -> KillResult:
    """End ``rows``, the user's oldest sessions, so that a new login keeps them at
    ``cap`` (``MAX_SESSIONS_ACTION = "end_oldest"``): one audit entry for the login."""
    from sessions_panel.tracking import policies

    return kill_records(
        rows,
        reason=policies.cap_reason(cap),
        scope=AuditEntry.SCOPE_POLICY,
        detail=f"user {user.get_username()}: {policies.DETAIL_CAP}",
    )


def refuse_login(request: Any, user: Any, cap: int) -> KillResult:
    """End the session a login has just made (``MAX_SESSIONS_ACTION = "refuse"``): the
    request goes on anonymous (Django's ``logout``, so ``user_logged_out`` is sent), and
    the audit trail has it."""
    from django.contrib.auth import logout

    from sessions_panel.tracking import policies

    key = index_key(request.session)
    logout(request)  # flush: the store's data and (a tracked engine) the index row go
    result = KillResult(
        scope=AuditEntry.SCOPE_POLICY,
        requested=1,
        killed=1,
        short_ids=[] if key is None else [short_id_for(key)],
        user_ids=[user.pk],
    )
    return finish(
        result,
        None,
        policies.refused_reason(cap),
        detail=f"user {user.get_username()}: {policies.DETAIL_REFUSED}",
    )


def purge_by_policy() -> int:
    """Delete the data and index rows of every session a policy ends (idle too long,
    older than its lifetime), each policy's with one audit entry; no time limit
    (``manage.py prune`` runs this). Returns how many."""
    from sessions_panel.tracking import policies

    ensure_tracked()
    total = 0
    for _why, rows, reason in policies.expired(primary()):
        count, short_ids, user_ids, _ = purge.purge_rows(rows, None, None)
        if count:
            result = KillResult(
                scope=AuditEntry.SCOPE_POLICY,
                requested=count,
                killed=count,
                short_ids=short_ids,
                user_ids=list(dict.fromkeys(user_ids)),
            )
            finish(result, None, reason, detail=policies.DETAIL_PRUNE)
        total += count
    return total


def on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """``user_logged_in``: note when the session's user logged in, and hold the cap."""
    from sessions_panel.backends.tracked import TrackedSessionMixin

    session = getattr(request, "session", None)
    if request is None or not isinstance(session, TrackedSessionMixin):
        return
    if getattr(request, policies.REFUSED_LOGIN, False):
        return  # a lockdown refused this login and logged it out again
    using = router.db_for_write(SessionRecord)
    cap = policies.cap_for(user)
    if not cap:
        key = index_key(session)
        if key is not None:
            SessionRecord.objects.using(using).filter(session_key=key).update(
                user_id=user.pk, logged_in=clock.DatabaseNow()
            )
        return
    refused = False
    with transaction.atomic(using=using):
        policies.lock_user(using, user.pk)
        if index_key(session) is None:
            # login() flushed another user's session: make the new one now, so that it
            # is counted, under the lock, by the next login of this user.
            session.save()
        key = index_key(session)
        assert key is not None
        SessionRecord.objects.using(using).filter(session_key=key).update(
            user_id=user.pk, logged_in=clock.DatabaseNow()
        )
        others = policies.alive_others(using, user, key)
        over = len(others) + 1 - cap
        if over > 0:
            if conf.MAX_SESSIONS_ACTION == policies.REFUSE:
                refuse_login(request, user, cap)
                refused = True
            else:
                try:
                    end_over_cap(others[:over], user, cap)
                except NotTracked:
                    # The page and the checks say so (E001, E003); a login is no place
                    # to fail for it.
                    logger.exception("the session cap could not end the oldest sessions")
    if refused:
        setattr(request, policies.REFUSED_LOGIN, True)
        messages.error(request, policies.refused_message(cap), fail_silently=True)
