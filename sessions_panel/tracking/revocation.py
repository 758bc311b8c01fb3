"""Refusing killed sessions on load, whatever the store did meanwhile.

Three kinds of :class:`~sessions_panel.models.Revocation` decide: a marker on one key
(killed by name), and two "not before" epochs, the global one (Kill All) and one per
user (kill a user). An epoch refuses a session whose key was *issued* before it.

When a key was issued lives in the session index (``SessionRecord.issued``), never in
the session data the application sees: a tracked engine changes nothing in
``items()``, ``cycle_key``, ``clear`` or the manager API. A session with no issue time
(created before the panel was installed, or written straight into the store) counts
as older than every epoch, so Kill All ends it too.

Issue times and epochs both come from the database's clock (:mod:`sessions_panel.tracking.clock`),
so hosts whose clocks disagree agree on what an epoch refuses; epochs only move forward,
whatever order kills commit in. Every read here goes to the database the router
writes to: a replica that lags would serve a killed session.

One indexed statement answers all of it; the ``db`` engine (and ``cached_db`` when its
cache misses) asks it in the statement that loads the session (``backends/dbload.py``)
and hands the answer over as :class:`Known`. The same statement reads what the session
policies decide by (:mod:`sessions_panel.tracking.policies`): when the session was last used and
when its user logged in, and the database's now; so a policy costs a request nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from sessions_panel.conf import conf
from sessions_panel.models import Revocation, SessionRecord
from sessions_panel.tracking import clock

#: Why a load is refused: killed by name, issued before an epoch, or ended by a policy.
KILLED = "key"
EPOCH = "epoch"
IDLE = "idle"
LIFETIME = "lifetime"
#: The refusals a session policy makes rather than a kill.
POLICIES = frozenset({IDLE, LIFETIME})


def primary() -> str:
    """The database alias revocations are read from and written to."""
    return router.db_for_write(Revocation)


def key_digest(session_key: str) -> str:
    return salted_hmac("sessions_panel.revocation", session_key, algorithm="sha256").hexdigest()


@dataclass(frozen=True, slots=True)
class Known:
    """The revocation state of one session, as one statement read it.

    ``user_epoch`` was read for ``user_target``: the user the index names for the key
    (when read with the session) or the user asked about. It answers only for that
    user; :func:`refusal` asks again when the loaded data names another.
    """

    session_key: str
    killed: bool
    all_epoch: float | None
    user_target: str | None
    user_epoch: float | None
    #: When the key was issued (database clock); ``None``: unknown, older than any epoch.
    issued: float | None
    #: When the index last saw the session used (database clock); ``None``: unknown
    #: (no index row, or a row from before it was kept), never idle.
    seen: float | None = None
    #: When the session's user logged in (database clock); ``None``: unknown, and the
    #: issue time stands in.
    logged_in: float | None = None
    #: The database's clock when this was read; ``None``: not read (no policy decides).
    now: float | None = None

    def answers(self, session_key: str, user_id: Any) -> bool:
        return self.session_key == session_key and (
            user_id is None or self.user_target == str(user_id)
        )

    def refusal(self, user_id: Any, *, idle: int = 0, lifetime: int = 0) -> str | None:
        """Why this session is refused (see :func:`refusal`); ``idle`` and ``lifetime``
        are the policies in force, in seconds (0: off)."""
        if self.killed:
            return KILLED
        epochs = [self.all_epoch, self.user_epoch if user_id is not None else None]
        for epoch in epochs:
            if epoch is not None and (self.issued is None or self.issued < epoch):
                return EPOCH
        if self.now is not None:
            if idle and self.seen is not None and self.now - self.seen > idle:
                return IDLE
            if lifetime and user_id is not None:
                # A login time unknown (and no issue time either) counts as older than
                # the lifetime, as an unknown issue time counts as older than an epoch.
                start = self.login_time
                if start is None or self.now - start > lifetime:
                    return LIFETIME
        return None

    @property
    def login_time(self) -> float | None:
        """What ``ABSOLUTE_LIFETIME`` counts from: the login, else the key's issue."""
        return self.logged_in if self.logged_in is not None else self.issued


def _column(model: type[Revocation] | type[SessionRecord], name: str) -> str:
    return str(model._meta.get_field(name).column)  # type: ignore[union-attr]


#: The index row's columns a load reads with the revocation state, in this order.
INDEX_COLUMNS = ("issued", "seen", "logged_in")

_state_sqls: dict[str, tuple[str, str]] = {}


def _state_sql(connection: BaseDatabaseWrapper, now_sql: str) -> str:
    """The state statement, with ``now_sql`` (:func:`clock.sql`) for the database's now."""
    parts = _state_sqls.get(connection.vendor)
    if parts is None:
        parts = _state_sqls[connection.vendor] = _state_sql_parts(connection)
    return parts[0] + now_sql + parts[1]


def _state_sql_parts(connection: BaseDatabaseWrapper) -> tuple[str, str]:
    qn = connection.ops.quote_name
    revocations = qn(Revocation._meta.db_table)
    index = qn(SessionRecord._meta.db_table)
    kind, target, not_before = (
        qn(_column(Revocation, name)) for name in ("kind", "target", "not_before")
    )
    key = qn(_column(SessionRecord, "session_key"))
    row = ", ".join(f"r.{qn(_column(SessionRecord, name))}" for name in INDEX_COLUMNS)
    return (
        f"SELECT (SELECT COUNT(*) FROM {revocations} WHERE {kind} = %s AND {target} = %s),"
        f" (SELECT {not_before} FROM {revocations} WHERE {kind} = %s AND {target} = %s),"
        f" (SELECT {not_before} FROM {revocations} WHERE {kind} = %s AND {target} = %s),"
        f" {row}, ",
        f" FROM (SELECT 1) one LEFT JOIN {index} r ON r.{key} = %s",
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def state(session_key: str, user_id: Any) -> Known:
    """Read the revocation state of one session (one statement, on the primary)."""
    # Plain SQL rather than the ORM: this runs on every request that carries a session,
    # and the ORM's query building costs ten times more than the query itself.
    connection = connections[primary()]
    user = "" if user_id is None else str(user_id)
    now_sql, now_params = clock.sql(connection)
    params = [
        Revocation.KEY,
        key_digest(session_key),
        Revocation.ALL,
        "",
        Revocation.USER,
        user,
        *now_params,
        session_key,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_state_sql(connection, now_sql), params)
        killed, all_epoch, user_epoch, issued, seen, logged_in, now = cursor.fetchone()
    return Known(
        session_key=session_key,
        killed=bool(killed),
        all_epoch=_float(all_epoch),
        user_target=None if user_id is None else user,
        user_epoch=None if user_epoch is None or user_id is None else float(user_epoch),
        issued=_float(issued),
        seen=_float(seen),
        logged_in=_float(logged_in),
        now=_float(now),
    )


def refusal(
    session_key: str, user_id: Any, known: Known | None = None, *, policies: bool = False
) -> str | None:
    """Why a load of this session must be refused: ``"key"`` (killed by name),
    ``"epoch"`` (issued before Kill All or its user's kill), with ``policies``
    ``"idle"`` (``IDLE_TIMEOUT``) or ``"lifetime"`` (``ABSOLUTE_LIFETIME``), or ``None``.

    No query when ``known`` (read with the session) answers for this key and user.
    ``policies`` is for a load alone: a save or a re-key checks for a kill racing it.
    """
    return verdict(session_key, user_id, known, policies=policies)[0]


def verdict(
    session_key: str, user_id: Any, known: Known | None = None, *, policies: bool = False
) -> tuple[str | None, Known]:
    """:func:`refusal`, and the state it was decided from (a policy's reason needs it)."""
    if known is None or not known.answers(session_key, user_id):
        known = state(session_key, user_id)
    if not policies:
        return known.refusal(user_id), known
    why = known.refusal(user_id, idle=conf.IDLE_TIMEOUT, lifetime=conf.ABSOLUTE_LIFETIME)
    return why, known


def _marker_expiry(expiry: datetime | None) -> datetime:
    longest = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    return max(expiry, longest) if expiry is not None else longest


def _raise(using: str, kind: str, target: str, expires: datetime | None) -> float:
    """Write a revocation stamped with the database's clock; never lower an existing one.

    One statement on SQLite and PostgreSQL (an upsert keeping the greater time), so two
    kills committing in either order leave the later epoch. Returns the time in force.
    """
    connection = connections[using]
    qn = connection.ops.quote_name
    table = qn(Revocation._meta.db_table)
    expires_value = Revocation._meta.get_field("expires").get_db_prep_save(expires, connection)
    greatest = {"sqlite": "MAX", "postgresql": "GREATEST"}.get(connection.vendor)
    if greatest is None:
        return _raise_portably(using, kind, target, expires)
    now_sql, now_params = clock.sql(connection)
    sql = (
        f"INSERT INTO {table} AS r (kind, target, not_before, expires)"
        f" VALUES (%s, %s, {now_sql}, %s)"
        f" ON CONFLICT (kind, target) DO UPDATE SET"
        f" not_before = {greatest}(r.not_before, excluded.not_before),"
        f" expires = excluded.expires"
        f" RETURNING not_before"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [kind, target, *now_params, expires_value])
        (value,) = cursor.fetchone()
    _invalidate_kept(using)
    return float(value)


def _invalidate_kept(using: str) -> None:
    """Make every state the session cache keeps stale once this revocation commits
    (at once outside a transaction: it has).

    Inside a transaction, now as well: a state kept between the two is stale after
    the second, and a transaction whose end is not a commit this process sees (a
    test's, an outer ``atomic`` the caller owns) still drops the states it must."""
    from sessions_panel.tracking import revocation_cache

    if connections[using].in_atomic_block:
        revocation_cache.invalidate()
    transaction.on_commit(revocation_cache.invalidate, using=using)


def _raise_portably(using: str, kind: str, target: str, expires: datetime | None) -> float:
    """:func:`_raise` for other vendors: a locked read, then a write."""
    with transaction.atomic(using=using):
        _invalidate_kept(using)
        now = clock.now(using)
        row = (
            Revocation.objects.using(using)
            .select_for_update()
            .filter(kind=kind, target=target)
            .first()
        )
        if row is None:
            Revocation.objects.using(using).create(
                kind=kind, target=target, not_before=now, expires=expires
            )
            return now
        row.not_before = max(row.not_before, now)
        row.expires = expires
        row.save(using=using, update_fields=["not_before", "expires"])
        return row.not_before


def issued_before(rows: Any, epoch: float) -> Any:
    """The index rows an epoch refuses: issued before it, or at an unknown time (the
    rule :meth:`Known.refusal` applies to one session, as a filter on many)."""
    return rows.filter(Q(issued__lt=epoch) | Q(issued__isnull=True))


def _reissue(using: str, keep_key: str | None, epoch: float) -> None:
    """Move the kept session's issue time up to ``epoch``, so the epoch spares it."""
    if keep_key is None:
        return
    rows = SessionRecord.objects.using(using).filter(session_key=keep_key)
    issued_before(rows, epoch).update(issued=epoch)


def revoke_key(session_key: str, expiry: datetime | None = None) -> None:
    """Refuse this key from now on, even if an in-flight request saves it again."""
    _raise(primary(), Revocation.KEY, key_digest(session_key), _marker_expiry(expiry))


def revoke_keys(session_keys: list[str], expiry: datetime | None = None) -> None:
    """:func:`revoke_key` for many keys, in one statement."""
    if not session_keys:
        return
    expires = _marker_expiry(expiry)
    markers = [
        Revocation(
            kind=Revocation.KEY,
            target=key_digest(key),
            not_before=clock.DatabaseNow(),
            expires=expires,
        )
        for key in dict.fromkeys(session_keys)
    ]
    Revocation.objects.using(primary()).bulk_create(
        markers,
        update_conflicts=True,
        unique_fields=["kind", "target"],
        update_fields=["expires"],
    )
    _invalidate_kept(primary())


def revoke_user(user_id: Any, keep_key: str | None = None) -> float:
    """Refuse every session of this user issued before now (the database's now).

    ``keep_key`` (the caller's own session) is spared in the same transaction, so no
    request of it is ever refused in between. Returns the epoch in force.
    """
    using = primary()
    with transaction.atomic(using=using):
        epoch = _raise(using, Revocation.USER, str(user_id), None)
        _reissue(using, keep_key, epoch)
    return epoch


def revoke_all(keep_key: str | None = None) -> float:
    """Refuse every session issued before now, indexed or not, except ``keep_key``."""
    epoch, _ = revoke_all_sparing(keep_key, None)
    return epoch


def revoke_all_sparing(keep_key: str | None, spare: Any) -> tuple[float, int]:
    """:func:`revoke_all`, sparing the index rows of ``spare`` too (a queryset of
    :class:`SessionRecord`, e.g. superusers' sessions a lesser admin may not end), and
    how many of them it spared.

    The epoch refuses by issue time alone, whoever the session belongs to, so each
    spared row is re-issued at the epoch as the kept session is, in the same
    transaction: no request of theirs is refused in between, on any engine (every
    load reads the issue time from the index). A session the index never saw has no
    row to re-issue and ends like any other.
    """
    using = primary()
    spared = 0
    with transaction.atomic(using=using):
        epoch = _raise(using, Revocation.ALL, "", None)
        _reissue(using, keep_key, epoch)
        if spare is not None:
            spared = issued_before(spare.using(using), epoch).update(issued=epoch)
    return epoch, spared


def prune() -> int:
    deleted, _ = Revocation.objects.using(primary()).filter(expires__lte=timezone.now()).delete()
    return deleted
