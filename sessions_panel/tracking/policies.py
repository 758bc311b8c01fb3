"""Session policies: an idle timeout, an absolute lifetime, and a cap on sessions per user.

**Idle** (``IDLE_TIMEOUT``): a session whose index row was last written as used more
than that many seconds ago is refused on its next request, which goes on anonymous
like a killed session's. **Lifetime** (``ABSOLUTE_LIFETIME``): an authenticated
session is refused once that many seconds have passed since its user logged in,
however active it is. Both are decided in the load, from what the load reads anyway
(:class:`~sessions_panel.tracking.revocation.Known`: the index row's ``seen``, ``logged_in`` and
``issued``, and the database's now, in the statement that reads the revocation state),
so neither costs a request a query, nor a write while the session is fresh. A refused
session ends through :func:`sessions_panel.termination.end_refused` (a revocation
marker, its data and row dropped, an audit entry, ``session_killed``), and
``manage.py prune`` ends those no request comes back for
(:func:`sessions_panel.termination.purge_by_policy`).

The times are the database's clock (:mod:`sessions_panel.tracking.clock`), as for kills: hosts
whose clocks disagree agree on when a session went idle. "Last seen" is written at most
every ``LAST_SEEN_INTERVAL`` seconds, so a session may be refused after between
``IDLE_TIMEOUT - LAST_SEEN_INTERVAL`` and ``IDLE_TIMEOUT`` seconds unused (check W002
warns when the timeout is under twice the interval).

"Since login" is the ``login()`` that made the session authenticated
(``SessionRecord.logged_in``, set by :func:`on_login`); re-keying the session later
(``cycle_key``, which ``update_session_auth_hash`` calls on a password change) keeps it,
and a new ``login()`` (the user signing in again) restarts it. A session logged in
before the panel kept it counts from its key's issue time; with neither, it counts as
older than the lifetime (as a session with no issue time counts as older than every
epoch).

**Cap** (``MAX_SESSIONS_PER_USER``, per user through ``MAX_SESSIONS_RESOLVER``): checked
at each login, in :func:`on_login` (Django's ``user_logged_in``), so it holds for every
login view that calls ``login()``. Under a per-user lock (an advisory lock on
PostgreSQL, the single writer on SQLite, the user's row elsewhere) the new session's
row is given its user, the user's other live sessions are counted, and those over the
cap are ended (``"end_oldest"``: oldest login first) or the new login is refused
(``"refuse"``: Django's ``logout()``, a message, and the login view's redirect sent back
to the login form by the middleware). Two logins at the cap wait for each other, so
neither sees the other's session missing: never cap + 1. Guest sessions never count.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils import timezone
from django.utils.translation import ngettext

from sessions_panel.conf import conf
from sessions_panel.models import Revocation, SessionRecord
from sessions_panel.tracking import clock, revocation
from sessions_panel.tracking.clock import DatabaseNow

logger = logging.getLogger("sessions_panel")

END_OLDEST = "end_oldest"
REFUSE = "refuse"
ACTIONS = (END_OLDEST, REFUSE)

#: The audit entries' details (stored text, like every reason and detail in the trail).
DETAIL_ON_LOAD = "refused on its next request"
DETAIL_CAP = "a login beyond the cap ended the oldest sessions"
DETAIL_REFUSED = "login refused"
DETAIL_PRUNE = "purged by manage.py prune"

#: Set on a request whose login the cap refused: the middleware sends the login view's
#: redirect back to the login form, where the message is shown.
REFUSED_LOGIN = "_sessions_panel_refused_login"

#: PostgreSQL advisory locks are two 32-bit keys: this namespace, and the user's.
LOCK_NAMESPACE = zlib.crc32(b"sessions_panel.cap") - 2**31


# -- reasons, as the audit trail keeps them ----------------------------------------------


def span(seconds: float) -> str:
    """A duration as the audit trail writes it: "45 s", "31 min", "12 h", "3 d"."""
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120 or (minutes < 48 * 60 and minutes % 60):
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 72 or hours % 24:
        return f"{hours} h"
    return f"{hours // 24} d"


def reason(why: str, state: revocation.Known) -> str:
    """Why a load was refused by a policy: "idle 31 min (limit 30 min)", "older than
    12 h since login"."""
    if why == revocation.IDLE:
        idle = (state.now or 0.0) - (state.seen or 0.0)
        return f"idle {span(idle)} (limit {span(conf.IDLE_TIMEOUT)})"
    if state.login_time is None:
        return f"login time unknown (lifetime {span(conf.ABSOLUTE_LIFETIME)})"
    return f"older than {span(conf.ABSOLUTE_LIFETIME)} since login"


def cap_reason(cap: int) -> str:
    return f"over the cap of {cap}"


def refused_reason(cap: int) -> str:
    return f"login refused: over the cap of {cap}"


# -- which sessions a policy ends ---------------------------------------------------------


def expired(using: str) -> Iterator[tuple[str, QuerySet[SessionRecord], str]]:
    """For each policy in force: the index rows it ends now, and the audit reason.

    The database's clock decides, as on load. A row with no ``seen`` (written before it
    was kept) is judged by its ``last_seen`` instead.
    """
    idle, lifetime = conf.IDLE_TIMEOUT, conf.ABSOLUTE_LIFETIME
    if not idle and not lifetime:
        return
    now = clock.now(using)
    rows = SessionRecord.objects.using(using)
    if idle:
        host_cutoff = timezone.now() - timedelta(seconds=idle)
        yield (
            revocation.IDLE,
            rows.filter(Q(seen__lt=now - idle) | Q(seen__isnull=True, last_seen__lt=host_cutoff)),
            f"idle over {span(idle)}",
        )
    if lifetime:
        cutoff = now - lifetime
        yield (
            revocation.LIFETIME,
            rows.filter(user__isnull=False).filter(
                Q(logged_in__lt=cutoff)
                | Q(logged_in__isnull=True, issued__lt=cutoff)
                | Q(logged_in__isnull=True, issued__isnull=True)
            ),
            f"older than {span(lifetime)} since login",
        )


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def ends(record: SessionRecord) -> tuple[datetime | None, datetime | None]:
    """When the idle timeout and the lifetime will end this session, as things stand
    (``None``: that policy is off, or does not apply). Fixed moments, not countdowns:
    they change only when the row does (a "last seen" write moves the idle-out)."""
    idle, lifetime = conf.IDLE_TIMEOUT, conf.ABSOLUTE_LIFETIME
    idle_out = _moment(record.seen + idle) if idle and record.seen is not None else None
    life_end = None
    if lifetime and record.user_id is not None:
        start = record.logged_in if record.logged_in is not None else record.issued
        # Unknown: already over (the next request is refused); shown as the row's creation.
        life_end = _moment(start + lifetime) if start is not None else record.created
    return idle_out, life_end


# -- the cap ------------------------------------------------------------------------------


def cap_configured() -> bool:
    return bool(conf.MAX_SESSIONS_PER_USER or conf.MAX_SESSIONS_RESOLVER is not None)


def cap_for(user: Any) -> int:
    """The most live sessions ``user`` may hold (0: no cap): the resolver's answer for
    them if it gives one (0: none for them), else ``MAX_SESSIONS_PER_USER``."""
    resolver = conf.MAX_SESSIONS_RESOLVER
    if resolver is not None:
        value = resolver(user)
        if value is not None:
            return max(0, int(value))
    return conf.MAX_SESSIONS_PER_USER


def lock_user(using: str, user_pk: Any) -> None:
    """Hold a lock on ``user_pk``'s sessions until the transaction ends."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        key = zlib.crc32(str(user_pk).encode()) - 2**31
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, key])
    elif connection.vendor == "sqlite":
        # SQLite has one writer at a time: a write takes the database's lock (BEGIN
        # IMMEDIATE has taken it already) and holds it to the commit. This one touches
        # no row; it only makes sure the lock is taken before anything is counted.
        qn = connection.ops.quote_name
        table, column = qn(SessionRecord._meta.db_table), qn("session_key")
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET {column} = {column} WHERE {column} = ''")
    else:
        users = get_user_model()._default_manager.using(using)
        list(users.select_for_update().filter(pk=user_pk).values_list("pk"))


def alive_others(using: str, user: Any, own_key: str) -> list[SessionRecord]:
    """The user's other sessions a load would still let in, oldest login first.

    Live by expiry, and neither killed (a marker or an epoch the purge has not caught
    up with) nor ended by a policy: a dead session must not count against the cap.
    Two queries, whatever the number of sessions.
    """
    rows = list(
        SessionRecord.objects.using(using)
        .live()
        .filter(user_id=user.pk)
        .exclude(session_key=own_key)
        .annotate(db_now=DatabaseNow())
    )
    if not rows:
        return []
    digests = {row.pk: revocation.key_digest(row.session_key) for row in rows}
    found = Revocation.objects.using(using).filter(
        Q(kind=Revocation.ALL, target="")
        | Q(kind=Revocation.USER, target=str(user.pk))
        | Q(kind=Revocation.KEY, target__in=list(digests.values()))
    )
    epochs: dict[str, float] = {}
    killed: set[str] = set()
    for kind, target, not_before in found.values_list("kind", "target", "not_before"):
        if kind == Revocation.KEY:
            killed.add(target)
        else:
            epochs[kind] = not_before
    idle, lifetime = conf.IDLE_TIMEOUT, conf.ABSOLUTE_LIFETIME
    alive = []
    for row in rows:
        state = revocation.Known(
            session_key=row.session_key,
            killed=digests[row.pk] in killed,
            all_epoch=epochs.get(Revocation.ALL),
            user_target=str(user.pk),
            user_epoch=epochs.get(Revocation.USER),
            issued=row.issued,
            seen=row.seen,
            logged_in=row.logged_in,
            now=float(row.db_now),  # type: ignore[attr-defined]
        )
        if state.refusal(user.pk, idle=idle, lifetime=lifetime) is None:
            alive.append(row)

    def oldest_first(row: SessionRecord) -> tuple[bool, float, datetime, int]:
        start = row.logged_in if row.logged_in is not None else row.issued
        return (start is not None, start or 0.0, row.created, row.pk)

    return sorted(alive, key=oldest_first)


def refused_message(cap: int) -> str:
    return ngettext(
        "Sign-in refused: your account already has %(cap)d active session, the most "
        "allowed. Sign out there (or wait until it ends), then try again.",
        "Sign-in refused: your account already has %(cap)d active sessions, the most "
        "allowed. Sign out of one of them (or wait until one ends), then try again.",
        cap,
    ) % {"cap": cap}


def back_to_login(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """A login view's redirect after a refused login (the session cap, a lockdown) goes
    back to the login form (the same URL, ``next`` kept), where the message says why:
    the view cannot tell that ``login()`` was undone, and would send the now anonymous
    user on. A login made on a GET (a single sign-on callback, a sign-in link) would
    only run again at its own URL: it goes to ``settings.LOGIN_URL`` instead."""
    if getattr(request, REFUSED_LOGIN, False) and 300 <= response.status_code < 400:
        if request.method == "POST":
            response["Location"] = request.get_full_path()
        else:
            response["Location"] = resolve_url(settings.LOGIN_URL)
    return response
