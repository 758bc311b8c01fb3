"""Where "load more" resumes: a keyset position in one of the page's orders.

An offset grows with the depth of the list (rows 1..N fetched and rendered again for
page N); a position does not: "rows after (last seen, id)" is a seek on the same index
that serves page 1. The position travels as an opaque token in the URL; it carries only
the sort values of the last row shown (times, ids, an address the viewer was shown),
never a session key.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import F, Field, Q, QuerySet, Subquery

from sessions_panel.models import SessionRecord


@dataclass(frozen=True)
class Key:
    """One column of an order."""

    field: str
    descending: bool = False
    #: NULLs come after every value (the order a person expects from "guests last").
    nulls_last: bool = False


#: Each order ends on the primary key, so ties never swap places between refreshes.
ORDERS: Mapping[str, tuple[Key, ...]] = {
    "last_seen": (Key("last_seen", descending=True), Key("id", descending=True)),
    "expiry": (Key("expiry"), Key("id")),
    # Grouped by account (the (user, last_seen) index), guests last.
    "user": (
        Key("user_id", nulls_last=True),
        Key("last_seen", descending=True),
        Key("id", descending=True),
    ),
    # Within one address, soonest expiry first: the (ip, expiry) index gives the whole
    # order, the many rows without an address too (all of them with IP_STORAGE "none").
    "ip": (Key("ip", nulls_last=True), Key("expiry"), Key("id")),
}

#: Rows a page query asks for at least. SQLite's planner weighs the LIMIT: below about
#: ten rows it prefers the expiry index and sorts every live row (2.4 s at 1,000,000)
#: over walking the sort's index; a few rows more cost nothing.
MIN_FETCH = 25

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIMES = ("last_seen", "expiry")
#: Times a token may hold, in microseconds since the epoch (see :func:`_decode_time`).
_TIME_RANGE = (
    (datetime.min.replace(tzinfo=UTC) + timedelta(days=1) - _EPOCH) // timedelta(microseconds=1),
    (datetime.max.replace(tzinfo=UTC) - timedelta(days=1) - _EPOCH) // timedelta(microseconds=1),
)
#: Integer keys a token may hold: a signed 64-bit column's (SessionRecord's is one).
_ID_RANGE = (-(2**63), 2**63 - 1)
#: A token longer than this is not one of ours (the longest is an IPv6 address and ids).
MAX_TOKEN_LENGTH = 400


def order_by(sort: str) -> tuple[Any, ...]:
    """``ORDER BY`` expressions of ``sort``, for ``QuerySet.order_by``."""
    return _order_by(ORDERS[sort])


def _order_by(keys: Sequence[Key]) -> tuple[Any, ...]:
    expressions = []
    for key in keys:
        column = F(key.field)
        if key.descending:
            expressions.append(column.desc(nulls_last=True) if key.nulls_last else column.desc())
        else:
            expressions.append(column.asc(nulls_last=True) if key.nulls_last else column.asc())
    return tuple(expressions)


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        # Whole microseconds since the epoch: exact, unlike a float timestamp.
        return {"t": (value - _EPOCH) // timedelta(microseconds=1)}
    if value is None or isinstance(value, int | str):
        return value
    return str(value)  # a UUID or other primary key: its text form filters the same


class _Invalid(ValueError):
    """A token value that is not what ``token`` writes for its column."""


def _decode_time(value: Any) -> datetime:
    """Whole microseconds since the epoch, inside ``_TIME_RANGE``.

    The range keeps a day clear of ``datetime.min`` and ``datetime.max``: a backend that
    shifts the value into its connection's time zone must not overflow.
    """
    if not isinstance(value, dict) or set(value) != {"t"}:
        raise _Invalid("not a time")
    micros = value["t"]
    if not isinstance(micros, int) or isinstance(micros, bool):
        raise _Invalid("not a time")
    if not _TIME_RANGE[0] <= micros <= _TIME_RANGE[1]:
        raise _Invalid("a time out of range")
    return _EPOCH + timedelta(microseconds=micros)


def _decode_address(value: Any) -> str:
    """A plain address: not a network, not a zoned IPv6 address (``fe80::1%eth0``),
    neither of which the database's ``inet`` type or Django's adapter accepts.

    The text goes on as written: it is the stored form the token was made from (SQLite
    compares addresses as text), and Django prepares it for the query as it does any.
    """
    if not isinstance(value, str):
        raise _Invalid("not an address")
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise _Invalid("not an address") from None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        raise _Invalid("a zoned address")
    return value


def _decode_id(field_name: str, value: Any) -> Any:
    """A primary key (the row's, or the user's in ``user_id``) of the column's type.

    The value must be what :func:`token` writes for that type: an integer in 64 bits for
    an integer key, the text form of any other key (a UUID's canonical text, say), so
    ``"1.5"``, ``"abc"`` or thirty digits never reach an integer column, where the
    driver would raise instead of filtering.
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _Invalid("not a key")
    if isinstance(value, int) and not _ID_RANGE[0] <= value <= _ID_RANGE[1]:
        raise _Invalid("a key out of range")
    if isinstance(value, str) and not _is_plain_text(value):
        raise _Invalid("not a key")
    field = SessionRecord._meta.get_field(field_name)
    assert isinstance(field, Field)  # "id" or "user_id": a column, not a relation
    try:
        parsed = field.to_python(value)
    except (ValidationError, TypeError, ValueError, OverflowError):
        raise _Invalid("not a key") from None
    if isinstance(parsed, bool) or _encode_value(parsed) != value:
        raise _Invalid("not a key of this type")  # e.g. "7" for an integer key
    return parsed


def _is_plain_text(value: str) -> bool:
    """No NUL (PostgreSQL refuses it in text) and nothing UTF-8 cannot encode (a lone
    surrogate from a ``\\ud800`` escape), which the driver would raise on."""
    if "\x00" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _decode_value(key: Key, value: Any) -> Any:
    """The Python value of ``key``'s column that a token holds; :class:`_Invalid` when it
    is not one that column can hold."""
    if value is None:
        if not key.nulls_last:
            raise _Invalid("NULL in a column without NULLs")
        return None
    if key.field in _TIMES:
        return _decode_time(value)
    if key.field == "ip":
        return _decode_address(value)
    return _decode_id(key.field, value)


def token(record: Any, sort: str) -> str:
    """The position just after ``record`` in ``sort`` order."""
    values = [_encode_value(getattr(record, key.field)) for key in ORDERS[sort]]
    text = json.dumps(values, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def parse(text: str, sort: str) -> tuple[Any, ...] | None:
    """The sort values a token holds, or ``None`` when it is not a token of ``sort``.

    The token comes from the URL, so anyone can edit it: every value is checked against
    its column (type and range) here, because a value the column cannot hold does not
    filter to nothing, it raises in the driver (a 500). ``None`` shows the list from
    the top again.
    """
    if not text or len(text) > MAX_TOKEN_LENGTH:
        return None
    keys = ORDERS[sort]
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):  # JSON and UTF-8 errors included
        return None
    if not isinstance(values, list) or len(values) != len(keys):
        return None
    try:
        return tuple(_decode_value(key, value) for key, value in zip(keys, values, strict=True))
    except _Invalid:
        return None


def _never() -> Q:
    return Q(pk__in=[])


def _equal(key: Key, value: Any) -> Q:
    return Q(**{f"{key.field}__isnull": True}) if value is None else Q(**{key.field: value})


def _beyond(key: Key, value: Any) -> Q:
    """Rows strictly after ``value`` in this column's order."""
    if value is None:
        return _never()  # NULLs come last: nothing is after them in this column
    strictly = Q(**{f"{key.field}__{'lt' if key.descending else 'gt'}": value})
    return strictly | Q(**{f"{key.field}__isnull": True}) if key.nulls_last else strictly


def after(sort: str, values: Sequence[Any]) -> Q:
    """Rows after the position ``values`` in ``sort`` order.

    The first column's range comes first and alone (``last_seen <= x AND (...)``), so the
    database seeks the index to the position instead of filtering from its start.
    """
    keys = ORDERS[sort]
    condition = _never()
    for depth, (key, value) in enumerate(zip(keys, values, strict=True)):
        branch = _beyond(key, value)
        for earlier, earlier_value in zip(keys[:depth], values[:depth], strict=True):
            branch &= _equal(earlier, earlier_value)
        condition |= branch
    first, value = keys[0], values[0]
    if value is None:
        seek = Q(**{f"{first.field}__isnull": True})
    else:
        seek = Q(**{f"{first.field}__{'lte' if first.descending else 'gte'}": value})
        if first.nulls_last:
            seek |= Q(**{f"{first.field}__isnull": True})
    return seek & condition


def page(
    queryset: QuerySet[SessionRecord],
    sort: str,
    position: Sequence[Any] | None,
    limit: int,
    *,
    only_nulls: bool = False,
) -> list[SessionRecord]:
    """The first ``limit`` rows of ``queryset`` in ``sort`` order, after ``position``.

    An order whose first column puts NULLs last (user, IP) is read in two parts, the
    rows with a value and then those without, each in plain index order: SQLite cannot
    walk an index for ``NULLS LAST``, and without statistics it prefers the expiry
    index and sorts every live row (2.4 s at 1,000,000). The first part is bounded by
    the column's smallest value (a subquery) or the position's, which makes it a range
    the planner takes the column's index for. ``only_nulls``: the caller's filter
    leaves no row with a value in that column (guests sorted by user), so skip the
    first part, which would walk the column's index to find nothing.
    """
    keys = ORDERS[sort]
    if position is not None:
        queryset = queryset.filter(after(sort, position))
    wanted, limit = limit, max(limit, MIN_FETCH)
    first = keys[0]
    if not first.nulls_last:
        return list(queryset.order_by(*_order_by(keys))[:limit])[:wanted]
    plain = (Key(first.field, first.descending), *keys[1:])
    found: list[SessionRecord] = []
    if not only_nulls and (position is None or position[0] is not None):
        start: Any = (
            position[0]
            if position is not None
            else Subquery(
                SessionRecord.objects.filter(**{f"{first.field}__isnull": False})
                .order_by(first.field)
                .values(first.field)[:1]
            )
        )
        with_value = queryset.filter(**{f"{first.field}__gte": start})
        found = list(with_value.order_by(*_order_by(plain))[:limit])
    if len(found) < limit:
        without = queryset.filter(**{f"{first.field}__isnull": True})
        found += list(without.order_by(*_order_by(keys[1:]))[: limit - len(found)])
    return found[:wanted]


def sort_key(sort: str) -> Any:
    """A Python key giving ``sort`` order to records (to merge per-branch results)."""
    keys = ORDERS[sort]

    def key(record: SessionRecord) -> tuple[Any, ...]:
        parts: list[Any] = []
        for column in keys:
            value = getattr(record, column.field)
            if value is None:
                parts.append((1, 0))
                continue
            number: Any = value.timestamp() if isinstance(value, datetime) else value
            if column.descending:
                number = -number
            parts.append((0, number))
        return tuple(parts)

    return key
