"""Refusing killed sessions on load, whatever the store did meanwhile.

Every session a tracked engine creates carries a stamp (:data:`STAMP`, seconds since
the epoch) in its data; ``cycle_key`` (login) restamps it. A load is refused when
the key has a revocation marker, or when the stamp predates the global or the
user's "not before" epoch. Sessions with no stamp (created before the panel was
installed) count as stamped at 0, so Kill All ends them too.

One indexed query per load answers all three questions; the ``db`` engine (and
``cached_db`` when its cache misses) asks them in the query that loads the session
(see ``backends/dbload.py``) and hands the answer over as :class:`Known`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections, router
from django.utils import timezone
from django.utils.crypto import salted_hmac

from sessions_panel.models import Revocation

STAMP = "_sessions_panel_stamp"


def now_stamp() -> float:
    return time.time()


def key_digest(session_key: str) -> str:
    return salted_hmac("sessions_panel.revocation", session_key, algorithm="sha256").hexdigest()


def stamp_of(data: Mapping[str, Any]) -> float:
    value = data.get(STAMP, 0)
    return float(value) if isinstance(value, int | float) else 0.0


def _sql(user_id: Any) -> str:
    table = Revocation._meta.db_table
    sql = (
        f"SELECT kind, not_before FROM {table} WHERE (kind = %s AND target = %s)"
        f" OR (kind = %s AND target = %s)"
    )
    return sql + (" OR (kind = %s AND target = %s)" if user_id is not None else "")


def _params(session_key: str, user_id: Any) -> list[Any]:
    params: list[Any] = [Revocation.KEY, key_digest(session_key), Revocation.ALL, ""]
    return params + ([Revocation.USER, str(user_id)] if user_id is not None else [])


def _refused(rows: list[tuple[str, float]], stamp: float) -> bool:
    return any(kind == Revocation.KEY or stamp < not_before for kind, not_before in rows)


def _rows(session_key: str, user_id: Any) -> list[tuple[str, float]]:
    # Plain SQL rather than the ORM: this runs on every request that carries a session,
    # and the ORM's query building costs ten times more than the query itself.
    connection = connections[router.db_for_read(Revocation)]
    with connection.cursor() as cursor:
        cursor.execute(_sql(user_id), _params(session_key, user_id))
        return list(cursor.fetchall())


def is_refused(session_key: str, user_id: Any, stamp: float) -> bool:
    """Whether a load of this session must be refused (one indexed query)."""
    return _refused(_rows(session_key, user_id), stamp)


@dataclass(frozen=True, slots=True)
class Known:
    """The revocation state of one session, read by the statement that loaded it.

    The user's epoch was read for the user the session index names (``user_target``,
    as :func:`revoke_user` writes it); it answers only if the loaded data names the
    same user, else :func:`refusal` asks the database again.
    """

    session_key: str
    killed: bool
    all_epoch: float | None
    user_target: str | None
    user_epoch: float | None

    def answers(self, session_key: str, user_id: Any) -> bool:
        return self.session_key == session_key and (
            user_id is None or self.user_target == str(user_id)
        )

    def rows(self, user_id: Any) -> list[tuple[str, float]]:
        """What :func:`_rows` would have returned for this session."""
        rows = [(Revocation.KEY, 0.0)] if self.killed else []
        if self.all_epoch is not None:
            rows.append((Revocation.ALL, self.all_epoch))
        if user_id is not None and self.user_epoch is not None:
            rows.append((Revocation.USER, self.user_epoch))
        return rows


def refusal(session_key: str, user_id: Any, stamp: float, known: Known | None = None) -> str | None:
    """Why a load must be refused: ``"key"`` (killed by name), ``"epoch"``, or ``None``.

    No query when ``known`` (read with the session) answers for this key and user.
    """
    if known is not None and known.answers(session_key, user_id):
        rows = known.rows(user_id)
    else:
        rows = _rows(session_key, user_id)
    if any(kind == Revocation.KEY for kind, _ in rows):
        return "key"
    return "epoch" if _refused(rows, stamp) else None


async def ais_refused(session_key: str, user_id: Any, stamp: float) -> bool:
    return _refused(await sync_to_async(_rows)(session_key, user_id), stamp)


def _marker_expiry(expiry: datetime | None) -> datetime:
    longest = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    return max(expiry, longest) if expiry is not None else longest


def revoke_key(session_key: str, expiry: datetime | None = None) -> None:
    """Refuse this key from now on, even if an in-flight request saves it again."""
    Revocation.objects.update_or_create(
        kind=Revocation.KEY,
        target=key_digest(session_key),
        defaults={"not_before": now_stamp(), "expires": _marker_expiry(expiry)},
    )


def revoke_user(user_id: Any, epoch: float | None = None) -> float:
    """Refuse every session of this user stamped before ``epoch`` (default: now)."""
    epoch = now_stamp() if epoch is None else epoch
    Revocation.objects.update_or_create(
        kind=Revocation.USER,
        target=str(user_id),
        defaults={"not_before": epoch, "expires": None},
    )
    return epoch


def revoke_all(epoch: float | None = None) -> float:
    """Refuse every session stamped before ``epoch`` (default: now), indexed or not."""
    epoch = now_stamp() if epoch is None else epoch
    Revocation.objects.update_or_create(
        kind=Revocation.ALL, target="", defaults={"not_before": epoch, "expires": None}
    )
    return epoch


def prune() -> int:
    deleted, _ = Revocation.objects.filter(expires__lte=timezone.now()).delete()
    return deleted
