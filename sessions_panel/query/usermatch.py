"""The user branch of a search: which users match the text, and two ways to reach
their sessions (which one a query uses is :mod:`sessions_panel.query.search`'s choice).

What matches: every word of the text (split at whitespace) is in one of the user's
searched fields (:func:`sessions_panel.query.usertext.search_fields`: the ``USERNAME_FIELD``,
the email, first and last name, those the model has), as the admin's own
``search_fields`` work. So a full name, "alice martin", finds Alice Martin although
first and last name are kept apart; a single word is a plain substring of one field.

Where the users are found:

- the trigram index (:mod:`sessions_panel.query.trigram`) for words of three characters or
  more (shorter words of the same text are tested on the rows it finds); shorter text
  scans the panel's one-column copy (:mod:`sessions_panel.query.usertext`),
  a third of the cost of four ``LIKE`` on the user table;
- the user table itself when there is no index (another database, no FTS5 or
  ``pg_trgm``) or the copy has lost step with the user table (users bulk-created or
  deleted without signals, :func:`sessions_panel.query.usertext.in_step`): slower, and
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

from sessions_panel.models import UserSearchText
from sessions_panel.query import trigram, usertext


class _Source:
    """One way to find the users whose text contains every one of ``words``
    (lower-cased, no whitespace)."""

    def __init__(self, words: list[str]) -> None:
        self.words = words

    def ids(self, limit: int | None = None) -> models.QuerySet[Any]:
        raise NotImplementedError

    def count(self, bound: int) -> int:
        return int(self.ids(bound).count())

    def test(self) -> Exists:
        """The session's own user matches (one indexed lookup per session)."""
        raise NotImplementedError


def _containing(words: list[str]) -> Q:
    condition = Q()
    for word in words:
        condition &= Q(text__contains=word)  # escapes %, _ and \
    return condition


class _Copy(_Source):
    """The panel's one-column copy, scanned: text too short for trigrams."""

    def ids(self, limit: int | None = None) -> models.QuerySet[Any]:
        found = UserSearchText.objects.filter(_containing(self.words))
        ids = found.values_list("user_id", flat=True)
        return ids[:limit] if limit else ids

    def test(self) -> Exists:
        return Exists(
            UserSearchText.objects.filter(_containing(self.words), user_id=OuterRef("user_id"))
        )


class _Index(_Copy):
    """The copy, through its trigram index: the words it can serve (three characters or
    more) there, any shorter ones checked on the rows it finds."""

    def __init__(self, words: list[str]) -> None:
        super().__init__(words)
        self.indexed = [word for word in words if trigram.serves(word)]
        self.rest = [word for word in words if not trigram.serves(word)]

    def ids(self, limit: int | None = None) -> models.QuerySet[Any]:
        if not self.rest:
            return trigram.user_ids(self.indexed, limit)
        # The limit after the short words' test: inside the index lookup it would cut
        # rows that test then drops.
        ids = trigram.user_ids(self.indexed).filter(_containing(self.rest))
        return ids[:limit] if limit else ids

    def count(self, bound: int) -> int:
        if not self.rest:
            return trigram.count(self.indexed, bound)
        return super().count(bound)


class _UserTable(_Source):
    """No index: ``icontains`` on the searched fields of the user table, every word in
    one field or another (as the admin's own ``search_fields`` do)."""

    def __init__(self, words: list[str], fields: list[str]) -> None:
        super().__init__(words)
        condition = Q()
        for word in words:
            in_any = Q()
            for name in fields:
                in_any |= Q(**{f"{name}__icontains": word})  # escapes %, _ and \
            condition &= in_any
        self.users = get_user_model()._default_manager.filter(condition)

    def ids(self, limit: int | None = None) -> models.QuerySet[Any]:
        ids = self.users.values_list("pk", flat=True)
        return ids[:limit] if limit else ids

    def test(self) -> Exists:
        return Exists(self.users.filter(pk=OuterRef("user_id")))


def words(q: str) -> list[str]:
    """The words of a search text, lower-cased: a user matches when each is in one of
    their searched fields, so "alice martin" finds Alice Martin (first and last name are
    two fields). A word inside another one ("ali" in "alice") says nothing more."""
    found = list(dict.fromkeys(usertext.normalize(q).split()))
    return [w for w in found if not any(w != other and w in other for other in found)]


def _source(q: str) -> _Source | None:
    found = words(q)
    if not found:
        return None
    if trigram.usable() and usertext.in_step():
        if any(trigram.serves(word) for word in found):
            return _Index(found)
        return _Copy(found)
    fields = usertext.search_fields()
    return _UserTable(found, fields) if fields else None


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
