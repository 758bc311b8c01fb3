"""The user branch of a search: which users match the text, and two ways to reach
their sessions (which one a query uses is :mod:`sessions_panel.search`'s choice).

Where the users are found:

- the trigram index (:mod:`sessions_panel.trigram`) for text of three characters or
  more; shorter text scans the panel's one-column copy (:mod:`sessions_panel.usertext`),
  a third of the cost of four ``LIKE`` on the user table;
- the user table itself when there is no index (another database, no FTS5 or
  ``pg_trgm``) or the copy has lost step with the user table (users bulk-created or
  deleted without signals, :func:`sessions_panel.usertext.in_step`): slower, and
  exactly what the search did before the index.

Their sessions: by the users' ids (``seek``: the ``(user, last_seen)`` index, a cost per
matching user, ~8 µs each at 1,000,000 sessions: ~30 ms for "olivia", 3,771 users), or
by testing each session's own user (``walk``: one indexed lookup per session, so a page
in last-seen order stops after a few rows when most users match: "exa", every
``example.com`` address, takes 0.1 ms instead of 0.8 s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Exists, OuterRef, Q

from sessions_panel import trigram, usertext
from sessions_panel.models import UserSearchText


class _Source:
    """One way to find the users whose text contains ``needle`` (lower-cased)."""

    def __init__(self, needle: str) -> None:
        self.needle = needle

    def ids(self, limit: int | None = None) -> models.QuerySet[Any]:
        raise NotImplementedError

    def count(self, bound: int) -> int:
        return int(self.ids(bound).count())

    def test(self) -> Exists:
        """The session's own user matches (one indexed lookup per session)."""
        raise NotImplementedError


class _Copy(_Source):
    """The panel's one-column copy, scanned: text too short for trigrams."""

    def ids(self, limit: int | None = None) -> models.QuerySet[Any]:
        found = UserSearchText.objects.filter(text__contains=self.needle)  # escapes %, _, \
        ids = found.values_list("user_id", flat=True)
        return ids[:limit] if limit else ids

    def test(self) -> Exists:
        return Exists(
            UserSearchText.objects.filter(user_id=OuterRef("user_id"), text__contains=self.needle)
        )


class _Index(_Copy):
    """The copy, through its trigram index."""

    def ids(self, limit: int | None = None) -> models.QuerySet[Any]:
        return trigram.user_ids(self.needle, limit)

    def count(self, bound: int) -> int:
        return trigram.count(self.needle, bound)


class _UserTable(_Source):
    """No index: ``icontains`` on each searched field of the user table."""

    def __init__(self, needle: str, q: str, fields: list[str]) -> None:
        super().__init__(needle)
        condition = Q()
        for name in fields:
            condition |= Q(**{f"{name}__icontains": q})  # escapes %, _ and \
        self.users = get_user_model()._default_manager.filter(condition)

    def ids(self, limit: int | None = None) -> models.QuerySet[Any]:
        ids = self.users.values_list("pk", flat=True)
        return ids[:limit] if limit else ids

    def test(self) -> Exists:
        return Exists(self.users.filter(pk=OuterRef("user_id")))


def _source(q: str) -> _Source | None:
    needle = usertext.normalize(q)
    if trigram.usable() and usertext.in_step():
        if trigram.serves(needle):
            return _Index(needle)
        if usertext.SEPARATOR not in needle:
            return _Copy(needle)
    fields = usertext.search_fields()
    return _UserTable(needle, q, fields) if fields else None


def user_count() -> int:
    """The number of users (cached: a share of it only has to be about right)."""
    return usertext.counts()[0]


@dataclass(frozen=True)
class Found:
    """The sessions of the users matching a text, two ways (see the module's docstring)."""

    #: By their users' ids: the ``(user, last_seen)`` index, per user.
    seek: Q
    #: The same set, tested per session (one indexed lookup each); ``None`` when few match.
    walk: Q | None
    #: The matching users' share of all users (counted up to the caller's bound).
    share: float


def find(q: str, *, limit: int, bound_share: float) -> Found | None:
    """The users matching ``q``; ``None`` when none does.

    Up to ``limit`` users are looked up by id; more, through a subquery, and counted up
    to ``bound_share`` of all users (a bounded count, served by the index).
    """
    source = _source(q)
    if source is None:
        return None
    first = list(source.ids(limit + 1))
    if not first:
        return None
    if len(first) <= limit:
        return Found(seek=Q(user_id__in=first), walk=None, share=0.0)
    total = max(1, user_count())
    matched = source.count(max(limit + 1, math.ceil(total * bound_share)))
    return Found(
        seek=Q(user_id__in=source.ids()),
        walk=Q(source.test(), user_id__isnull=False),
        share=matched / total,
    )
