"""Which sessions the Sessions page shows: search, status filter, order, paging, counts.

Everything here is an indexed query on the :class:`SessionRecord` index, bounded in
size, and a page costs the same fixed number of queries however long it is. Two traps
from the measurements in DESIGN.md shape the search:

- a username substring must not be one JOIN (``username LIKE '%x%' ORDER BY last_seen``
  walks the whole index): the matching users are found first, then their sessions by
  ``user_id`` (the ``(user, last_seen)`` index);
- paging never uses an offset: "load more" asks for the rows after the last one shown
  (a keyset position, :mod:`sessions_panel.query.cursor`), one page whatever the depth; the
  live refresh and a reload show rows 1..N from the top, capped at :data:`~.liststate.MAX_ROWS`.

Rows leave this module as :class:`Row` values, which hold no session key: the raw key
cannot reach a template even by mistake.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connections, models
from django.db.models import BooleanField, ExpressionWrapper, Q, Value
from django.db.models.functions import Coalesce
from django.utils.timesince import timeuntil
from django.utils.translation import gettext as _

from sessions_panel.models import SessionRecord
from sessions_panel.query import cursor, flags, privacy, search
from sessions_panel.query.flags import Flag
from sessions_panel.query.liststate import (
    SORT_LAST_SEEN,
    STATUS_AUTHENTICATED,
    STATUS_GUEST,
    ListState,
)
from sessions_panel.tracking import index_writer, policies
from sessions_panel.tracking.useragent import describe


@dataclass(frozen=True, slots=True)
class Row:
    """One session as the page shows it: display values and the public handle only."""

    handle: str
    short_id: str
    user_id: Any
    username: str
    full_name: str
    ip: str | None
    application: str
    user_agent: str
    browser: str
    expiry: datetime
    expires_in: str
    last_seen: datetime
    is_current: bool
    #: Risk flags (:func:`sessions_panel.query.flags.flags_for`), computed for the whole page.
    flags: tuple[Flag, ...] = ()
    #: ``ip`` is masked: the viewer may not see full addresses.
    ip_masked: bool = False
    #: The session's user is a superuser (from the user the row query joins already):
    #: a lesser admin is offered no Kill on it (``PROTECT_SUPERUSERS``).
    is_superuser: bool = False
    #: When ``IDLE_TIMEOUT`` will end the session if it is not used again, and when
    #: ``ABSOLUTE_LIFETIME`` will end it: fixed moments, never countdowns (the live
    #: refresh answers "unchanged" only if time passing changes no row).
    idle_out: datetime | None = None
    lifetime_end: datetime | None = None

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def user_label(self) -> str:
        if self.user_id is None:
            return _("Guest")
        return self.username or _("Deleted user")


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    #: More rows match than are shown, and "load more" can show them.
    has_more: bool
    #: More rows match than :data:`~.liststate.MAX_ROWS`: the admin has to narrow the list.
    capped: bool
    #: The position after the last row (``after=`` of "load more"), when there is more.
    next_after: str = ""
    #: Rows in the list once these are shown (earlier "load more" pages included).
    shown: int = 0


def looks_like_ip_prefix(q: str) -> bool:
    return (
        bool(q) and search.IP_PREFIX.fullmatch(q.lower()) is not None and any(c in q for c in ".:")
    )


def _guests(queryset: models.QuerySet[SessionRecord]) -> models.QuerySet[SessionRecord]:
    """Guest rows, without inviting SQLite onto the (user, last_seen) index.

    ``user_id IS NULL`` reads as an equality on that index, so SQLite (which has no
    statistics) takes it, then sorts every guest row for an expiry or IP order (0.9 s
    at 1,000,000). ``COALESCE(user_id, NULL) IS NULL`` means the same and leaves the
    planner on the sort's own index, where guests (a third of the rows) come quickly.
    """
    if connections[queryset.db].vendor != "sqlite":
        return queryset.filter(user_id__isnull=True)
    return queryset.alias(_user=Coalesce("user_id", None)).filter(_user__isnull=True)


def _unsearched(state: ListState, now: datetime) -> models.QuerySet[SessionRecord]:
    """Live sessions matching ``state`` apart from its search text."""
    queryset: models.QuerySet[SessionRecord] = SessionRecord.objects.live(now)
    if state.status == STATUS_AUTHENTICATED:
        queryset = queryset.filter(user_id__isnull=False)
    elif state.status == STATUS_GUEST:
        queryset = _guests(queryset)
    if state.user:
        queryset = queryset.filter(user_id=state.user)
    if state.flag:
        queryset = flags.filter_rows(queryset, state.flag)
    return queryset


def filtered(
    state: ListState,
    now: datetime,
    *,
    reveal_ip: bool = True,
    branches: list[Q] | None = None,
) -> models.QuerySet[SessionRecord]:
    """The live sessions matching ``state``: counts and filter-wide kills.

    ``branches`` are the search's, when the caller computed them already (the user
    lookup behind them scans the user table: once per request is enough).
    """
    queryset = _unsearched(state, now)
    if state.q:
        if branches is None:
            branches = search.branches(state.q, reveal_ip=reveal_ip)
        queryset = queryset.filter(search.any_of(branches))
    return queryset


#: Sorts a page can merge from per-branch results: the same order in Python as in SQL.
_MERGEABLE = (SORT_LAST_SEEN, "expiry")


def _row(record: Any, now: datetime, found: list[Flag], reveal_ip: bool) -> Row:
    user = record.user
    idle_out, lifetime_end = policies.ends(record)
    return Row(
        handle=record.handle,
        short_id=record.short_id,
        user_id=record.user_id,
        username=user.get_username() if user is not None else "",
        full_name=(user.get_full_name() if hasattr(user, "get_full_name") else "")
        if user is not None
        else "",
        ip=record.ip if reveal_ip else privacy.mask_ip(record.ip),
        application=record.application,
        user_agent=record.user_agent,
        browser=describe(record.user_agent),
        expiry=record.expiry,
        expires_in=timeuntil(record.expiry, now, depth=1),
        last_seen=record.last_seen,
        is_current=bool(record.is_current),
        flags=tuple(found),
        ip_masked=not reveal_ip and record.ip is not None,
        is_superuser=user is not None and getattr(user, "is_superuser", False) is True,
        idle_out=idle_out,
        lifetime_end=lifetime_end,
    )


def fetch(
    state: ListState,
    now: datetime,
    own_key: str | None,
    *,
    reveal_ip: bool = True,
    rows: models.QuerySet[SessionRecord] | None = None,
    branches: list[Q] | None = None,
) -> Page:
    """The rows of pages 1..``state.page`` (or, with ``state.after``, of page
    ``state.page`` alone) with their flags, in a fixed number of queries.

    One query for the rows (plus one for a user search, unless ``rows`` was built
    already) and at most four for the flags, whatever the page size or depth.
    """
    if state.error:
        return Page(rows=[], has_more=False, capped=False)
    is_current: Any = (
        ExpressionWrapper(Q(session_key=own_key), output_field=BooleanField())
        if own_key
        else Value(False)
    )
    position = state.after
    if position is not None and len(position) != len(cursor.ORDERS[state.sort]):
        position = None  # a position in another order (the state was changed since)
    limit = state.page_size if position is not None else state.limit

    def prepared(rows: models.QuerySet[SessionRecord]) -> list[SessionRecord]:
        rows = rows.select_related("user").defer("session_key").annotate(is_current=is_current)
        guests = state.status == STATUS_GUEST and state.sort == "user"
        return cursor.page(rows, state.sort, position, limit + 1, only_nulls=guests)

    records: list[Any]
    if state.q and state.sort in _MERGEABLE:
        # Each indexed branch gives its first rows; the page is the best of them.
        base = _unsearched(state, now)
        found_rows: dict[Any, Any] = {}
        if branches is None:
            branches = search.branches(state.q, reveal_ip=reveal_ip)
        for branch in branches:
            for record in prepared(base.filter(branch)):
                found_rows[record.pk] = record
        records = sorted(found_rows.values(), key=cursor.sort_key(state.sort))[: limit + 1]
    else:
        if rows is None:
            rows = filtered(state, now, reveal_ip=reveal_ip)
        records = prepared(rows)
    more = len(records) > limit
    shown = records[:limit]
    found = flags.flags_for(shown)
    page_rows = [_row(r, now, found.get(r.pk, []), reveal_ip) for r in shown]
    at_cap = state.page >= state.last_page
    has_more = more and not at_cap
    return Page(
        rows=page_rows,
        has_more=has_more,
        capped=more and at_cap,
        next_after=cursor.token(shown[-1], state.sort) if has_more else "",
        shown=len(page_rows) + (limit * (state.page - 1) if position is not None else 0),
    )


@dataclass(frozen=True)
class Counts:
    live: int
    #: Whether the caller's own session is among the live ones (Kill All keeps it).
    own_is_live: bool

    @property
    def others(self) -> int:
        return max(0, self.live - int(self.own_is_live))


def counts(now: datetime, own_key: str | None) -> Counts:
    """The live count (cached a few seconds, see :func:`index_writer.live_count`) and one
    unique lookup."""
    live = index_writer.live_count(now)
    own = SessionRecord.objects.filter(session_key=own_key or "", expiry__gt=now)
    return Counts(live=live, own_is_live=own.exists())
