"""Search that stays indexed at a million sessions.

One ``WHERE a OR b OR c`` over different columns, with ``ORDER BY last_seen LIMIT 50``,
makes the planner walk the whole last-seen index when little matches (3 s for no match
at 1,000,000 rows). So each way of matching is its own indexed *branch*:

- users first (username, email, names), then their sessions by ``user_id``;
- the IP as a prefix: a range on the text column (SQLite), or inet ranges
  (PostgreSQL), never ``LIKE``;
- the short session ID as a prefix (a range on its index);
- applications: the few distinct names are matched in Python (cached a minute), then
  looked up by equality.

A page takes the first rows of each branch and merges them; counts and filter-wide
kills use the branches OR-ed together, which every database can serve from indexes.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.core.exceptions import FieldDoesNotExist
from django.db import connections, models, router
from django.db.models import Q

from sessions_panel import privacy
from sessions_panel.models import SHORT_ID_LENGTH, SessionRecord
from sessions_panel.records import APPLICATIONS_KEY

#: More matching users than this: match their sessions through one subquery instead.
USER_MATCH_LIMIT = 500
APPLICATIONS_TTL = 60

IP_PREFIX = re.compile(r"[0-9a-f.:]+")
SHORT_ID_PREFIX = re.compile(rf"[0-9a-f]{{1,{SHORT_ID_LENGTH}}}")
_IPV4_PREFIX = re.compile(r"(\d{1,3}\.){0,3}\d{0,3}")
# Above every character an IP address or short ID contains: the end of a prefix range.
_AFTER = "~"


def user_search_fields() -> list[str]:
    """Text fields of the user model worth searching (custom models may lack some)."""
    user_model = get_user_model()
    names = [
        user_model.USERNAME_FIELD,
        user_model.get_email_field_name(),
        "first_name",
        "last_name",
    ]
    fields: list[str] = []
    for name in dict.fromkeys(names):
        try:
            field = user_model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if isinstance(field, models.CharField | models.TextField):
            fields.append(name)
    return fields


def _users(q: str) -> Q | None:
    """Sessions of the users matching ``q``; ``icontains`` escapes ``%``, ``_``, ``\\``."""
    fields = user_search_fields()
    if not fields:
        return None
    condition = Q()
    for name in fields:
        condition |= Q(**{f"{name}__icontains": q})
    users = get_user_model()._default_manager.filter(condition)
    ids = list(users.values_list("pk", flat=True)[: USER_MATCH_LIMIT + 1])
    if not ids:
        return None
    if len(ids) > USER_MATCH_LIMIT:
        return Q(user_id__in=users.values("pk"))
    return Q(user_id__in=ids)


def application_names() -> list[str]:
    """The distinct application names (cached: there are few, and they rarely change)."""
    cache = caches["default"]
    try:
        names = cache.get(APPLICATIONS_KEY)
    except Exception:
        names = None
    if not isinstance(names, list):
        names = sorted(
            SessionRecord.objects.exclude(application="")
            .values_list("application", flat=True)
            .distinct()
        )
        with contextlib.suppress(Exception):
            cache.set(APPLICATIONS_KEY, names, APPLICATIONS_TTL)
    return names


def _applications(q: str) -> Q | None:
    needle = q.casefold()
    names = [name for name in application_names() if needle in name.casefold()]
    return Q(application__in=names) if names else None


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


def _ip(needle: str) -> Q | None:
    vendor = connections[router.db_for_read(SessionRecord)].vendor
    if vendor != "postgresql":  # text column: a prefix is a range on the index
        return Q(ip__gte=needle, ip__lt=needle + _AFTER)
    ranges = _ipv4_ranges(needle)
    if ranges is None:
        return Q(ip__startswith=needle)  # IPv6 text prefixes: no inet range to use
    condition = Q()
    for low, high in ranges:
        condition |= Q(ip__gte=low, ip__lte=high)
    if "." not in needle:  # "2" also starts "2001:db8::1": IPv6 has no ranges to use
        condition |= Q(ip__startswith=needle, ip__contains=":")
    return condition


_ADDRESS_LIKE = re.compile(r"(?=.*\.)[0-9.]+|(?=.*:)[0-9a-f:]+")


def branches(q: str, *, reveal_ip: bool = True) -> list[Q]:
    """The indexed ways ``q`` can match a session; empty when nothing can.

    Text that can only be an address (digits and dots, or hex digits and colons) is not
    looked up among users: that scan of the user table is the slowest part of a search.
    Without ``reveal_ip``, an IP prefix longer than the masked value shows matches no
    address: otherwise the search would be an oracle for the hidden part.
    """
    needle = q.lower()
    users = None if _ADDRESS_LIKE.fullmatch(needle) else _users(q)
    found = [users, _applications(q)]
    # Without "." or ":", text is an address prefix only up to 4 characters ("2001");
    # a longer hex string is a session ID, and HOST(ip) LIKE would scan on PostgreSQL.
    addressy = "." in needle or ":" in needle or len(needle) <= 4
    if (
        addressy
        and IP_PREFIX.fullmatch(needle)
        and (reveal_ip or privacy.prefix_is_visible(needle))
    ):
        found.append(_ip(needle))
    if SHORT_ID_PREFIX.fullmatch(needle):
        found.append(Q(short_id__gte=needle, short_id__lt=needle + _AFTER))
    return [branch for branch in found if branch is not None]


def any_of(found: list[Q]) -> Q:
    """Branches OR-ed: the whole set of matches (counts, kills); nothing when empty."""
    result = Q(pk__in=[])
    for branch in found:
        result |= branch
    return result


def condition(q: str, *, reveal_ip: bool = True) -> Q:
    return any_of(branches(q, reveal_ip=reveal_ip))
