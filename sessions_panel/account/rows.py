"""Which sessions are the user's own, and what “Your sessions” shows of each.

Every lookup is filtered by the signed-in user, so a handle that is someone else's
(or a guest's, or nobody's) finds nothing, exactly as one that has already ended.
The page is one indexed query (the ``(user, last_seen)`` index) whatever the number of
sessions, with a second one only in the rare case that this device's session is not
among the most recently seen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import router
from django.db.models import QuerySet
from django.utils.timesince import timesince

from sessions_panel.models import SessionRecord
from sessions_panel.tracking import useragent

#: Handles are ``secrets.token_urlsafe`` output; anything else is not worth a query.
HANDLE = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: Sessions shown at most (most recently seen first, this device's always among them).
LIMIT = 100
#: Seen this recently is "just now".
JUST_NOW = timedelta(minutes=1)
FIELDS = (
    "handle",
    "session_key",
    "ip",
    "user_agent",
    "application",
    "created",
    "last_seen",
)


@dataclass(frozen=True)
class OwnSession:
    """One of the user's sessions as the page shows it (never the session key)."""

    handle: str
    browser: str
    ip: str | None
    application: str
    created: datetime
    last_seen: datetime
    #: "5 minutes" (the page says "… ago"); empty when seen just now.
    seen_ago: str
    is_current: bool

    @classmethod
    def of(cls, record: SessionRecord, now: datetime, current_key: str | None) -> OwnSession:
        age = now - record.last_seen
        return cls(
            handle=record.handle,
            browser=useragent.describe(record.user_agent),
            ip=record.ip,
            application=record.application,
            created=record.created,
            last_seen=record.last_seen,
            seen_ago="" if age < JUST_NOW else timesince(record.last_seen, now, depth=1),
            is_current=current_key is not None and record.session_key == current_key,
        )


def _live(user: Any, now: datetime) -> QuerySet[SessionRecord]:
    return SessionRecord.objects.filter(user_id=user.pk, expiry__gt=now)


@dataclass(frozen=True)
class OwnSessions:
    sessions: list[OwnSession]
    #: More live sessions than :data:`LIMIT`: the least recently seen are not shown.
    truncated: bool

    @property
    def others(self) -> int:
        return sum(1 for session in self.sessions if not session.is_current)


def own_sessions(user: Any, current_key: str | None, now: datetime) -> OwnSessions:
    """The user's live sessions, this device's first, then the most recently seen."""
    records = list(_live(user, now).only(*FIELDS).order_by("-last_seen", "-id")[: LIMIT + 1])
    truncated = len(records) > LIMIT
    records = records[:LIMIT]
    current = [r for r in records if current_key is not None and r.session_key == current_key]
    if not current and current_key is not None:
        # Only when more than LIMIT sessions were seen after this one: one query more.
        current = list(_live(user, now).only(*FIELDS).filter(session_key=current_key)[:1])
        if current:
            records = records[: LIMIT - 1]
    rest = [r for r in records if r not in current]
    return OwnSessions(
        sessions=[OwnSession.of(r, now, current_key) for r in (*current, *rest)],
        truncated=truncated,
    )


def owned(user: Any, handle: str, now: datetime) -> SessionRecord | None:
    """The user's live session behind ``handle``, read where kills read; else ``None``
    (someone else's, a guest's, unknown, malformed or ended: all alike)."""
    if not HANDLE.fullmatch(handle):
        return None
    return (
        _live(user, now)
        .using(router.db_for_write(SessionRecord))
        .only(*FIELDS)
        .filter(handle=handle)
        .first()
    )


def others_count(user: Any, current_key: str | None, now: datetime) -> int:
    """How many of the user's live sessions are not this device's."""
    rows = _live(user, now).using(router.db_for_write(SessionRecord))
    if current_key is not None:
        rows = rows.exclude(session_key=current_key)
    return int(rows.count())
