"""The one place that ends sessions.

Views, admin actions, management commands and signal receivers all call this module.
Every path writes a revocation first (so the kill holds even against a request in
flight, and on every process at once), then deletes from the real store, then checks
the store with a fresh read: a kill is reported only when the store confirms it.
Every action writes one :class:`AuditEntry` and sends :data:`session_killed`.
"""

from __future__ import annotations

import logging
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import import_module
from typing import TYPE_CHECKING, Any, TypeAlias

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db import DatabaseError, connections, router, transaction
from django.db.models import CharField, Exists, OuterRef, Q
from django.db.models.functions import Cast

from sessions_panel import protection, records, revocation
from sessions_panel.models import AuditEntry, Revocation, SessionRecord, short_id_for
from sessions_panel.signals import session_killed

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

logger = logging.getLogger("sessions_panel")

#: Who ends sessions: a user (the page, or the API acting for one); a plain label for
#: an actor that is no user of the site (``killsessions``: who ran it, from where);
#: ``None`` for the site itself (signal receivers, the API on its own).
Actor: TypeAlias = "AbstractBaseUser | AnonymousUser | str | None"

PURGE_BATCH = 500


@dataclass
class KillResult:
    """What a kill action achieved; ``failed`` sessions are still alive or unknown."""

    scope: str
    requested: int = 0
    killed: int = 0
    already_ended: int = 0
    failed: int = 0
    short_ids: list[str] = field(default_factory=list)
    user_ids: list[Any] = field(default_factory=list)
    audit: AuditEntry | None = None
    #: The kill holds (its revocation is written: the sessions are refused on every
    #: request), but the session store could not be cleaned; what is left is refused
    #: until it is purged (the next kill, ``manage.py prune``) or expires.
    store_fault: bool = False
    #: Superusers' sessions left alone (``spare_superusers``): neither targeted nor
    #: failed, so ``requested`` does not count them.
    spared: int = 0

    @property
    def ok(self) -> bool:
        return self.failed == 0


def store_class() -> type[SessionBase]:
    return import_module(settings.SESSION_ENGINE).SessionStore  # type: ignore[no-any-return]


class NotTracked(RuntimeError):
    """Kills are refused: the running configuration cannot make them hold."""


def configuration_problem() -> str | None:
    """Why a kill could not hold on this site as it runs now, or ``None``.

    The system checks say the same at deploy time, but servers such as gunicorn run no
    checks: a site left on Django's own engine would have its index go stale, and a
    "kill" would delete rows while the sessions stayed alive.
    """
    from sessions_panel.backends.tracked import TrackedSessionMixin
    from sessions_panel.checks import PANEL_MIDDLEWARE

    try:
        store = store_class()
    except ImportError:
        store = None
    if store is None or not issubclass(store, TrackedSessionMixin):
        return "engine"
    if PANEL_MIDDLEWARE not in settings.MIDDLEWARE:
        return "middleware"
    return None


def ensure_tracked() -> None:
    """Raise :class:`NotTracked` when :func:`configuration_problem` finds one."""
    problem = configuration_problem()
    if problem == "engine":
        raise NotTracked(
            f"SESSION_ENGINE {settings.SESSION_ENGINE!r} is not a tracked engine: kills "
            "cannot hold (see check sessions_panel.E001)."
        )
    if problem == "middleware":
        raise NotTracked(
            "sessions_panel.middleware.SessionsPanelMiddleware is missing from MIDDLEWARE "
            "(see check sessions_panel.E003)."
        )


def _clean_reason(reason: str) -> str:
    # One line, bounded: a reason must not forge log lines or bloat the audit trail.
    # Control characters go too: PostgreSQL cannot store NUL (the audit row would be
    # lost), and ESC or BEL in the trail would drive the terminal of whoever reads it.
    text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in str(reason))
    return " ".join(text.split())[:500]


def _actor_fields(actor: Actor) -> dict[str, Any]:
    """The audit entry's ``actor`` and ``actor_repr``: a label is a name with no user
    behind it, so the trail says who acted rather than "the system"."""
    if isinstance(actor, str):
        return {"actor": None, "actor_repr": actor[:150]}
    if actor is None or not getattr(actor, "is_authenticated", False):
        return {"actor": None, "actor_repr": ""}
    return {"actor": actor, "actor_repr": actor.get_username()[:150]}


def _finish(
    result: KillResult,
    actor: Any,
    reason: str,
    detail: str = "",
    filters: Mapping[str, Any] | None = None,
) -> KillResult:
    """Audit entry, admin log entry, log line and signal for one kill action.

    ``filters`` (a filter-wide kill's list filters) go into the audit entry alone, as
    data the admin masks for each reader: never into "Recent actions" or the log line,
    which every reader of those sees whole.
    """
    reason = _clean_reason(reason)
    try:
        # A savepoint: a failed audit insert must not poison the caller's transaction.
        with transaction.atomic():
            result.audit = AuditEntry.objects.create(
                scope=result.scope,
                reason=reason,
                requested=result.requested,
                killed=result.killed,
                failed=result.failed,
                spared=result.spared,
                user_ids=[str(u) for u in dict.fromkeys(result.user_ids)][:1000],
                short_ids=result.short_ids[:1000],
                detail=detail,
                filters={
                    str(key)[:20]: _clean_reason(str(value))
                    for key, value in (filters or {}).items()
                },
                **_actor_fields(actor),
            )
            _log_entry(result, actor)
    except DatabaseError:
        logger.exception("could not write the audit entry of a kill action")
    logger.info(
        "sessions killed: scope=%s actor=%r requested=%d killed=%d already_ended=%d "
        "failed=%d spared=%d reason=%r",
        result.scope,
        _actor_fields(actor)["actor_repr"],
        result.requested,
        result.killed,
        result.already_ended,
        result.failed,
        result.spared,
        reason,
    )
    fields = _actor_fields(actor)
    session_killed.send(
        sender=KillResult,
        audit=result.audit,
        # A user or None, as documented; who acted otherwise (the command's OS user and
        # --actor) is ``actor_repr``, the audit entry's "by".
        actor=fields["actor"],
        actor_repr=fields["actor_repr"],
        scope=result.scope,
        reason=reason,
        short_ids=result.short_ids,
    )
    return result


def _log_entry(result: KillResult, actor: Any) -> None:
    """A row in the admin's "Recent actions", linking to the audit entry."""
    if actor is None or not getattr(actor, "is_authenticated", False) or result.audit is None:
        return
    from django.contrib.admin.models import ADDITION, LogEntry
    from django.contrib.contenttypes.models import ContentType

    LogEntry.objects.create(
        user_id=actor.pk,
        content_type=ContentType.objects.get_for_model(AuditEntry),
        object_id=str(result.audit.pk),
        object_repr=f"Ended {result.killed} session(s) ({result.scope})"[:200],
        action_flag=ADDITION,
        change_message=f"Ended {result.killed} session(s); {result.failed} not ended.",
    )


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
        revocation.revoke_key(key, record.expiry)
    except Exception:
        logger.exception("could not end session %s", record.short_id)
        return "failed"
    try:
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
    records.remove(key)  # by key: a save racing the kill may have made a new row
    _evict_again_on_commit(store, [key])
    return "killed" if existed else "gone"


def _evict_again_on_commit(store: type[SessionBase], keys: list[str]) -> None:
    # cached_db: a concurrent load may refill the cache from a row the kill's transaction
    # has not committed away yet; evicting once more after commit closes that window.
    prefix = getattr(store, "cache_key_prefix", None)
    if prefix is None:
        return
    from django.core.cache import caches

    def evict() -> None:
        try:
            caches[settings.SESSION_CACHE_ALIAS].delete_many([prefix + k for k in keys])
        except Exception:
            logger.exception("could not evict killed sessions from the cache")

    transaction.on_commit(evict)


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
    return _finish(result, actor, reason, detail=_clean_reason(detail), filters=filters)


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
    if keep is not None and keep.session_key is not None:
        rows = rows.exclude(session_key=keep.session_key)
    spared = 0
    if spare_superusers and protection.has_superuser_field():
        # One query for both: the set and whose it is (guests join no user: None).
        found = list(rows.order_by().values_list("pk", "user__is_superuser"))
        pks = [pk for pk, superuser in found if not superuser]
        spared = len(found) - len(pks)
    else:
        pks = list(rows.order_by().values_list("pk", flat=True))

    def each() -> Any:
        for start in range(0, len(pks), PURGE_BATCH):
            yield from SessionRecord.objects.filter(pk__in=pks[start : start + PURGE_BATCH])

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
    record = SessionRecord.objects.using(_primary()).filter(handle=str(handle)[:64]).first()
    if record is None:
        return KillResult(scope=AuditEntry.SCOPE_SESSION, requested=1, already_ended=1)
    return kill_records([record], actor=actor, reason=reason)


def _kept_key(session: SessionBase | None) -> str | None:
    """The caller's session key, made sure to have an index row (which carries the
    issue time an epoch spares it by)."""
    if session is None or session.session_key is None:
        return None
    key = session.session_key
    if not SessionRecord.objects.using(_primary()).filter(session_key=key).exists():
        records.upsert(key, session._get_session(), session.get_expiry_date(), None)  # type: ignore[attr-defined]
    return key


def _primary() -> str:
    """Where kills read the index: what they decide must not come from a lagging replica."""
    return router.db_for_write(SessionRecord)


#: Seconds a kill request spends purging; ``prune`` (or the next kill) does the rest.
PURGE_SECONDS = 2.0


#: Sessions per store batch when Kill All empties the index itself afterwards: each
#: batch is one short write, and without index rows to delete a batch can be larger.
STORE_BATCH = 5_000


def _purge(
    queryset: Any,
    keep_key: str | None,
    seconds: float | None,
    *,
    batch_size: int = PURGE_BATCH,
    index: bool = True,
) -> tuple[int, list[str], list[Any], bool]:
    """Delete the store data and (``index``) the index rows of ``queryset`` in batches,
    keeping one key.

    Stops after ``seconds`` (``None``: no limit); returns what it purged and whether it
    finished. What it leaves is already refused by a revocation, so stopping early only
    delays the clean-up, and keeps one request from holding the database for minutes.
    ``index=False`` leaves the index rows to the caller (Kill All empties the index at
    once): deleting them row by row costs three times the store's own delete.
    """
    store = store_class()
    purge = getattr(store, "purge_keys", None)
    deadline = None if seconds is None else time.monotonic() + seconds
    count = 0
    short_ids: list[str] = []
    user_ids: list[Any] = []
    seen: set[str] = set()
    last_id = 0
    while True:
        if deadline is not None and time.monotonic() > deadline:
            return count, short_ids, user_ids, False
        batch = list(
            queryset.filter(pk__gt=last_id)
            .order_by("pk")
            .values_list("pk", "session_key", "short_id", "user_id")[:batch_size]
        )
        if not batch:
            return count, short_ids, user_ids, True
        last_id = batch[-1][0]
        # A key seen twice (a request re-indexed it while the purge ran) counts once.
        kept = [
            (key, short, user)
            for _, key, short, user in batch
            if key != keep_key and key not in seen
        ]
        seen.update(key for key, _, _ in kept)
        keys = [key for key, _, _ in kept]
        if purge is not None:
            purge(keys, index=index)  # tracked engines drop the index rows too
        else:
            for key in keys:
                store().delete(key)
            if index:
                SessionRecord.objects.filter(session_key__in=keys).delete()
        _evict_again_on_commit(store, keys)
        count += len(keys)
        short_ids.extend(short for _, short, _ in kept)
        user_ids.extend(user for _, _, user in kept if user is not None)


def kill_user(
    user: Any, *, actor: Actor = None, reason: str = "", keep: SessionBase | None = None
) -> KillResult:
    """End every session of ``user`` (indexed or not), except ``keep`` if given."""
    ensure_tracked()
    keep_key = _kept_key(keep) if keep is not None and _owner(keep) == str(user.pk) else None
    result = KillResult(scope=AuditEntry.SCOPE_USER, user_ids=[user.pk])
    rows = SessionRecord.objects.using(_primary()).live().filter(user=user)
    _epoch_kill(result, rows, keep_key, lambda: revocation.revoke_user(user.pk, keep_key))
    return _finish(result, actor, reason, detail=f"user {user.get_username()}")


def kill_all(
    *,
    actor: Actor = None,
    reason: str = "",
    keep: SessionBase | None = None,
    spare_superusers: bool = False,
) -> KillResult:
    """End every session, indexed or not, except ``keep`` (the caller's own session)
    and, with ``spare_superusers``, superusers' indexed sessions (re-issued at the
    epoch, as ``keep`` is: see :func:`revocation.revoke_all_sparing`).

    The global epoch ends them all at once, whatever their number. The stored data is
    then purged in batches for up to :data:`PURGE_SECONDS`, and the index emptied at
    once (a million rows one by one takes minutes), keeping the caller's row and those
    of sessions issued since. What stays in the store is refused on every load and
    goes when it expires (``clearsessions``).
    """
    ensure_tracked()
    keep_key = _kept_key(keep)
    result = KillResult(scope=AuditEntry.SCOPE_ALL)
    spare = None
    if spare_superusers and protection.has_superuser_field():
        spare = (
            SessionRecord.objects.live()
            .filter(protection.superuser_rows())
            .exclude(session_key=keep_key or "")
        )
    try:
        # The live count the admin just saw (cached): a COUNT over a million rows
        # would hold the epoch back.
        result.requested = max(0, records.live_count(using=_primary()) - (1 if keep_key else 0))
        epoch, result.spared = revocation.revoke_all_sparing(keep_key, spare)
        result.requested = max(0, result.requested - result.spared)
    except DatabaseError:
        logger.exception("could not record Kill All; no session was ended")
        result.failed = max(result.requested, 1)
        return _finish(result, actor, reason)
    result.killed = result.requested
    targeted = revocation.issued_before(SessionRecord.objects.using(_primary()), epoch).exclude(
        session_key=keep_key or ""
    )
    count = 0
    try:
        count, short_ids, user_ids, _ = _purge(
            targeted, keep_key, PURGE_SECONDS, batch_size=STORE_BATCH, index=False
        )
        result.short_ids, result.user_ids = short_ids, list(dict.fromkeys(user_ids))
    except Exception:
        logger.exception("purging the store after Kill All failed; its sessions are refused")
        result.store_fault = True
    try:
        _empty_index(epoch, keep_key)
    except DatabaseError:
        logger.exception("emptying the index after Kill All failed; its sessions are refused")
    # Requests refused meanwhile drop their own rows, so the purge may count fewer.
    result.killed = result.requested = max(result.requested, count)
    return _finish(result, actor, reason)


def _empty_index(epoch: float, keep_key: str | None) -> None:
    """Drop every index row except the caller's and those of sessions issued since."""
    survivors_filter = Q(issued__gte=epoch)
    if keep_key:
        survivors_filter |= Q(session_key=keep_key)
    using = _primary()
    connection = connections[using]
    table = connection.ops.quote_name(SessionRecord._meta.db_table)
    with transaction.atomic(using=using):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:  # no writer slips in between the steps
                cursor.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        survivors = list(SessionRecord.objects.using(using).filter(survivors_filter))
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # Its files swapped for empty ones: no row by row, whatever the size.
                cursor.execute(f"TRUNCATE {table}")
            else:
                # Without WHERE, SQLite frees the pages instead of deleting row by row.
                cursor.execute(f"DELETE FROM {table}")
        SessionRecord.objects.using(using).bulk_create(survivors)
    records.forget_live_count()
    records.recently_seen.clear()


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
        count, short_ids, user_ids, finished = _purge(
            revocation.issued_before(rows, epoch), keep_key, PURGE_SECONDS
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


def refused_rows() -> Any:
    """Index rows of sessions an epoch already refuses: left by a purge that ran out of
    time, or that a store outage stopped (Kill All empties the index by itself)."""
    rows = SessionRecord.objects.using(_primary())
    everyone = Revocation.objects.using(_primary()).filter(kind=Revocation.ALL).first()
    user_epoch = Revocation.objects.using(_primary()).filter(
        kind=Revocation.USER, target=Cast(OuterRef("user_id"), CharField())
    )
    refused = Q(user__isnull=False) & (
        Q(Exists(user_epoch.filter(not_before__gt=OuterRef("issued"))))
        | Q(issued__isnull=True) & Q(Exists(user_epoch))
    )
    if everyone is not None:
        refused |= Q(issued__lt=everyone.not_before) | Q(issued__isnull=True)
    return rows.filter(refused)


def purge_refused() -> int:
    """Delete the data and index rows of every session an epoch refuses (no time
    limit: ``manage.py prune`` runs this, not a request). Returns how many."""
    ensure_tracked()
    count, _, _, _ = _purge(refused_rows(), None, None)
    return count


def _owner(session: SessionBase) -> str | None:
    from django.contrib.auth import SESSION_KEY

    value = session.get(SESSION_KEY)
    return None if value is None else str(value)


@dataclass(frozen=True)
class Preview:
    """What a kill would end: shown in dialogs and ``killsessions --dry-run``."""

    sessions: int
    users: int
    guests: int
    #: More than ``sessions`` match: the count stopped at the cap (``users`` and
    #: ``guests`` are then those of the sessions counted, lower bounds).
    capped: bool = False
    #: Every matching session, the kept one (the caller's own) included: what the page
    #: says matches the search, where the other figures say what a kill would end.
    matched: int = field(default=0, compare=False)
    #: More than ``matched`` match (the count stopped at the cap).
    matched_capped: bool = field(default=False, compare=False)


def matching(
    *,
    user: Any = None,
    ip: str | None = None,
    except_staff: bool = False,
    queryset: Any = None,
) -> Any:
    """Live index rows matching every given criterion (all of them if none is given)."""
    from sessions_panel.client import parse_ip

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


#: The page's "Kill N matching" counts this many sessions at most, then says "1,000+": it
#: is recomputed on every search keystroke. Counting all of a third of a million rows
#: took 2.5 s; at 1,000,000 rows a capped count costs ~4–11 ms at 1,000 and ~30–40 ms
#: at 10,000 (a row lookup per session counted).
PREVIEW_CAP = 1_000


def preview(rows: Any, *, cap: int | None = None, keep_key: str | None = None) -> Preview:
    """Count what ``rows`` would end, sparing ``keep_key``; with ``cap``, look at no more
    than ``cap + 1`` rows.

    One query, whatever is asked: capped, the count is one ``LIMIT``-ed subquery, whose
    cost stops growing at the cap whatever the number of matches; the kept session is
    left out of the kill's figures by filtered counts, not by a second query.
    """
    from django.db.models import Count, Q

    if cap is not None:
        # One row more for the kept session: the kill's own count still reaches cap + 1.
        limit = cap + 1 + (1 if keep_key else 0)
        rows = rows.order_by().values("pk", "user_id", "session_key")[:limit]
    ended = ~Q(session_key=keep_key) if keep_key else Q()
    figures = rows.aggregate(
        matched=Count("pk"),
        sessions=Count("pk", filter=ended),
        users=Count("user_id", distinct=True, filter=ended),
        guests=Count("pk", filter=Q(user_id__isnull=True) & ended),
    )
    matched, sessions = figures["matched"], figures["sessions"]
    if cap is None:
        return Preview(sessions, figures["users"], figures["guests"], False, matched)
    return Preview(
        min(sessions, cap),
        figures["users"],
        figures["guests"],
        capped=sessions > cap,
        matched=min(matched, cap),
        matched_capped=matched > cap,
    )


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
    if keep is not None and keep.session_key is not None:
        rows = rows.exclude(session_key=keep.session_key)
    if dry_run:
        return preview(rows)
    if all and user is None and ip is None and not except_staff:
        return kill_all(actor=actor, reason=reason, keep=keep)
    if user is not None and ip is None and not except_staff:
        return kill_user(user, actor=actor, reason=reason, keep=keep)
    scope = AuditEntry.SCOPE_ALL if all and user is None and ip is None else AuditEntry.SCOPE_FILTER

    def each() -> Any:
        for record in rows.select_related(None).iterator(chunk_size=PURGE_BATCH):
            yield record
            if progress is not None:
                progress(1)

    return kill_records(each(), actor=actor, reason=reason, scope=scope)


# -- session policies: sessions_panel.policies decides, this ends and records -------------


def end_refused(store: Any, key: str, user_id: Any, why: str, state: revocation.Known) -> None:
    """End a session its load just refused by a policy (``IDLE_TIMEOUT``,
    ``ABSOLUTE_LIFETIME``): as a kill, a revocation marker first (a request in flight
    cannot save it back), then its index row and its stored data; and one audit entry,
    with the signal, from the request that dropped the row.

    Best effort past the marker: the load refuses the session whatever happens here,
    and what is left goes with ``manage.py prune`` or at its expiry.
    """
    from sessions_panel import policies

    try:
        revocation.revoke_key(key)
    except DatabaseError:
        logger.exception("could not write the marker of a session a policy ended")
    try:
        removed = records.remove(key)
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
        _finish(result, None, policies.reason(why, state), detail=policies.DETAIL_ON_LOAD)


def end_over_cap(rows: Iterable[SessionRecord], user: Any, cap: int) -> KillResult:
    """End ``rows``, the user's oldest sessions, so that a new login keeps them at
    ``cap`` (``MAX_SESSIONS_ACTION = "end_oldest"``): one audit entry for the login."""
    from sessions_panel import policies

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

    from sessions_panel import policies

    key = request.session.session_key
    logout(request)  # flush: the store's data and (a tracked engine) the index row go
    result = KillResult(
        scope=AuditEntry.SCOPE_POLICY,
        requested=1,
        killed=1,
        short_ids=[] if key is None else [short_id_for(key)],
        user_ids=[user.pk],
    )
    return _finish(
        result,
        None,
        policies.refused_reason(cap),
        detail=f"user {user.get_username()}: {policies.DETAIL_REFUSED}",
    )


def purge_by_policy() -> int:
    """Delete the data and index rows of every session a policy ends (idle too long,
    older than its lifetime), each policy's with one audit entry; no time limit
    (``manage.py prune`` runs this). Returns how many."""
    from sessions_panel import policies

    ensure_tracked()
    total = 0
    for _why, rows, reason in policies.expired(_primary()):
        count, short_ids, user_ids, _ = _purge(rows, None, None)
        if count:
            result = KillResult(
                scope=AuditEntry.SCOPE_POLICY,
                requested=count,
                killed=count,
                short_ids=short_ids,
                user_ids=list(dict.fromkeys(user_ids)),
            )
            _finish(result, None, reason, detail=policies.DETAIL_PRUNE)
        total += count
    return total
