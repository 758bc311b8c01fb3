"""The database engines' load in one statement: the session row and its revocation state.

Django's engine reads the row through the ORM, whose query building costs several times
the query itself, and the revocation check would be a second statement (on PostgreSQL,
a second round trip). Here one hand-written statement reads the row, the key's marker,
the global epoch, the key's issue time and the epoch of the user the session index
names for this key, with what the session policies decide by (the index row's
``seen`` and ``logged_in``, and the database's now), all from the database the router
writes to (a lagging replica would serve a killed session);
:func:`revocation.refusal` decides from that, and asks the database again only when the
loaded data names another user than the index (or the index has no row for the key).

Used when the session, the index and the revocations share a database of a vendor
whose SQL this was written for; anywhere else the engine loads the way Django does
and checks revocations with their own query.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import SuspiciousOperation
from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model
from django.utils import timezone

from sessions_panel.models import Revocation, SessionRecord
from sessions_panel.tracking import clock
from sessions_panel.tracking.revocation import INDEX_COLUMNS, Known, key_digest

#: How each supported vendor turns the index's user id into a revocation target.
TEXT_CAST = {"sqlite": "CAST({} AS TEXT)", "postgresql": "CAST({} AS TEXT)"}

Converter = Callable[[Any, Any, BaseDatabaseWrapper], Any]


@dataclass(frozen=True, slots=True)
class _Plan:
    #: The statement before and after the database's now (:func:`clock.sql`, asked on
    #: each load: its SQL, or on SQLite its parameter, is the clock's of that moment).
    sql: tuple[str, str]
    fields: tuple[Field[Any, Any], ...]
    converters: tuple[tuple[tuple[Converter, ...], Any], ...]
    expire_date: Field[Any, Any]


# Per connection (each thread has its own): the converters are bound to it.
_plans: weakref.WeakKeyDictionary[BaseDatabaseWrapper, dict[type[Model], _Plan]] = (
    weakref.WeakKeyDictionary()
)


def _column(model: type[Model], name: str) -> str:
    return str(model._meta.get_field(name).column)  # type: ignore[union-attr]


def _sql(connection: BaseDatabaseWrapper, model: type[Model]) -> tuple[str, str]:
    qn = connection.ops.quote_name
    columns = ", ".join(f"s.{qn(str(field.column))}" for field in model._meta.concrete_fields)
    key, expire_date = qn(_column(model, "session_key")), qn(_column(model, "expire_date"))
    table = qn(Revocation._meta.db_table)
    kind, target, not_before = (
        qn(_column(Revocation, name)) for name in ("kind", "target", "not_before")
    )
    user = TEXT_CAST[connection.vendor].format(f"r.{qn(_column(SessionRecord, 'user'))}")
    row = ", ".join(f"r.{qn(_column(SessionRecord, name))}" for name in INDEX_COLUMNS)
    return (
        f"SELECT {columns},"
        f" (SELECT COUNT(*) FROM {table} WHERE {kind} = %s AND {target} = %s),"
        f" (SELECT {not_before} FROM {table} WHERE {kind} = %s AND {target} = %s),"
        f" {user},"
        f" (SELECT {not_before} FROM {table} WHERE {kind} = %s AND {target} = {user}),"
        f" {row}, ",
        f" FROM {qn(model._meta.db_table)} s"
        f" LEFT JOIN {qn(SessionRecord._meta.db_table)} r"
        f" ON r.{qn(_column(SessionRecord, 'session_key'))} = s.{key}"
        f" WHERE s.{key} = %s AND s.{expire_date} > %s",
    )


def _plan(connection: BaseDatabaseWrapper, model: type[Model]) -> _Plan:
    by_model = _plans.setdefault(connection, {})
    plan = by_model.get(model)
    if plan is None:
        fields = tuple(model._meta.concrete_fields)
        converters = []
        for field in fields:
            column = field.get_col(model._meta.db_table)
            found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            converters.append((tuple(found), column))
        plan = by_model[model] = _Plan(
            sql=_sql(connection, model),
            fields=fields,
            converters=tuple(converters),
            expire_date=model._meta.get_field("expire_date"),  # type: ignore[arg-type]
        )
    return plan


def folds(model: type[Model]) -> str | None:
    """The database alias to load ``model`` from in one statement, if there is one."""
    alias = router.db_for_write(model)
    if alias != router.db_for_write(SessionRecord) or alias != router.db_for_write(Revocation):
        return None
    return alias if connections[alias].vendor in TEXT_CAST else None


def load(alias: str, model: type[Model], session_key: str) -> tuple[Model | None, Known | None]:
    """The live session row (``None`` if there is none) and its revocation state."""
    connection = connections[alias]
    plan = _plan(connection, model)
    now_sql, now_params = clock.sql(connection)
    params = [
        Revocation.KEY,
        key_digest(session_key),
        Revocation.ALL,
        "",
        Revocation.USER,
        *now_params,
        session_key,
        plan.expire_date.get_db_prep_value(timezone.now(), connection),
    ]
    with connection.cursor() as cursor:
        cursor.execute(plan.sql[0] + now_sql + plan.sql[1], params)
        row = cursor.fetchone()
    if row is None:
        return None, None
    width = len(plan.fields)
    values = list(row[:width])
    for position, (converters, column) in enumerate(plan.converters):
        for converter in converters:
            values[position] = converter(values[position], column, connection)
    killed, all_epoch, user_target, user_epoch, issued, seen, logged_in, now = row[width:]
    known = Known(
        session_key=session_key,
        killed=bool(killed),
        all_epoch=None if all_epoch is None else float(all_epoch),
        user_target=None if user_target is None else str(user_target),
        user_epoch=None if user_epoch is None else float(user_epoch),
        issued=None if issued is None else float(issued),
        seen=None if seen is None else float(seen),
        logged_in=None if logged_in is None else float(logged_in),
        now=None if now is None else float(now),
    )
    names = [field.attname for field in plan.fields]
    return model.from_db(alias, names, values), known


if TYPE_CHECKING:
    from django.contrib.sessions.backends.db import SessionStore as _Base
else:
    _Base = object


class OneStatementLoad(_Base):
    """``_get_session_from_db`` for the tracked ``db`` and ``cached_db`` engines, and
    the reads that decide whether a session lives (``exists``, the read before
    ``delete``) sent to the primary. Comes after ``TrackedSessionMixin`` in the engines'
    bases, so the mixin's ``delete`` still keeps the index."""

    #: Revocation state read with the session, for ``TrackedSessionMixin.load``.
    _known: Known | None = None
    _stored_expiry: datetime | None = None
    #: Set by ``cached_db``'s engine: its cache is asked and cleaned with the database.
    cache_key_prefix: str

    def _get_session_from_db(self) -> Any:
        key = self.session_key
        alias = folds(self.model) if key is not None else None
        if key is None or alias is None:
            stored = self._get_session_from_primary()
        else:
            stored, self._known = load(alias, self.model, key)
            if stored is None:
                self._session_key = None  # as Django does for a key it does not hold
        self._stored_expiry = stored.expire_date if stored is not None else None
        return stored

    def _get_session_from_primary(self) -> Any:
        """Django's ``_get_session_from_db``, read from the database the router writes to."""
        try:
            return self.model.objects.using(router.db_for_write(self.model)).get(
                session_key=self.session_key, expire_date__gt=timezone.now()
            )
        except (self.model.DoesNotExist, SuspiciousOperation) as error:
            if isinstance(error, SuspiciousOperation):
                logging.getLogger(f"django.security.{error.__class__.__name__}").warning(str(error))
            self._session_key = None
            return None

    def exists(self, session_key: str) -> bool:
        # Asked to confirm a kill: a replica that lags would say the session still exists
        # (or, worse, that it is gone).
        if hasattr(self, "_cache"):  # cached_db: the cache first, as Django's engine does
            try:
                if self.cache_key_prefix + session_key in self._cache:
                    return True
            except Exception:
                logging.getLogger("sessions_panel").warning("session cache unreachable")
        return bool(
            self.model.objects.using(router.db_for_write(self.model))
            .filter(session_key=session_key)
            .exists()
        )

    def delete(self, session_key: str | None = None) -> None:
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        # Django's engine reads the row before deleting it, through the read router.
        self.model.objects.using(router.db_for_write(self.model)).filter(
            session_key=session_key
        ).delete()
        if hasattr(self, "_cache"):  # cached_db: the cache after the database, as Django
            self._cache.delete(self.cache_key_prefix + session_key)
