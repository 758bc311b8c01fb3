"""Search that stays indexed at a million sessions.

One ``WHERE a OR b OR c`` over different columns, with ``ORDER BY last_seen LIMIT 50``,
makes the planner walk the whole last-seen index when little matches (3 s for no match
at 1,000,000 rows). So each way of matching is its own indexed *branch*:

- users first (the login field, email, names: a trigram index; every word of the text
  in one of them, so a full name finds its user), then their sessions by ``user_id``
  (:mod:`sessions_panel.query.usermatch`);
- the IP as a prefix: a range on the text column (SQLite), or inet ranges
  (PostgreSQL), never ``LIKE`` (but to walk, below);
- the short session ID as a prefix (a range on its index);
- applications: the few distinct names are matched in Python (cached a minute), then
  each looked up by equality on the ``(application, last_seen)`` index.

A page takes the first rows of each branch and merges them; counts and filter-wide
kills use the branches OR-ed together (:func:`any_of`), which every database can serve
from indexes.

The opposite trap: a branch that matches a large share of all sessions ("2": a third
of all addresses; "e": one short ID in sixteen; "exa": every user) is slow as an index
range, every match read and sorted (2.3 s for "2"), where walking the last-seen index
finds a page in a few rows. Such a branch is fetched for the page as a per-row test
(:data:`WALK_SHARE`); counts, which want more rows in no order, keep the range unless
the share is larger still (:data:`COUNT_WALK_SHARE`). :class:`Branches` carries both.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterable

from django.core.cache import caches
from django.db import connections, router
from django.db.models import Q

from sessions_panel.models import SHORT_ID_LENGTH, SessionRecord
from sessions_panel.query import privacy, usermatch, usertext
from sessions_panel.tracking import index_writer
from sessions_panel.tracking.index_writer import APPLICATIONS_KEY

#: More matching users than this: match their sessions through one subquery instead.
USER_MATCH_LIMIT = 500
#: A branch matching at least this share of the rows is fetched for a page by walking
#: the last-seen index (~51 / share rows read) rather than reading and sorting them all.
WALK_SHARE = 0.01
#: The same for counts and kills, which want up to 1,001 rows (the preview's cap).
COUNT_WALK_SHARE = 0.2
APPLICATIONS_TTL = 60

IP_PREFIX = re.compile(r"[0-9a-f.:]+")
SHORT_ID_PREFIX = re.compile(rf"[0-9a-f]{{1,{SHORT_ID_LENGTH}}}")
_IPV4_PREFIX = re.compile(r"(\d{1,3}\.){0,3}\d{0,3}")
# Above every character an IP address or short ID contains: the end of a prefix range.
_AFTER = "~"


def user_search_fields() -> list[str]:
    """Text fields of the user model worth searching (custom models may lack some)."""
    return usertext.search_fields()


def application_names() -> list[str]:
    """The distinct application names (cached: there are few, and they rarely change)."""
    cache = caches["default"]
    try:
        names = cache.get(APPLICATIONS_KEY)
    except Exception:
        names = None
    if isinstance(names, list):
        return [str(name) for name in names]
    found = _distinct_applications()
    with contextlib.suppress(Exception):
        cache.set(APPLICATIONS_KEY, found, APPLICATIONS_TTL)
    return found


def _distinct_applications() -> list[str]:
    """The names, one index seek each: ``SELECT DISTINCT`` reads the whole
    ``(application, ...)`` index (70 ms at 1,000,000 rows) to find a handful of names."""
    alias = router.db_for_read(SessionRecord)
    connection = connections[alias]
    if connection.vendor not in ("sqlite", "postgresql"):
        return sorted(
            SessionRecord.objects.using(alias)
            .exclude(application="")
            .values_list("application", flat=True)
            .distinct()
        )
    table = connection.ops.quote_name(SessionRecord._meta.db_table)
    column = connection.ops.quote_name("application")
    sql = (
        f"WITH RECURSIVE names(name) AS ("
        f" SELECT MIN({column}) FROM {table} WHERE {column} > %s"
        f" UNION ALL"
        f" SELECT (SELECT MIN({column}) FROM {table} WHERE {column} > names.name)"
        f" FROM names WHERE names.name IS NOT NULL"
        f") SELECT name FROM names WHERE name IS NOT NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [""])
        return sorted(str(row[0]) for row in cursor.fetchall())


def _applications(q: str) -> list[Q]:
    """One branch per matching name: each is then a walk of the ``(application,
    last_seen)`` index in page order, where ``IN`` of several names sorted all their
    rows (1.7 s for "a" at 1,000,000 sessions)."""
    needle = q.casefold()
    return [Q(application=name) for name in application_names() if needle in name.casefold()]


def _ipv4_ranges(prefix: str) -> list[tuple[str, str]] | None:
    """Address ranges whose dotted text starts with ``prefix`` (``None``: not IPv4-like)."""
    if not _IPV4_PREFIX.fullmatch(prefix) or not prefix:
        return None
    parts = prefix.split(".")
    done, last = parts[:-1], parts[-1]
    if any(int(p) > 255 for p in done) or len(parts) > 4:
        return None
    if last == "":
        values = [(0, 255)] if len(parts) <= 4 else []
    else:
        matching = [v for v in range(256) if str(v).startswith(last)]
        values = _runs(matching)
    ranges = []
    for low, high in values:
        fill = 4 - len(parts)
        ranges.append(
            (
                ".".join([*done, str(low), *["0"] * fill]),
                ".".join([*done, str(high), *["255"] * fill]),
            )
        )
    return ranges


def _runs(values: Iterable[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for value in values:
        if runs and runs[-1][1] == value - 1:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    return runs


def _ipv6_ranges(prefix: str) -> list[tuple[str, str]] | None:
    """IPv6 addresses whose text starts with a bare hex ``prefix`` ("2001", "fe"), as
    ranges of their first group (``None``: not such a prefix). Groups are written
    without leading zeros: "fe" is the group fe, fe0–fef or fe00–feff."""
    if not re.fullmatch(r"[1-9a-f][0-9a-f]{0,3}", prefix):
        return None  # "0…" would be written "::…"; with a colon, compression gets in the way
    value, ranges = int(prefix, 16), []
    for extra in range(5 - len(prefix)):
        low, high = value << (4 * extra), ((value + 1) << (4 * extra)) - 1
        ranges.append((f"{low:x}::", f"{high:x}:" + ":".join(["ffff"] * 7)))
    return ranges


def _ip(needle: str) -> Q:
    vendor = connections[router.db_for_read(SessionRecord)].vendor
    if vendor != "postgresql":  # text column: a prefix is a range on the index
        return Q(ip__gte=needle, ip__lt=needle + _AFTER)
    v4, v6 = _ipv4_ranges(needle), _ipv6_ranges(needle)
    if v4 is None and v6 is None:
        return Q(ip__startswith=needle)  # other IPv6 text prefixes: no inet range to use
    condition = Q(pk__in=[])
    for low, high in [*(v4 or []), *(v6 or [])]:
        condition |= Q(ip__gte=low, ip__lte=high)
    if v6 is None and "." not in needle:  # "0…": IPv6 has no ranges to use
        condition |= Q(ip__startswith=needle, ip__contains=":")
    return condition


_ADDRESS_LIKE = re.compile(r"(?=.*\.)[0-9.]+|(?=.*:)[0-9a-f:]+")


class Branches(list[Q]):
    """The branches as a page fetches them (each in last-seen order, its first rows),
    and in ``counting`` the same sets as conditions for counts and kills."""

    def __init__(self, pairs: Iterable[tuple[Q, Q]] = ()) -> None:
        both = list(pairs)
        super().__init__(page for page, _ in both)
        self.counting = [counting for _, counting in both]


def _pair(seek: Q, walk: Q | None, share: float) -> tuple[Q, Q]:
    """The page's and the count's form of one branch that matches ``share`` of the rows.

    A walk reads about ``rows wanted / share`` rows: the page's 51 at
    :data:`WALK_SHARE` or more, a capped count's 1,001 at :data:`COUNT_WALK_SHARE`.
    """
    if walk is None:
        return seek, seek
    return (
        walk if share >= WALK_SHARE else seek,
        walk if share >= COUNT_WALK_SHARE else seek,
    )


def _share_of(condition: Q, alias: str) -> float:
    """The share of live rows ``condition`` matches, counted up to :data:`WALK_SHARE`
    (no further: the count reads the index that serves ``condition``)."""
    live = max(1, index_writer.live_count())
    bound = math.ceil(live * WALK_SHARE)
    return SessionRecord.objects.using(alias).filter(condition)[:bound].count() / live


def _ip_pair(needle: str) -> tuple[Q, Q]:
    """The IP branch. On SQLite a prefix may match a large share of all addresses: a
    digit or two ("2": a third), and a network's prefix too ("2a01:cb00:", one
    operator's customers: 6 % in the bench, where reading and sorting them took 189 ms
    at 1,000,000). Then the page walks (``LIKE``, which SQLite's case-insensitive
    ``LIKE`` cannot serve from a plain index). PostgreSQL's planner weighs its inet
    ranges itself."""
    found = _ip(needle)
    alias = router.db_for_read(SessionRecord)
    if connections[alias].vendor != "sqlite":
        return found, found
    return _pair(found, Q(ip__startswith=needle), _share_of(found, alias))


def branches(q: str, *, reveal_ip: bool = True) -> Branches:
    """The indexed ways ``q`` can match a session; empty when nothing can.

    Text that can only be an address (digits and dots, or hex digits and colons) is not
    looked up among users: without a trigram index, that is a scan of the user table.
    Without ``reveal_ip``, an IP prefix longer than the masked value shows matches no
    address: otherwise the search would be an oracle for the hidden part.
    """
    needle = q.lower()
    found: list[tuple[Q, Q] | None] = []
    if not _ADDRESS_LIKE.fullmatch(needle):
        users = usermatch.find(q, limit=USER_MATCH_LIMIT, bound_share=COUNT_WALK_SHARE)
        if users is not None:
            found.append(_pair(users.seek, users.walk, users.share))
    found.extend((name, name) for name in _applications(q))
    # Without "." or ":", text is an address prefix only up to 4 characters ("2001");
    # a longer hex string is a session ID, and HOST(ip) LIKE would scan on PostgreSQL.
    addressy = "." in needle or ":" in needle or len(needle) <= 4
    if (
        addressy
        and IP_PREFIX.fullmatch(needle)
        and (reveal_ip or privacy.prefix_is_visible(needle))
    ):
        found.append(_ip_pair(needle))
    if SHORT_ID_PREFIX.fullmatch(needle):
        # Short IDs are uniform hex: a prefix of n characters matches 16**-n of them.
        short = Q(short_id__gte=needle, short_id__lt=needle + _AFTER)
        found.append(_pair(short, Q(short_id__startswith=needle), 16.0 ** -len(needle)))
    return Branches(pair for pair in found if pair is not None)


def any_of(found: list[Q]) -> Q:
    """Branches OR-ed: the whole set of matches (counts, kills); nothing when empty."""
    result = Q(pk__in=[])
    for branch in getattr(found, "counting", found):
        result |= branch
    return result


def condition(q: str, *, reveal_ip: bool = True) -> Q:
    return any_of(branches(q, reveal_ip=reveal_ip))
